"""The conformance corpus: one list of Open Inference Protocol requests, and how each runtime
answers it, reduced to one comparable form.

A Case is a request to a model of the repository: its input tensors (name, datatype, wire
shape, values) -- one, or one per part of a Dict or Tuple observation --, the outputs it asks
for, and how it travels (JSON data or binary tensors, outputs as binary data); or a raw body
for what only JSON can say wrong. Runtimes:

    serve-rest   python -m serve --model-repository, POST /v2/models/NAME/infer (raw HTTP)
    serve-v1     python -m serve MODEL.onnx, POST /v1/act {"obs": ...}: the observations
    serve-grpc   the same service's --grpc-port, through tritonclient.grpc
    triton-rest  a real tritonserver on the same repository (tests/triton_server.py)
    triton-grpc
    onnx-policy  serve.OnnxPolicy in-process: the request's observations, wire -> graph shape
                 ({part: observations} for a model of parts)
    js-node      the JavaScript package in Node (tests/conformance_node.mjs), likewise

An Answer is the status (HTTP's; gRPC codes and in-process errors mapped onto it) and the
outputs {name: (datatype, shape, values)}. In-process runtimes take only what an in-process
call can say: the observations (`Case.in_process`), a recurrent policy's state, and action
masks.

A policy of action masks (corridor, corridor_branches) has the input `action_mask` BOOL
[batch, P]: its cases send random masks (a legal action in every branch of every row), and
some send none -- every runtime then acts as if all were legal (`_mask_cases`); a model
without one refuses a mask.

A recurrent policy's state is one more input tensor (`state`), and its next state one more
output (`next_state`; /v1's "state"). Beyond single requests, `play` runs whole episodes of
a memory task through a runtime's `Step`, each step sending the state the previous one
returned, as a client does; `Played` records what each runtime answered along the way.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import tritonclient.grpc as tgrpc
from tritonclient.utils import InferenceServerException

import serve
from serve import contract
from serve.tensors import DATATYPES, NUMPY, TensorSpec, signature

ROOT = Path(__file__).resolve().parents[1]
NODE_SCRIPT = ROOT / "tests" / "conformance_node.mjs"
MAX_BATCH = contract.TRITON["max_batch_size"]  # serve's --max-batch, and Triton's config
GRPC_STATUS = {"StatusCode.INVALID_ARGUMENT": 400, "StatusCode.NOT_FOUND": 404,
               "StatusCode.RESOURCE_EXHAUSTED": 413, "StatusCode.UNAUTHENTICATED": 401,
               "StatusCode.INTERNAL": 500, "StatusCode.UNAVAILABLE": 503}


@dataclass(frozen=True)
class Tensor:
    name: str
    datatype: str
    shape: tuple[int, ...]
    values: np.ndarray | None = None
    """Row-major values (None with `raw`)."""
    raw: Any = None
    """JSON `data` sent as it is (wrong on purpose), instead of `values`."""


@dataclass(frozen=True)
class Case:
    name: str
    model: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[str, ...] | None = None
    binary_inputs: bool = False
    binary_outputs: bool = False
    version: str | None = None
    id: str | None = None
    body: bytes | None = None
    """A raw JSON body sent instead (REST only)."""
    extra_binary_bytes: int = 0
    """Announced in the last input's binary_data_size beyond the bytes sent (REST only)."""
    transports: tuple[str, ...] = ("rest", "grpc")
    in_process: bool = False
    """Whether an in-process call can make this request: inputs named as the model's (the one
    input, or parts), their observations (float32 or uint8), no version, all outputs."""


@dataclass
class Answer:
    status: int
    outputs: dict[str, tuple[str, list[int], np.ndarray]] = field(default_factory=dict)
    message: str = ""


# -- the corpus ------------------------------------------------------------------------------

def corpus(models: dict[str, serve.OnnxPolicy]) -> list[Case]:
    """The cases for each model: values (batch 1 and many, JSON and binary, every output or
    some), and every error the protocol defines for a request."""
    cases = []
    for name, policy in models.items():
        cases += _value_cases(name, policy) + _error_cases(name, policy) + _mask_cases(
            name, policy)
    return cases


def inputs(policy: serve.OnnxPolicy) -> list[TensorSpec]:
    """The model's inputs as a request sends them: name, datatype and wire shape (-1: the
    batch); one, or one per part of a Dict or Tuple observation."""
    return [spec._replace(shape=contract.wire_shape(spec.shape))
            for spec in signature(policy.session).inputs]


def observations(policy: serve.OnnxPolicy, batch: int, seed: int) -> dict[str, np.ndarray]:
    """`batch` observations in the model inputs' wire shapes and dtypes, {input: values}
    (and random action masks, `random_masks`, for a policy of masks)."""
    rng = np.random.default_rng(seed)
    found = {}
    for spec in inputs(policy):
        shape = (batch, *spec.shape[1:])
        if spec.name == contract.ACTION_MASK:
            found[spec.name] = random_masks(rng, batch, policy.mask_spec.branches or ())
        elif spec.datatype == "UINT8":
            found[spec.name] = rng.integers(0, 256, shape).astype(np.uint8)
        else:
            found[spec.name] = rng.uniform(-1.5, 1.5, shape).astype(np.float32)
    return found


def random_masks(rng: np.random.Generator, rows: int, branches: tuple[int, ...]) -> np.ndarray:
    """bool [rows, sum(branches)]: each action legal with probability 1/2, and one more per
    branch of each row (so that each has a legal action)."""
    found = rng.random((rows, sum(branches))) < 0.5
    for start, size in zip(np.cumsum((0, *branches[:-1])), branches, strict=True):
        found[np.arange(rows), start + rng.integers(0, size, rows)] = True
    return found


def _tensors(policy: serve.OnnxPolicy, values: dict[str, np.ndarray]) -> tuple[Tensor, ...]:
    """One tensor per input of the model, holding `values` ({input: values})."""
    return tuple(Tensor(spec.name, spec.datatype, values[spec.name].shape, values[spec.name])
                 for spec in inputs(policy))


def _value_cases(model: str, policy: serve.OnnxPolicy) -> list[Case]:
    outputs = [o.name for o in policy.session.get_outputs()]

    def obs(batch: int, seed: int) -> tuple[Tensor, ...]:
        return _tensors(policy, observations(policy, batch, seed))

    return [
        Case(f"{model}/json-batch-1", model, obs(1, 1), in_process=True),
        Case(f"{model}/json-batch-9", model, obs(9, 2), in_process=True),
        Case(f"{model}/binary-batch-1", model, obs(1, 3), binary_inputs=True,
             binary_outputs=True, in_process=True),
        Case(f"{model}/binary-batch-64", model, obs(64, 4), binary_inputs=True,
             binary_outputs=True, in_process=True),
        Case(f"{model}/binary-in-json-out", model, obs(5, 5), binary_inputs=True),
        Case(f"{model}/one-output", model, obs(3, 6), outputs=(outputs[-1],)),
        Case(f"{model}/outputs-reversed", model, obs(3, 7), outputs=tuple(outputs[::-1]),
             binary_outputs=True),
        Case(f"{model}/version-1-with-id", model, obs(2, 8), version="1", id="req-7"),
    ]


def _error_cases(model: str, policy: serve.OnnxPolicy) -> list[Case]:
    """Every error the protocol defines for a request, made in the model's first input (the
    others, if any, as they should be); and `_part_cases`."""
    good = _tensors(policy, observations(policy, 2, 9))
    first, rest = good[0], good[1:]
    wrong = "FP64" if first.datatype == "FP32" else "FP32"
    inner = (2, first.shape[1] + 1)
    json_only = ("rest",)

    def case(kind: str, *tensors: Tensor, **options) -> Case:
        return Case(f"{model}/{kind}", model, tensors, **options)

    def batch_of(size: int) -> tuple[Tensor, ...]:
        return tuple(replace(t, shape=(size, *t.shape[1:]),
                             values=np.zeros((size, *t.shape[1:]), t.values.dtype)) for t in good)

    floats = [t for t in good if t.datatype == "FP32"]
    return [
        case("wrong-datatype", replace(first, datatype=wrong,
                                       values=first.values.astype(NUMPY[wrong])), *rest),
        case("wrong-rank", replace(first, shape=first.shape[1:], values=first.values[0]), *rest),
        case("wrong-inner-size", replace(first, shape=inner,
                                         values=np.zeros(inner, first.values.dtype)), *rest,
             in_process=True),
        case("batch-0", *batch_of(0), binary_inputs=True),
        *([case("batch-over-max", *batch_of(MAX_BATCH + 1), binary_inputs=True)]
          if sum(t.values[0].size for t in good) <= 8 else []),  # a body under 1 MiB
        case("unknown-input", replace(first, name="x"), *rest),
        case("extra-input", *good, replace(first, name="extra")),
        case("no-input"),
        case("unknown-output", *good, outputs=("value",)),
        Case(f"nosuch/unknown-model-via-{model}", "nosuch", good),
        case("unknown-version", *good, version="7"),
        case("json-values-short", replace(first, values=None,
                                          raw=first.values.ravel()[:-1].tolist()), *rest,
             transports=json_only),
        case("json-strings", replace(first, values=None,
                                     raw=[str(v) for v in first.values.ravel()]), *rest,
             transports=json_only),
        case("malformed-json", body=b'{"inputs": [', transports=json_only),
        *([case("nan-observation", *(with_nan(t) if t is floats[0] else t for t in good),
                binary_inputs=True, in_process=True)] if floats else []),
        case("binary-size-mismatch", *good, binary_inputs=True, transports=json_only,
             extra_binary_bytes=4),
        *_part_cases(model, policy, good),
    ]


def _part_cases(model: str, policy: serve.OnnxPolicy, good: tuple[Tensor, ...]) -> list[Case]:
    """For a model of several inputs (a Dict or Tuple observation's parts; a recurrent
    policy's observation and state): the last input missing (a part, or the state), and
    inputs of two batch sizes (the first of 3, the others of 2, as in `good`). An action
    mask, which may be missing, is `_mask_cases`'."""
    good = tuple(t for t in good if t.name != contract.ACTION_MASK)
    if len(good) == 1:
        return []
    three = _tensors(policy, observations(policy, 3, 9))[0]
    return [Case(f"{model}/missing-input", model, good[:-1], in_process=True),
            Case(f"{model}/inputs-disagree-on-batch", model, (three, *good[1:]),
                 in_process=True)]


def _mask_cases(model: str, policy: serve.OnnxPolicy) -> list[Case]:
    """A policy of masks: requests without one (all legal), masks of 0/1 bytes (UINT8), a
    row allowing no action (in a branch), masks of the wrong size or datatype, or of another
    batch than the observations'. A model without masks: one sent to it."""
    def case(kind: str, *tensors: Tensor, **options: Any) -> Case:
        return Case(f"{model}/{kind}", model, tensors, **options)

    good = _tensors(policy, observations(policy, 3, 11))
    if policy.action_mask_size is None:
        unexpected = Tensor(contract.ACTION_MASK, "BOOL", (3, 2), np.ones((3, 2), bool))
        return [case("unexpected-mask", *good, unexpected, in_process=True)]
    unmasked = tuple(t for t in good if t.name != contract.ACTION_MASK)
    mask = next(t for t in good if t.name == contract.ACTION_MASK)
    stuck = mask.values.copy()
    stuck[1, -(policy.mask_spec.branches or (1,))[-1]:] = False  # row 1's last branch
    wider = np.ones((3, mask.shape[1] + 1), bool)
    two = replace(mask, shape=(2, mask.shape[1]), values=mask.values[:2])
    return [
        case("no-mask-json-batch-3", *unmasked, in_process=True),
        case("no-mask-binary-batch-64", *(t for t in _tensors(policy, observations(
            policy, 64, 12)) if t.name != contract.ACTION_MASK), binary_inputs=True,
             binary_outputs=True, in_process=True),
        case("mask-uint8", *unmasked, replace(mask, datatype="UINT8",
                                              values=mask.values.astype(np.uint8)),
             binary_inputs=True),
        case("mask-no-legal-action", *unmasked, replace(mask, values=stuck),
             in_process=True),
        case("mask-wrong-size", *unmasked, replace(mask, shape=wider.shape, values=wider),
             in_process=True),
        case("mask-wrong-datatype", *unmasked, replace(mask, datatype="FP32",
                                                       values=mask.values.astype(np.float32))),
        case("mask-and-obs-disagree-on-batch", *unmasked, two, in_process=True),
    ]


def with_nan(tensor: Tensor) -> Tensor:
    """`tensor` with NaN in row i at value i (a diagonal, rows flattened)."""
    rows, size = len(tensor.values), tensor.values[0].size
    diagonal = np.eye(rows, size, dtype=bool).reshape(tensor.values.shape)
    return replace(tensor, values=np.where(diagonal, np.float32(np.nan), tensor.values))


# -- REST ------------------------------------------------------------------------------------

def rest_body(case: Case) -> tuple[bytes, dict[str, str]]:
    """The HTTP body and headers of a case: JSON, or JSON header + binary tensors."""
    if case.body is not None:
        return case.body, {"Content-Type": "application/json"}
    tensors, chunks = [], []
    for i, tensor in enumerate(case.inputs):
        entry: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype,
                                 "shape": list(tensor.shape)}
        if tensor.raw is not None:
            entry["data"] = tensor.raw
        elif case.binary_inputs:
            raw = np.ascontiguousarray(tensor.values, NUMPY[tensor.datatype]).tobytes()
            extra = case.extra_binary_bytes if i == len(case.inputs) - 1 else 0  # the last's
            entry["parameters"] = {"binary_data_size": len(raw) + extra}
            chunks.append(raw)
        else:
            entry["data"] = tensor.values.ravel().tolist()
        tensors.append(entry)
    request: dict[str, Any] = {"inputs": tensors}
    if case.id is not None:
        request["id"] = case.id
    if case.binary_outputs:
        request["parameters"] = {"binary_data_output": True}
    if case.outputs is not None:
        request["outputs"] = [{"name": name} for name in case.outputs]
    header = json.dumps(request).encode()
    if not chunks:
        return header, {"Content-Type": "application/json"}
    return header + b"".join(chunks), {"Content-Type": "application/octet-stream",
                                       "Inference-Header-Content-Length": str(len(header))}


def rest_answer(address: str, case: Case) -> Answer:
    path = f"/v2/models/{case.model}" + (f"/versions/{case.version}" if case.version else "")
    body, headers = rest_body(case)
    request = urllib.request.Request(f"http://{address}{path}/infer", body, headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return _decode_rest(response.read(), response.headers, case)
    except urllib.error.HTTPError as error:
        return Answer(error.code, message=error.read().decode(errors="replace"))
    except (ConnectionError, urllib.error.URLError) as error:  # no HTTP answer at all
        return Answer(0, message=f"{type(error).__name__}: {error}")


def _decode_rest(content: bytes, headers, case: Case) -> Answer:
    length = headers.get("Inference-Header-Content-Length")
    header = json.loads(content[:int(length)] if length else content)
    offset, outputs = int(length or 0), {}
    for output in header["outputs"]:
        dtype = NUMPY[output["datatype"]]
        size = (output.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            values = np.frombuffer(content[offset:offset + size], dtype)
            offset += size
        else:
            values = np.asarray(output["data"], dtype)
        outputs[output["name"]] = (output["datatype"], output["shape"],
                                   values.reshape(output["shape"]))
    if header.get("id") != case.id:
        return Answer(599, message=f"id {header.get('id')!r} for {case.id!r}")
    return Answer(200, outputs)


# -- gRPC ------------------------------------------------------------------------------------

def grpc_answer(client: tgrpc.InferenceServerClient, case: Case) -> Answer:
    inputs = []
    for tensor in case.inputs:
        value = tgrpc.InferInput(tensor.name, list(tensor.shape), tensor.datatype)
        value.set_data_from_numpy(np.ascontiguousarray(tensor.values, NUMPY[tensor.datatype]))
        inputs.append(value)
    outputs = None if case.outputs is None else [
        tgrpc.InferRequestedOutput(name) for name in case.outputs]
    try:
        result = client.infer(case.model, inputs, model_version=case.version or "",
                              outputs=outputs, request_id=case.id or "")
    except InferenceServerException as exc:
        return Answer(GRPC_STATUS.get(str(exc.status()), 599), message=exc.message())
    response = result.get_response()
    if response.id != (case.id or ""):
        return Answer(599, message=f"id {response.id!r} for {case.id!r}")
    return Answer(200, {o.name: (o.datatype, list(o.shape), result.as_numpy(o.name))
                        for o in response.outputs})


# -- in process --------------------------------------------------------------------------------

def graph_inputs(case: Case, policy: serve.OnnxPolicy) -> dict[str, np.ndarray]:
    """The case's tensors in the graph's shapes, {input: values}: [batch] for an input whose
    graph shape is [batch] (its wire shape is [batch, 1])."""
    ranks = {node.name: len(node.shape) for node in policy.session.get_inputs()}
    return {t.name: t.values[:, 0] if ranks.get(t.name) == 1 and t.values.ndim == 2
            and t.values.shape[1] == 1 else t.values for t in case.inputs}


def in_process_observations(case: Case, policy: serve.OnnxPolicy
                            ) -> np.ndarray | dict[str, np.ndarray]:
    """The case's observations as an in-process call takes them: the one input's values, or
    {part: values} for a model of a Dict or Tuple observation's parts (a recurrent
    policy's state and action masks apart: `in_process_state`, `in_process_mask`)."""
    found = graph_inputs(case, policy)
    found.pop(contract.STATE, None)
    found.pop(contract.ACTION_MASK, None)
    return found if policy.observation_parts is not None else next(iter(found.values()))


def in_process_state(case: Case) -> np.ndarray | None:
    """The case's `state` tensor's values (None without one)."""
    return next((t.values for t in case.inputs if t.name == contract.STATE), None)


def in_process_mask(case: Case) -> np.ndarray | None:
    """The case's `action_mask` tensor's values (None without one)."""
    return next((t.values for t in case.inputs if t.name == contract.ACTION_MASK), None)


def policy_answer(policy: serve.OnnxPolicy, case: Case) -> Answer:
    try:
        values = policy.distribution(in_process_observations(case, policy),
                                     in_process_state(case), in_process_mask(case))
    except ValueError as exc:
        return Answer(400, message=str(exc))
    return Answer(200, {name: _wire(value) for name, value in values.items()})


def v1_answer(address: str, policy: serve.OnnxPolicy, case: Case) -> Answer:
    """POST /v1/act with the case's observations ({"obs": [...]}, or {"obs": {part: [...]}};
    and "state" for a recurrent policy): {"actions", "probs"} or {"actions", "mean", "std"}
    (and "state"), as the model's outputs (`actions` is `action`, "state" `next_state`)."""
    obs = in_process_observations(case, policy)
    body: dict[str, Any] = {"obs": {name: values.tolist() for name, values in obs.items()}
                            if isinstance(obs, dict) else obs.tolist()}
    state, mask = in_process_state(case), in_process_mask(case)
    if state is not None:
        body["state"] = state.tolist()
    if mask is not None:
        body["action_mask"] = mask.tolist()
    answer = _post_act(address, body)
    if isinstance(answer, Answer):
        return answer
    answer[contract.ACTION] = answer.pop("actions")
    if "state" in answer:
        answer[contract.NEXT_STATE] = answer.pop("state")
    dtypes = {o.name: DATATYPES[o.type] for o in policy.session.get_outputs()}
    return Answer(200, {name: _wire(np.asarray(answer[name], NUMPY[dtype]))
                        for name, dtype in dtypes.items()})


def _post_act(address: str, body: dict[str, Any]) -> dict[str, Any] | Answer:
    """The JSON answer of POST /v1/act, or the Answer of a refusal."""
    request = urllib.request.Request(f"http://{address}/v1/act", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, message=error.read().decode(errors="replace"))


def _wire(value: np.ndarray) -> tuple[str, list[int], np.ndarray]:
    value = value.reshape(len(value), -1) if value.ndim == 1 else value
    return ({np.dtype(v): k for k, v in NUMPY.items()}[value.dtype], list(value.shape), value)


def _json_numbers(value: Any) -> Any:
    """Nested lists with NaN as the string "NaN" (strict JSON has no NaN; the Node script
    reads it back)."""
    if isinstance(value, list):
        return [_json_numbers(v) for v in value]
    return "NaN" if isinstance(value, float) and value != value else value


def node_answers(cases: list[Case], policies: dict[str, serve.OnnxPolicy],
                 work: Path) -> dict[str, Answer]:
    """The JavaScript package's answers to the in-process cases, from one Node process."""
    requests = [{"case": case.name, "file": str(policies[case.model].path),
                 "inputs": [{"name": name, "dtype": str(values.dtype),
                             "obs": _json_numbers(values.tolist())}
                            for name, values in graph_inputs(case, policies[case.model]).items()]}
                for case in cases]
    (work / "requests.json").write_text(json.dumps(requests))
    proc = subprocess.run(["node", str(NODE_SCRIPT), str(work / "requests.json")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"node failed: {proc.stderr[:1500]}")
    answers, by_name = {}, {case.name: case for case in cases}
    for reply in json.loads(proc.stdout):
        if "error" in reply:
            answers[reply["case"]] = Answer(400, message=reply["error"])
            continue
        policy = policies[by_name[reply["case"]].model]
        dtypes = {o.name: DATATYPES[o.type] for o in policy.session.get_outputs()}
        answers[reply["case"]] = Answer(200, {
            name: _wire(np.asarray(rows, NUMPY[dtypes[name]]))
            for name, rows in reply["outputs"].items()})
    return answers


# -- whole episodes of a recurrent policy ----------------------------------------------------

MEMORY_ENV = "tests.memory_env:Cue-v0"  # importing tests.memory_env registers it
Step = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""A runtime's step of a recurrent policy: (observations [B, *shape], states [B, S]) ->
(actions [B], next states [B, S]); B is 1 for an episode played alone."""


@dataclass
class Played:
    """What a runtime was sent and answered through `play`'s episodes, step by step: the
    observations [B, *shape], actions [B] and next states [B, S]; and each episode's return."""

    observations: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    states: list[np.ndarray] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)


def play(step: Step, state_size: int, alone: int = 4, lockstep: int = 6,
         seed: int = 300) -> Played:
    """Greedy Cue-v0 episodes through `step`, as a client plays them: `alone` episodes one
    after the other (batch 1), then `lockstep` at once (batch `lockstep`); each step sends
    the state the previous step of its episode returned, zeros at its first step."""
    played = Played()
    for i in range(alone):
        _lockstep(step, state_size, [seed + i], played)
    _lockstep(step, state_size, list(range(seed + alone, seed + alone + lockstep)), played)
    return played


def _lockstep(step: Step, state_size: int, seeds: list[int], played: Played) -> None:
    """One episode per seed, in lockstep: the rows still running step together."""
    envs = [gym.make(MEMORY_ENV) for _ in seeds]
    obs = np.stack([env.reset(seed=seed)[0] for env, seed in zip(envs, seeds, strict=True)])
    state = np.zeros((len(envs), state_size), np.float32)
    returns, live = np.zeros(len(envs)), np.ones(len(envs), bool)
    while live.any():
        rows = np.flatnonzero(live)
        actions, next_state = step(obs[rows], state[rows])
        played.observations.append(obs[rows].copy())
        played.actions.append(np.asarray(actions))
        played.states.append(np.asarray(next_state))
        state[rows] = next_state
        for row, action in zip(rows, actions, strict=True):
            obs[row], reward, terminated, truncated, _ = envs[row].step(int(action))
            returns[row] += float(reward)
            live[row] = not (terminated or truncated)
    played.returns += returns.tolist()


def policy_step(policy: serve.OnnxPolicy) -> Step:
    """serve.OnnxPolicy.act: an episode alone in act's form for one observation ([*shape]
    and state [S]), lockstep episodes as a batch."""
    def step(obs: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(obs) == 1:
            action, next_state = policy.act(obs[0], state[0])
            return np.array([action]), next_state[None]
        return policy.act(obs, state)

    return step


def v1_step(address: str) -> Step:
    """POST /v1/act {"obs", "state"}: an episode alone as one observation and its state
    [S], lockstep episodes as a batch; the answer's "state" comes back in the same form."""
    def step(obs: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        one = len(obs) == 1
        answer = _post_act(address, {"obs": (obs[0] if one else obs).tolist(),
                                     "state": (state[0] if one else state).tolist()})
        if isinstance(answer, Answer):
            raise AssertionError(f"/v1/act answered {answer.status}: {answer.message}")
        next_state = np.asarray(answer["state"], np.float32)
        return np.asarray(answer["actions"]), next_state[None] if one else next_state

    return step


def wire_step(ask: Callable[[Case], Answer], model: str) -> Step:
    """An Open Inference Protocol infer of `model` with the tensors `obs` and `state`, asked
    by `ask` (rest_answer or grpc_answer): JSON for an episode alone, binary tensors for
    lockstep episodes (REST; gRPC sends raw contents either way)."""
    def step(obs: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        binary = len(obs) > 1
        answer = ask(Case("episode", model, (
            Tensor(contract.INPUT, "FP32", obs.shape, obs),
            Tensor(contract.STATE, "FP32", state.shape, state)),
            binary_inputs=binary, binary_outputs=binary))
        if answer.status != 200:
            raise AssertionError(f"{model} answered {answer.status}: {answer.message}")
        return (answer.outputs[contract.ACTION][2].ravel(),
                answer.outputs[contract.NEXT_STATE][2])

    return step
