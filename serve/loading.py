"""Loading a `.onnx` file into onnxruntime, and checking a file that declares the contract.

A file with `contract_version` in its metadata claims to follow serve/contract.py: every
metadata key the runtime reads must be there and well formed, and the graph must agree with
it (input `obs` of the contract's dtype and the observation shape; outputs `probs`/`action` or
`mean`/`std`/`action` of the action space's size; since contract 6, a categorical or
multi_categorical graph's input `action_mask` bool [batch, action_size], which the metadata
key `action_mask` describes). A forged or damaged file is refused in
one line naming the key, input or output at fault. All of it runs once, at load time: `act`
pays nothing for it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import onnxruntime as ort

from serve import contract
from serve.observations import FLOAT32, UINT8

INPUT_DTYPES: dict[str, np.dtype] = {"tensor(float)": FLOAT32, "tensor(uint8)": UINT8}
TENSOR_TYPES = {"float32": "tensor(float)", "uint8": "tensor(uint8)", "int64": "tensor(int64)",
                "bool": "tensor(bool)"}
FIX = "re-export it with python -m export"
Dims = Sequence[int | str | None]  # an ONNX tensor's shape: sizes, symbolic names, unknowns


class PolicyLoadError(ValueError):
    """The file is not an ONNX policy this runtime can use; the message says why."""


def open_session(path: Path, intra_op_threads: int) -> ort.InferenceSession:
    if not path.is_file():
        raise PolicyLoadError(f"{path} not found; expected a .onnx policy file")
    options = ort.SessionOptions()
    # One thread answers a single observation fastest: no hand-off between threads.
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for unreadable models
        reason = str(exc).strip().splitlines()[0][:200]
        raise PolicyLoadError(f"{path} is not a loadable ONNX model: {reason}") from None


def read_metadata(session: ort.InferenceSession) -> dict[str, Any]:
    """metadata_props, each value JSON-decoded (kept as the string when it is not JSON)."""
    metadata = {}
    for key, value in session.get_modelmeta().custom_metadata_map.items():
        try:
            metadata[key] = json.loads(value)
        except json.JSONDecodeError:
            metadata[key] = value
    return metadata


def the_input(path: Path, session: ort.InferenceSession,
              inputs: list[ort.NodeArg] | None = None) -> ort.NodeArg:
    """The graph's one input (of `inputs`, default all), of a dtype the runtime feeds
    (float32 or uint8)."""
    inputs = session.get_inputs() if inputs is None else inputs
    if len(inputs) != 1:
        raise PolicyLoadError(f"{path}: the graph has inputs {[i.name for i in inputs]}; "
                              "expected one, the observation")
    if inputs[0].type not in INPUT_DTYPES:
        raise PolicyLoadError(f"{path}: input {inputs[0].name!r} has type {inputs[0].type}; "
                              f"expected {' or '.join(INPUT_DTYPES)}")
    return inputs[0]


def check_input_shape(path: Path, node: ort.NodeArg, shape: tuple[int, ...], given: str,
                      any_batch: bool = False) -> None:
    """The input must be [batch, *shape]: a dynamic batch dimension (any, with `any_batch`),
    then `shape`'s sizes (a symbolic size takes any)."""
    if not _fits(node.shape, shape, dynamic_batch=not any_batch):
        raise PolicyLoadError(f"{path}: input {node.name!r} has shape {_text(node.shape)}; "
                              f"{given} needs {_text([contract.BATCH_DIM, *shape])}")


InputSpecs = dict[str, tuple[tuple[int, ...], str]]
"""{input name: (shape without the batch, dtype)}: {"obs": ...}, or one per part."""


def check_contract(path: Path, metadata: dict[str, Any], session: ort.InferenceSession
                   ) -> tuple[str, InputSpecs, dict[str, Any]]:
    """(policy_kind, the graph's inputs, action_space) of a file declaring contract_version,
    once its metadata and graph are checked; PolicyLoadError otherwise."""
    version = metadata[contract.CONTRACT_VERSION_KEY]
    if version not in contract.SUPPORTED_CONTRACT_VERSIONS:
        supported = ", ".join(map(str, contract.SUPPORTED_CONTRACT_VERSIONS))
        raise PolicyLoadError(f"{path} uses export contract {_short(version)}; this runtime reads "
                              f"contracts {supported} (a newer serve may read it)")
    required = contract.required_keys(version)
    for key in required:
        if key not in metadata:
            raise PolicyLoadError(f"{path}: metadata key {key!r} is missing; contract "
                                  f"{version} files have {', '.join(required)} ({FIX})")
    kind, observation, action = (metadata[contract.POLICY_KIND_KEY],
                                 metadata[contract.OBSERVATION_SPACE_KEY],
                                 metadata[contract.ACTION_SPACE_KEY])
    problem = (_env_problem(metadata) or _kind_problem(kind)
               or _observation_problem(observation)
               or _space_problem(contract.ACTION_SPACE_KEY, action, (contract.KINDS[kind],),
                                 f" for policy_kind {_short(kind)}"))
    if problem:
        raise PolicyLoadError(f"{path}: metadata {problem} ({FIX})")
    size = _state_size(path, metadata)
    inputs = contract.input_specs(observation, version)
    _check_inputs(path, session, inputs, f"the metadata's observation space "
                                         f"{_space_text(observation)}", size is not None)
    _check_outputs(path, session, kind, action)
    if size is not None:
        _check_state(path, session, size)
    _check_mask(path, session, _mask_size(path, metadata, version, kind, action))
    return kind, inputs, action


def _state_size(path: Path, metadata: dict[str, Any]) -> int | None:
    """A recurrent file's state size from its metadata (None: feed-forward), checked."""
    recurrent = metadata.get(contract.RECURRENT_KEY)
    if recurrent is None:
        return None
    size = recurrent.get("state_size") if isinstance(recurrent, dict) else None
    if not (_is_int(size) and size >= 1):
        raise PolicyLoadError(f"{path}: metadata {contract.RECURRENT_KEY} is "
                              f"{_short(recurrent)}; expected null or an object with a "
                              f"positive state_size ({FIX})")
    return size


def _check_state(path: Path, session: ort.InferenceSession, size: int) -> None:
    """A recurrent file's input STATE and output NEXT_STATE: float32 [batch, size]."""
    nodes = {node.name: node for node in [*session.get_inputs(), *session.get_outputs()]}
    for role, name in (("input", contract.STATE), ("output", contract.NEXT_STATE)):
        node = nodes.get(name)
        if node is None or node.type != TENSOR_TYPES["float32"] or not _fits(node.shape,
                                                                             (size,)):
            got = "missing" if node is None else f"{node.type} {_text(node.shape)}"
            raise PolicyLoadError(
                f"{path}: {role} {name!r} is {got}; the metadata's state_size {size} needs "
                f"{TENSOR_TYPES['float32']} {_text([contract.BATCH_DIM, size])}")


def _mask_size(path: Path, metadata: dict[str, Any], version: int, kind: str,
               action: dict[str, Any]) -> int | None:
    """The size of a file's input ACTION_MASK from its checked metadata (None: it takes
    none): a categorical or multi_categorical policy's of contract 6 on, P = action_size."""
    mask = metadata.get(contract.ACTION_MASK_KEY)
    if mask is None:
        return None
    if version < contract.MASK_SINCE or kind not in contract.MASKED_KINDS:
        problem = (f"is {_short(mask)}; expected null for a {kind} policy of contract "
                   f"{version}")
    else:
        size = contract.action_size(action)
        wrong = _mask_problem(mask, size)
        if wrong is None:
            return size
        problem = wrong
    raise PolicyLoadError(f"{path}: metadata {contract.ACTION_MASK_KEY} {problem} ({FIX})")


def _mask_problem(mask: Any, size: int) -> str | None:
    """What is wrong with the metadata ACTION_MASK_KEY of a file whose mask has `size`."""
    if not isinstance(mask, dict) or not _is_int(mask.get("size")):
        return (f"is {_short(mask)}; expected null or an object with the mask's size, "
                "trained, source and function")
    if mask["size"] != size:
        return f"has size {mask['size']}; the action space has {size} actions"
    source, function = mask.get("source"), mask.get("function")
    if not isinstance(mask.get("trained"), bool) or source not in (*contract.MASK_SOURCES,
                                                                    None):
        return (f"has trained {_short(mask.get('trained'))} and source {_short(source)}; "
                f"expected true or false, and null or one of "
                f"{', '.join(map(_short, contract.MASK_SOURCES))}")
    if source == "function" and not (isinstance(function, str) and ":" in function):
        return f"has function {_short(function)}; the source \"function\" needs module:function"
    return None


def _check_mask(path: Path, session: ort.InferenceSession, size: int | None) -> None:
    """The graph's input ACTION_MASK: bool [batch, size], or none when `size` is None."""
    node = next((node for node in session.get_inputs() if node.name == contract.ACTION_MASK),
                None)
    if size is None and node is not None:
        raise PolicyLoadError(f"{path}: input {node.name!r} is {node.type} {_text(node.shape)}; "
                              f"the metadata's {contract.ACTION_MASK_KEY} null says the graph "
                              f"takes none ({FIX})")
    wanted = TENSOR_TYPES["bool"]
    if size is not None and (node is None or node.type != wanted
                             or not _fits(node.shape, (size,))):
        got = "missing" if node is None else f"{node.type} {_text(node.shape)}"
        raise PolicyLoadError(
            f"{path}: input {contract.ACTION_MASK!r} is {got}; the metadata's "
            f"{contract.ACTION_MASK_KEY} of size {size} needs {wanted} "
            f"{_text([contract.BATCH_DIM, size])}")


def _check_inputs(path: Path, session: ort.InferenceSession, inputs: InputSpecs,
                  given: str, recurrent: bool = False) -> None:
    """The graph's inputs are `inputs` (and a recurrent file's state, `_check_state`; an
    action mask, `_check_mask`): the names, types and shapes."""
    apart = {contract.ACTION_MASK, *([contract.STATE] if recurrent else [])}
    nodes = {node.name: node for node in session.get_inputs() if node.name not in apart}
    if list(inputs) == [contract.INPUT]:  # one input: named "obs", whatever the graph calls it
        node = the_input(path, session, list(nodes.values()))
        (shape, dtype), = inputs.values()
        if node.name != contract.INPUT or node.type != TENSOR_TYPES[dtype]:
            raise PolicyLoadError(f"{path}: input {node.name!r} is {node.type}; {given} needs "
                                  f"input {contract.INPUT!r} of {TENSOR_TYPES[dtype]}")
        check_input_shape(path, node, shape, given)
        return
    if set(nodes) != set(inputs):
        raise PolicyLoadError(f"{path}: the graph has inputs {list(nodes)}; {given} needs "
                              f"inputs {', '.join(inputs)}")
    for name, (shape, dtype) in inputs.items():
        if nodes[name].type != TENSOR_TYPES[dtype]:
            raise PolicyLoadError(f"{path}: input {name!r} is {nodes[name].type}; {given} "
                                  f"needs {TENSOR_TYPES[dtype]}")
        check_input_shape(path, nodes[name], shape, given)


def _check_outputs(path: Path, session: ort.InferenceSession, kind: str,
                   action: dict[str, Any]) -> None:
    """The outputs of `kind` with the types and shapes the action space gives them."""
    expected = contract.output_specs(kind, action)
    outputs = {o.name: o for o in session.get_outputs()}
    if not expected.keys() <= outputs.keys():
        raise PolicyLoadError(f"{path}: the graph has outputs {list(outputs)}; a {kind} policy "
                              f"needs {', '.join(expected)}")
    given = f"the metadata's action space {_space_text(action)}"
    for name, (dtype, shape) in expected.items():
        node = outputs[name]
        if node.type != TENSOR_TYPES[dtype] or not _fits(node.shape, tuple(shape)):
            raise PolicyLoadError(
                f"{path}: output {name!r} is {node.type} {_text(node.shape)}; {given} needs "
                f"{TENSOR_TYPES[dtype]} {_text([contract.BATCH_DIM, *shape])}")


def _fits(dims: Dims | None, shape: tuple[int, ...], dynamic_batch: bool = True) -> bool:
    """Whether ONNX dims [batch, *shape] fit: sizes match unless symbolic (str or None)."""
    if dims is None or len(dims) != 1 + len(shape):
        return False
    if dynamic_batch and isinstance(dims[0], int):
        return False
    return all(not isinstance(d, int) or d == s for d, s in zip(dims[1:], shape, strict=True))


def _env_problem(metadata: dict[str, Any]) -> str | None:
    env_id = metadata[contract.ENV_ID_KEY]
    kwargs = metadata.get(contract.ENV_KWARGS_KEY, {})
    steps = metadata.get(contract.MAX_EPISODE_STEPS_KEY)
    if not isinstance(env_id, str) or not env_id:
        return f"env_id is {_short(env_id)}; expected a gymnasium id"
    if not isinstance(kwargs, dict):
        return f"env_kwargs is {_short(kwargs)}; expected a JSON object"
    if steps is not None and (not _is_int(steps) or steps < 1):
        return f"max_episode_steps is {_short(steps)}; expected a positive integer or null"
    return None


def _kind_problem(kind: Any) -> str | None:
    if kind in contract.KINDS:
        return None
    return f"policy_kind is {_short(kind)}; expected {' or '.join(map(_short, contract.KINDS))}"


def _observation_problem(space: Any) -> str | None:
    """What is wrong with the observation space description, or with one of its parts."""
    name, types = contract.OBSERVATION_SPACE_KEY, contract.OBSERVATION_SPACES
    structured = tuple(contract.SPEC["input"]["structured"])
    if not isinstance(space, dict) or space.get("type") not in structured:
        return _space_problem(name, space, types)
    parts = space.get("spaces")
    if not isinstance(parts, dict | list) or not parts:
        return f"{name} has spaces {_short(parts)}; expected a non-empty JSON object or list"
    named = parts.items() if isinstance(parts, dict) else enumerate(parts)
    leaves = tuple(t for t in types if t not in structured)
    for key, part in named:
        problem = _space_problem(f"{name}'s part {key!r}", part, leaves)
        if problem:
            return problem
    return None


def _space_problem(name: str, space: Any, types: tuple[str, ...], why: str = "") -> str | None:
    """What is wrong with the space description `name`, whose type should be in `types`."""
    if not isinstance(space, dict) or space.get("type") not in types:
        return (f"{name} is {_short(space)}; expected a JSON object with type "
                f"{' or '.join(types)}{why}")
    if space["type"] in ("Discrete", "MultiBinary"):
        n = space.get("n")
        return None if _is_int(n) and n >= 1 else f"{name} has n {_short(n)}; expected an " \
                                                  "integer >= 1"
    if space["type"] == "MultiDiscrete":
        nvec = space.get("nvec")
        ok = isinstance(nvec, list) and nvec and all(_is_int(n) and n >= 1 for n in nvec)
        return None if ok else f"{name} has nvec {_short(nvec)}; expected a list of " \
                               "integers >= 1"
    shape = space.get("shape")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 1 for d in shape):
        return f"{name} has shape {_short(shape)}; expected a list of positive integers"
    if name == contract.ACTION_SPACE_KEY:
        if len(shape) != 1:
            return f"action_space has shape {shape}; expected one dimension"
        for bound in ("low", "high"):
            if not _bounds_ok(space.get(bound), shape[0]):
                return (f"action_space has {bound} {_short(space.get(bound))}; expected a "
                        f"list of {shape[0]} finite numbers")
    return None


def _bounds_ok(values: Any, size: int) -> bool:
    """A list of `size` finite numbers (the action bounds serve clips to)."""
    return (isinstance(values, list) and len(values) == size
            and all(_is_number(v) and math.isfinite(v) for v in values))


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(value: Any) -> str:
    """A metadata value as JSON, shortened to fit in a one-line message."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _space_text(space: dict[str, Any]) -> str:
    if space["type"] in contract.SPEC["input"]["structured"]:
        parts = space["spaces"]
        named = parts.items() if isinstance(parts, dict) else enumerate(parts)
        return f"{space['type']}({', '.join(f'{k}: {_space_text(p)}' for k, p in named)})"
    if space["type"] in ("Discrete", "MultiBinary"):
        return f"{space['type']}({space['n']})"
    if space["type"] == "MultiDiscrete":
        return f"MultiDiscrete({space['nvec']})"
    return f"Box(shape={tuple(space['shape'])}, {space.get('dtype', 'float32')})"


def _text(dims: Dims | None) -> str:
    if dims is None:
        return "of unknown shape"
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"
