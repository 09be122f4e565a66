"""The ONNX contract: what a keras_pg `policy.onnx` holds, read from its one source,
serve/contract.json (standard library only: serve sits at the bottom of the dependency graph,
and export/ writes files by what this module reads).

The JSON names every constant once: the input and output names, their dtypes and shapes per
policy kind, the metadata keys and which versions require them, the input dtype rule for
image observations, the wire shapes of the Open Inference Protocol and Triton, and the
versions. serve/js/src/contract-names.js and the contract's tables in docs/contract.md are generated
from it (serve/contract_render.py); a test fails when either is stale.

Graph (`[batch, ...]`: the first dimension is the batch, dynamic, named BATCH_DIM):
    input  INPUT   [batch, *observation_shape] ([batch] for a Discrete observation space),
                   dtype `input_dtype(observation_space, version)`; or, for a Dict or Tuple
                   observation space, one input per part (`input_specs`)
    outputs        `output_specs(policy_kind, action_space)`: PROBS and ACTION (categorical,
                   Discrete actions) or MEAN, STD and ACTION (gaussian, Box actions)
    recurrent      input STATE and output NEXT_STATE float32 [batch, state_size] besides
                   (metadata RECURRENT_KEY: its size and layout); feed-forward files have neither
    masks          input ACTION_MASK bool [batch, action_size] of categorical and
                   multi_categorical graphs (since 6; metadata ACTION_MASK_KEY)
Metadata: model.metadata_props, every value a JSON document (`encode_metadata`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).with_name("contract.json")
SPEC: dict[str, Any] = json.loads(SOURCE.read_text())

CONTRACT_VERSION: int = SPEC["version"]
SUPPORTED_CONTRACT_VERSIONS: tuple[int, ...] = tuple(SPEC["supported_versions"])

NAMES: dict[str, str] = SPEC["names"]
INPUT = NAMES["INPUT"]
PROBS = NAMES["PROBS"]
MEAN = NAMES["MEAN"]
STD = NAMES["STD"]
ACTION = NAMES["ACTION"]
BATCH_DIM = NAMES["BATCH_DIM"]
STATE = NAMES["STATE"]
NEXT_STATE = NAMES["NEXT_STATE"]
ACTION_MASK = NAMES["ACTION_MASK"]

METADATA: dict[str, dict[str, Any]] = {entry["const"]: entry for entry in SPEC["metadata"]}
CONTRACT_VERSION_KEY: str = METADATA["CONTRACT_VERSION_KEY"]["key"]
PRODUCER_KEY: str = METADATA["PRODUCER_KEY"]["key"]
POLICY_KIND_KEY: str = METADATA["POLICY_KIND_KEY"]["key"]
ENV_ID_KEY: str = METADATA["ENV_ID_KEY"]["key"]
ENV_KWARGS_KEY: str = METADATA["ENV_KWARGS_KEY"]["key"]
MAX_EPISODE_STEPS_KEY: str = METADATA["MAX_EPISODE_STEPS_KEY"]["key"]
OBSERVATION_SPACE_KEY: str = METADATA["OBSERVATION_SPACE_KEY"]["key"]
ACTION_SPACE_KEY: str = METADATA["ACTION_SPACE_KEY"]["key"]
TRAINING_CONFIG_KEY: str = METADATA["TRAINING_CONFIG_KEY"]["key"]
ENV_STEPS_KEY: str = METADATA["ENV_STEPS_KEY"]["key"]
EVAL_MEAN_RETURN_KEY: str = METADATA["EVAL_MEAN_RETURN_KEY"]["key"]
VERSIONS_KEY: str = METADATA["VERSIONS_KEY"]["key"]
CREATED_AT_KEY: str = METADATA["CREATED_AT_KEY"]["key"]
QUANTIZATION_KEY: str = METADATA["QUANTIZATION_KEY"]["key"]
RECURRENT_KEY: str = METADATA["RECURRENT_KEY"]["key"]
ACTION_MASK_KEY: str = METADATA["ACTION_MASK_KEY"]["key"]
METADATA_KEYS: tuple[str, ...] = tuple(entry["key"] for entry in SPEC["metadata"])

KINDS: dict[str, str] = {kind: rule["action_space"] for kind, rule in SPEC["policy_kinds"].items()}
"""policy_kind -> the type of its action space ("categorical" -> "Discrete")."""
ACTION_TYPES: dict[str, str] = {"discrete": "Discrete", "continuous": "Box"}
"""A caller's action_type (`OnnxPolicy(..., action_type=...)`, `--action-type`: the load option
of an ONNX file without keras_pg metadata) -> the type of the action space it declares, which
KINDS gives a contract file's policy_kind."""
ACTION_TYPE_OF_SPACE: dict[str, str] = {space: action_type
                                        for action_type, space in ACTION_TYPES.items()}
"""The type of an action space -> the action_type that declares it ("Box" -> "continuous")."""
OBSERVATION_SPACES: tuple[str, ...] = tuple(SPEC["input"]["observation_spaces"])
TRITON: dict[str, Any] = SPEC["triton"]


def required_keys(version: int) -> list[str]:
    """The metadata keys a reader needs in a file of contract `version` beside
    contract_version (whose presence makes a file a contract file), oldest first."""
    entries = sorted(SPEC["metadata"], key=lambda entry: entry["since"])
    return [entry["key"] for entry in entries if entry["required"] and entry["since"] <= version
            and entry["key"] != CONTRACT_VERSION_KEY]


def input_dtype(observation_space: dict[str, Any], version: int = CONTRACT_VERSION) -> str:
    """The dtype of input INPUT for an observation space description, in a file of contract
    `version`: the image dtype ("uint8") for a Box of that dtype and rank (an H x W x C image,
    which the graph scales to [0, 1], so the policy takes raw frames), else "float32"."""
    rule = SPEC["input"]
    if is_image(observation_space) and version >= rule["since"]["image_dtype"]:
        return rule["image_dtype"]
    return rule["dtype"]


def input_specs(observation_space: dict[str, Any], version: int = CONTRACT_VERSION
                ) -> dict[str, tuple[tuple[int, ...], str]]:
    """{input name: (shape without the batch, dtype)} of the graph's inputs for an observation
    space description: {"obs": ...}, or one input per part of a Dict (its keys, in order) or
    a Tuple ("0", "1", ...) space."""
    if observation_space.get("type") not in SPEC["input"]["structured"]:
        return {INPUT: (_part_shape(observation_space), input_dtype(observation_space, version))}
    parts = observation_space["spaces"]
    named = parts.items() if isinstance(parts, dict) else (
        (str(i), part) for i, part in enumerate(parts))
    return {name: (_part_shape(part), input_dtype(part, version)) for name, part in named}


def _part_shape(space: dict[str, Any]) -> tuple[int, ...]:
    """() for a Discrete space's index, (k,) for a MultiDiscrete or MultiBinary one, a Box's
    shape."""
    if space["type"] == "Discrete":
        return ()
    if space["type"] == "MultiDiscrete":
        return (len(space["nvec"]),)
    if space["type"] == "MultiBinary":
        return (int(space["n"]),)
    return tuple(int(d) for d in space["shape"])


def is_image(observation_space: dict[str, Any]) -> bool:
    """Whether an observation space description is an image's (the contract's one rule: a Box
    of dtype uint8 and rank 3, H x W x C), which the policy takes as raw uint8 frames."""
    image = SPEC["input"]["image"]
    return (observation_space.get("type") == image["type"]
            and observation_space.get("dtype") == image["dtype"]
            and len(observation_space.get("shape", ())) == image["rank"])


def action_size(action_space: dict[str, Any]) -> int:
    """The size of an action space's distribution output: a Discrete or MultiBinary space's
    n, a Box's one dimension, the sum of a MultiDiscrete space's branch sizes."""
    kind = action_space["type"]
    if kind == "Box":
        return int(action_space["shape"][0])
    return int(sum(action_space["nvec"])) if kind == "MultiDiscrete" else int(action_space["n"])


def action_branches(action_space: dict[str, Any]) -> int:
    """The actions a MultiDiscrete (its branches) or MultiBinary (its bits) space takes at
    once, the size of the `action` output after the batch."""
    return len(action_space["nvec"]) if action_space["type"] == "MultiDiscrete" else int(
        action_space["n"])


def output_specs(kind: str, action_space: dict[str, Any]) -> dict[str, tuple[str, list[int]]]:
    """{output name: (dtype, shape without the batch)} of a policy of `kind` acting in
    `action_space`: {"probs": ("float32", [n]), "action": ("int64", [])} for a categorical
    policy of n actions."""
    sizes = {"action_size": lambda: action_size(action_space),
             "action_branches": lambda: action_branches(action_space)}
    return {NAMES[output["name"]]: (output["dtype"],
                                    [sizes[dim]() for dim in output["shape"][1:]])
            for output in SPEC["policy_kinds"][kind]["outputs"]}


def output_names(kind: str) -> list[str]:
    """The outputs of a policy of `kind`, in the contract's order."""
    return [NAMES[output["name"]] for output in SPEC["policy_kinds"][kind]["outputs"]]


def wire_shape(shape: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """A graph tensor's shape as the Open Inference Protocol (and Triton) present it: a
    tensor whose only dimension is the batch gets the dims `batch_only_dims` after it
    ([-1] -> [-1, 1]); every other shape is the graph's."""
    shape = tuple(shape)
    return (*shape, *SPEC["wire"]["batch_only_dims"]) if len(shape) == 1 else shape


def encode_metadata(values: dict[str, Any]) -> dict[str, str]:
    """Every metadata value as a JSON string (metadata_props only hold strings)."""
    return {key: json.dumps(value, sort_keys=True) for key, value in values.items()}


def decode_metadata(props: dict[str, str]) -> dict[str, Any]:
    """Inverse of `encode_metadata`."""
    return {key: json.loads(value) for key, value in props.items()}


RECURRENT_CELLS: dict[str, tuple[str, ...]] = {"gru": ("h",), "lstm": ("h", "c")}
"""A recurrent policy's cell -> the slices its state holds, in order (each of the cell's
units)."""


def recurrent_metadata(cell: str, units: int) -> dict[str, Any]:
    """The RECURRENT_KEY value of a policy whose `cell` ("gru" or "lstm") has `units`."""
    layout = [{"name": name, "size": units} for name in RECURRENT_CELLS[cell]]
    return {"cell": cell, "state_size": units * len(layout), "layout": layout,
            "initial_state": SPEC["state"]["initial"]}


def state_size(metadata: dict[str, Any]) -> int | None:
    """The state size of a recurrent policy's decoded metadata; None for a feed-forward one."""
    recurrent = metadata.get(RECURRENT_KEY)
    return None if recurrent is None else int(recurrent["state_size"])


MASKED_KINDS: tuple[str, ...] = tuple(SPEC["action_mask"]["policy_kinds"])
"""The policy kinds whose graphs (since 6) take the input ACTION_MASK."""
MASK_SINCE: int = SPEC["action_mask"]["since"]
"""The first contract version whose graphs (of MASKED_KINDS) take the input ACTION_MASK."""
MASK_SOURCES: tuple[str, ...] = tuple(SPEC["action_mask"]["sources"])
MASK_OBSERVATION_KEY: str = SPEC["action_mask"]["observation_key"]


def action_mask_metadata(kind: str, action_space: dict[str, Any], source: str | None,
                         function: str | None = None) -> dict[str, Any] | None:
    """The ACTION_MASK_KEY value of a policy of `kind` in `action_space` whose training read
    its masks from `source` (None: trained without): None for a kind without the input."""
    if kind not in MASKED_KINDS:
        return None
    return {"size": action_size(action_space), "trained": source is not None,
            "source": source, "function": function if source == "function" else None}


def mask_size(metadata: dict[str, Any]) -> int | None:
    """The action mask size of a file's decoded metadata; None when the graph takes none."""
    mask = metadata.get(ACTION_MASK_KEY)
    return None if mask is None else int(mask["size"])
