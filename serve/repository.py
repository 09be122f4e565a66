"""Which models a service serves: one .onnx file, or every model of a Triton model
repository (the layout `python -m export RUN_DIR --triton-repo DIR` writes):

    DIR/NAME/config.pbtxt        Triton's configuration (serve does not need it)
    DIR/NAME/1/model.onnx        version 1; the highest version directory is served

As in Triton, a version directory is named by a positive integer in ASCII digits without a
leading zero; any other directory ("latest", "01", "²", whose str.isdigit() is True) is
ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from serve import contract
from serve.config import NAME, ServiceConfig
from serve.models import Loader, ServedModel
from serve.policy import OnnxPolicy, PolicyLoadError

MODEL_FILE = contract.TRITON["model_file"]
VERSION = re.compile(r"[1-9][0-9]*")  # ASCII only: int() also reads "٣"; Triton ignores "01"


def load_models(config: ServiceConfig, loaded: OnnxPolicy | None = None
                ) -> dict[str, ServedModel]:
    """The models `config` names, by name, each loaded and checked (PolicyLoadError, one
    line, otherwise). `loaded` is `config.policy` already loaded."""
    load = loader(config, loaded)
    if config.policy is not None:
        path = Path(config.policy)
        name = config.model_name or path.stem
        return {name: ServedModel(name, lambda: path, load, loaded)}
    assert config.repository is not None  # ServiceConfig holds a policy or a repository
    root = Path(config.repository)
    if not root.is_dir():
        raise PolicyLoadError(f"{root} is not a directory; expected a Triton model repository "
                              f"(DIR/NAME/1/{MODEL_FILE})")
    names = sorted(d.name for d in root.iterdir()
                   if d.is_dir() and NAME.fullmatch(d.name) and _versions(d))
    if not names:
        raise PolicyLoadError(f"{root} holds no model: expected DIR/NAME/<version>/"
                              f"{MODEL_FILE} (python -m export RUN_DIR --triton-repo DIR)")
    return {name: ServedModel(name, newest(root / name), load) for name in names}


def newest(model_dir: Path) -> Callable[[], Path]:
    """A function giving the model file of the highest version in `model_dir`."""
    def locate() -> Path:
        versions = _versions(model_dir)
        if not versions:
            raise PolicyLoadError(f"{model_dir} has no version directory with {MODEL_FILE}")
        return model_dir / str(max(versions)) / MODEL_FILE

    return locate


def loader(config: ServiceConfig, loaded: OnnxPolicy | None) -> Loader:
    """How every file of the service is loaded: the config's options, or those `loaded` was
    loaded with (an .onnx without keras_pg metadata keeps its shape and action type)."""
    shape, action_type = config.observation_shape, config.action_type
    if (loaded is not None and contract.CONTRACT_VERSION_KEY not in loaded.metadata
            and shape is None):
        shape = loaded.observation_shape
        action_type = contract.ACTION_TYPE_OF_SPACE[loaded.action_space["type"]]

    def load(path: Path) -> OnnxPolicy:
        return OnnxPolicy(path, seed=config.seed, intra_op_threads=config.intra_op_threads,
                          observation_shape=shape, action_type=action_type)

    return load


def _versions(model_dir: Path) -> list[int]:
    """The versions in `model_dir` that hold a model file."""
    return [int(d.name) for d in model_dir.iterdir()
            if VERSION.fullmatch(d.name) and (d / MODEL_FILE).is_file()]
