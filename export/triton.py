"""A Triton Inference Server model repository holding one exported policy:

    DIR/NAME/config.pbtxt    serve/triton_config.py's ModelConfig: platform onnxruntime_onnx,
                             max_batch_size, the contract's input and outputs (datatypes,
                             dims without the batch), dynamic batching, one CPU instance
    DIR/NAME/1/model.onnx    the verified policy, keras_pg's metadata kept in it

Triton (and `python -m serve --model-repository DIR`) serve it as model NAME, with the same
shapes: a tensor whose only dimension is the batch travels as [batch, 1] (contract.wire_shape).

No TensorFlow here: serve reads the file's graph; export.cli converts a run directory first.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from export.errors import ExportError
from serve import OnnxPolicy, PolicyLoadError, contract
from serve.config import ServiceConfig, check_name
from serve.tensors import signature
from serve.triton_config import model_config, to_pbtxt

MODEL_FILE = contract.TRITON["model_file"]
CONFIG_FILE = contract.TRITON["config_file"]
VERSION = "1"
MAX_BATCH_SIZE = ServiceConfig.max_batch  # the same bound as python -m serve's --max-batch


def model_path(repository: Path, name: str) -> Path:
    """Where the model file of `name` goes: DIR/NAME/1/model.onnx."""
    return Path(repository) / name / VERSION / MODEL_FILE


def check_repository(repository: Path, name: str) -> None:
    """Fail before any work unless `name` is a valid model name and DIR is (or can be made)
    a writable directory."""
    try:
        check_name(name, "--model-name")
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    existing = Path(repository)
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write the Triton repository {repository}: {existing} is not "
                          "a writable directory")


def write_config(repository: Path, name: str, max_batch_size: int = MAX_BATCH_SIZE) -> Path:
    """Write DIR/NAME/config.pbtxt for the model file already at `model_path` (checked with
    serve.OnnxPolicy: a keras_pg policy, or ExportError)."""
    path = model_path(repository, name)
    try:
        policy = OnnxPolicy(path)
    except PolicyLoadError as exc:
        raise ExportError(str(exc)) from None
    about = (f"keras_pg {policy.kind} policy for "
             f"{policy.metadata.get(contract.ENV_ID_KEY)}, contract "
             f"{policy.metadata.get(contract.CONTRACT_VERSION_KEY)}; its metadata is in "
             f"{VERSION}/{MODEL_FILE}"
             + ("" if policy.state_size is None else
                f"; recurrent: the client sends input {contract.STATE} and gets output "
                f"{contract.NEXT_STATE} back at each step (no sequence batcher)"))
    text = to_pbtxt(model_config(name, signature(policy.session), max_batch_size), about)
    config = Path(repository) / name / CONFIG_FILE
    _atomic_write(config, text.encode())
    return config


def package(model_file: Path, repository: Path, name: str) -> tuple[Path, Path]:
    """Copy an exported .onnx into a repository (no TensorFlow): (model path, config path)."""
    try:
        OnnxPolicy(model_file)
    except PolicyLoadError as exc:
        raise ExportError(str(exc)) from None
    target = model_path(repository, name)
    make_version_dir(repository, name)
    _atomic_write(target, Path(model_file).read_bytes())
    return target, write_config(repository, name)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: a reader (Triton, a serve
    watching the file) never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_version_dir(repository: Path, name: str) -> Path:
    """Create DIR/NAME/1 (ExportError if it cannot be); returns the deepest directory that
    existed before, for `remove_empty`."""
    directory = model_path(repository, name).parent
    existing = directory
    while not existing.exists():
        existing = existing.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {directory}: {exc.strerror}") from None
    return existing


def remove_empty(directory: Path, stop: Path) -> None:
    """Remove `directory` and its parents up to (not including) `stop` while empty: what a
    failed export created and left empty."""
    directory, stop = Path(directory), Path(stop)
    while directory != stop and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent

