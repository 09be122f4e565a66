"""The conformance corpus: one list of Open Inference Protocol requests, and how each runtime
answers it, reduced to one comparable form.

A Case is a request to a model of the repository: its input tensors (name, datatype, wire
shape, values), the outputs it asks for, and how it travels (JSON data or binary tensors,
outputs as binary data); or a raw body for what only JSON can say wrong. Runtimes:

    serve-rest   python -m serve --model-repository, POST /v2/models/NAME/infer (raw HTTP)
    serve-v1     python -m serve MODEL.onnx, POST /v1/act {"obs": ...}: the observations
    serve-grpc   the same service's --grpc-port, through tritonclient.grpc
    triton-rest  a real tritonserver on the same repository (tests/triton_server.py)
    triton-grpc
    onnx-policy  serve.OnnxPolicy in-process: the request's observations, wire -> graph shape
    js-node      the JavaScript package in Node (tests/conformance_node.mjs), likewise

An Answer is the status (HTTP's; gRPC codes and in-process errors mapped onto it) and the
outputs {name: (datatype, shape, values)}. In-process runtimes take only what an in-process
call can say: the observations (`Case.in_process`).
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as tgrpc
from tritonclient.utils import InferenceServerException

import serve
from serve import contract
from serve.tensors import DATATYPES, NUMPY

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
    """Announced in binary_data_size beyond the bytes sent (REST only)."""
    transports: tuple[str, ...] = ("rest", "grpc")
    in_process: bool = False
    """Whether an in-process call can make this request: one input named as the model's,
    its observations (float32 or uint8), no version, all outputs."""


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
        cases += _value_cases(name, policy) + _error_cases(name, policy)
    return cases


def observations(policy: serve.OnnxPolicy, batch: int, seed: int) -> np.ndarray:
    """`batch` observations in the model input's wire shape and dtype."""
    rng = np.random.default_rng(seed)
    shape = policy.observation_shape or (1,)
    if policy.observation_dtype == np.uint8:
        return rng.integers(0, 256, (batch, *shape)).astype(np.uint8)
    return rng.uniform(-1.5, 1.5, (batch, *shape)).astype(np.float32)


def _spec(policy: serve.OnnxPolicy) -> tuple[str, str]:
    node = policy.session.get_inputs()[0]
    return node.name, "UINT8" if policy.observation_dtype == np.uint8 else "FP32"


def _value_cases(model: str, policy: serve.OnnxPolicy) -> list[Case]:
    input_name, datatype = _spec(policy)
    outputs = [o.name for o in policy.session.get_outputs()]

    def obs(batch: int, seed: int) -> Tensor:
        values = observations(policy, batch, seed)
        return Tensor(input_name, datatype, values.shape, values)

    return [
        Case(f"{model}/json-batch-1", model, (obs(1, 1),), in_process=True),
        Case(f"{model}/json-batch-9", model, (obs(9, 2),), in_process=True),
        Case(f"{model}/binary-batch-1", model, (obs(1, 3),), binary_inputs=True,
             binary_outputs=True, in_process=True),
        Case(f"{model}/binary-batch-64", model, (obs(64, 4),), binary_inputs=True,
             binary_outputs=True, in_process=True),
        Case(f"{model}/binary-in-json-out", model, (obs(5, 5),), binary_inputs=True),
        Case(f"{model}/one-output", model, (obs(3, 6),), outputs=(outputs[-1],)),
        Case(f"{model}/outputs-reversed", model, (obs(3, 7),), outputs=tuple(outputs[::-1]),
             binary_outputs=True),
        Case(f"{model}/version-1-with-id", model, (obs(2, 8),), version="1", id="req-7"),
    ]


def _error_cases(model: str, policy: serve.OnnxPolicy) -> list[Case]:
    input_name, datatype = _spec(policy)
    good = observations(policy, 2, 9)
    shape = good.shape
    wrong = "FP64" if datatype == "FP32" else "FP32"
    json_only = ("rest",)

    def case(name: str, *inputs: Tensor, **options) -> Case:
        return Case(f"{model}/{name}", model, inputs, **options)

    return [
        case("wrong-datatype", Tensor(input_name, wrong, shape,
                                      good.astype(NUMPY[wrong]))),
        case("wrong-rank", Tensor(input_name, datatype, shape[1:], good[0])),
        case("wrong-inner-size", Tensor(input_name, datatype, (2, shape[1] + 1),
                                        np.zeros((2, shape[1] + 1), good.dtype)),
             in_process=True),
        case("batch-0", Tensor(input_name, datatype, (0, *shape[1:]),
                               np.zeros((0, *shape[1:]), good.dtype)), binary_inputs=True),
        *([case("batch-over-max", Tensor(input_name, datatype, (MAX_BATCH + 1, *shape[1:]),
                                         np.zeros((MAX_BATCH + 1, *shape[1:]), good.dtype)),
                binary_inputs=True)] if good[0].size <= 8 else []),  # a body under 1 MiB
        case("unknown-input", Tensor("x", datatype, shape, good)),
        case("extra-input", Tensor(input_name, datatype, shape, good),
             Tensor("extra", datatype, shape, good)),
        case("no-input"),
        case("unknown-output", Tensor(input_name, datatype, shape, good), outputs=("value",)),
        Case(f"nosuch/unknown-model-via-{model}", "nosuch",
             (Tensor(input_name, datatype, shape, good),)),
        case("unknown-version", Tensor(input_name, datatype, shape, good), version="7"),
        case("json-values-short", Tensor(input_name, datatype, shape,
                                         raw=good.ravel()[:-1].tolist()),
             transports=json_only),
        case("json-strings", Tensor(input_name, datatype, shape,
                                    raw=[str(v) for v in good.ravel()]), transports=json_only),
        case("malformed-json", body=b'{"inputs": [', transports=json_only),
        *([case("nan-observation", Tensor(input_name, datatype, shape,
                                          np.where(np.eye(*shape) > 0, np.nan, good)
                                          .astype(good.dtype)),
                binary_inputs=True, in_process=True)] if datatype == "FP32" else []),
        case("binary-size-mismatch", Tensor(input_name, datatype, shape, good),
             binary_inputs=True, transports=json_only, extra_binary_bytes=4),
    ]


# -- REST ------------------------------------------------------------------------------------

def rest_body(case: Case) -> tuple[bytes, dict[str, str]]:
    """The HTTP body and headers of a case: JSON, or JSON header + binary tensors."""
    if case.body is not None:
        return case.body, {"Content-Type": "application/json"}
    tensors, chunks = [], []
    for tensor in case.inputs:
        entry: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype,
                                 "shape": list(tensor.shape)}
        if tensor.raw is not None:
            entry["data"] = tensor.raw
        elif case.binary_inputs:
            raw = np.ascontiguousarray(tensor.values, NUMPY[tensor.datatype]).tobytes()
            entry["parameters"] = {"binary_data_size": len(raw) + case.extra_binary_bytes}
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

def graph_observations(case: Case, policy: serve.OnnxPolicy) -> np.ndarray:
    """The case's observations as an in-process call takes them: [batch] for a model whose
    graph input is [batch] (its wire shape is [batch, 1])."""
    values = case.inputs[0].values
    if not policy.observation_shape and values.ndim == 2 and values.shape[1] == 1:
        return values[:, 0]
    return values


def policy_answer(policy: serve.OnnxPolicy, case: Case) -> Answer:
    try:
        values = policy.distribution(graph_observations(case, policy))
    except ValueError as exc:
        return Answer(400, message=str(exc))
    return Answer(200, {name: _wire(value) for name, value in values.items()})


def v1_answer(address: str, policy: serve.OnnxPolicy, case: Case) -> Answer:
    """POST /v1/act with the case's observations: {"actions", "probs"} or {"actions", "mean",
    "std"}, as the model's outputs (`actions` is `action`)."""
    body = json.dumps({"obs": graph_observations(case, policy).tolist()}).encode()
    request = urllib.request.Request(f"http://{address}/v1/act", body,
                                     {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, message=error.read().decode(errors="replace"))
    answer[contract.ACTION] = answer.pop("actions")
    dtypes = {o.name: DATATYPES[o.type] for o in policy.session.get_outputs()}
    return Answer(200, {name: _wire(np.asarray(answer[name], NUMPY[dtype]))
                        for name, dtype in dtypes.items()})


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
                 "dtype": "uint8" if case.inputs[0].datatype == "UINT8" else "float32",
                 "obs": _json_numbers(graph_observations(case, policies[case.model]).tolist())}
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
