"""Invalid-action masks over HTTP and gRPC: /v1/act takes "action_mask" beside "obs"; the
Open Inference Protocol (REST and gRPC) takes the optional input tensor `action_mask` BOOL
(UINT8 and INT8 of 0/1 too) [batch, P]; a refused mask gets status 400 (INVALID_ARGUMENT)
and serve.OnnxPolicy's one-line message; and no masked action is ever returned, across
100,000 rows per route under random masks.

The policies: serve/js/test/fixtures/corridor.onnx (categorical, 8 actions),
corridor_branches.onnx (MultiDiscrete [8, 2], masks of 10) and cartpole.onnx (contract 3:
no masks).
"""

import json
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as tgrpc
from tritonclient.utils import InferenceServerException

import serve
from export.triton import package
from tests.servers import free_port, request, request_raw, running_server
from tests.test_serve_masks import legal, random_masks

FIXTURES = Path(__file__).resolve().parents[1] / "serve" / "js" / "test" / "fixtures"
CORRIDOR, BRANCHES = FIXTURES / "corridor.onnx", FIXTURES / "corridor_branches.onnx"
ROWS = 10_000  # per request: 10 requests make the 100,000 rows of the masked-sampling check
CONTRACT_3 = ("this policy takes no action_mask: its file is contract 3, older than action "
              "masks (contract 6); re-export it with python -m export to pass one")


@pytest.fixture(scope="module")
def corridor_server():
    """python -m serve corridor.onnx --http --grpc-port: (HTTP port, gRPC address)."""
    grpc_port = free_port()
    with running_server(CORRIDOR, "--grpc-port", str(grpc_port), "--max-batch",
                        str(ROWS)) as port:
        yield port, f"127.0.0.1:{grpc_port}"


@pytest.fixture(scope="module")
def repository_server(tmp_path_factory):
    """python -m serve --model-repository (corridor_branches, cartpole) --grpc-port."""
    repo = tmp_path_factory.mktemp("repo")
    package(BRANCHES, repo, "branches")
    package(FIXTURES / "cartpole.onnx", repo, "cartpole")
    grpc_port = free_port()
    with running_server(None, "--model-repository", str(repo), "--grpc-port",
                        str(grpc_port)) as port:
        yield port, f"127.0.0.1:{grpc_port}"


def batch(rows: int, seed: int, sizes: tuple[int, ...] = (8,)
          ) -> tuple[np.ndarray, np.ndarray]:
    """Corridor cells float32 [rows] and random masks bool [rows, sum(sizes)]."""
    cells = np.random.default_rng(seed).integers(0, 6, rows).astype(np.float32)
    return cells, random_masks(rows, sizes, seed)


def binary_infer(cells: np.ndarray, masks: np.ndarray | None, datatype: str = "BOOL"
                 ) -> tuple[bytes, dict[str, str]]:
    """A v2 infer body in binary tensors: obs [rows, 1] and action_mask [rows, P]."""
    tensors = [("obs", "FP32", cells.reshape(-1, 1))]
    if masks is not None:
        dtype = {"BOOL": np.bool_, "UINT8": np.uint8, "INT8": np.int8}[datatype]
        tensors.append(("action_mask", datatype, masks.astype(dtype)))
    header = json.dumps({"inputs": [
        {"name": name, "datatype": kind, "shape": list(values.shape),
         "parameters": {"binary_data_size": values.nbytes}} for name, kind, values in tensors],
        "parameters": {"binary_data_output": True}}).encode()
    body = header + b"".join(values.tobytes() for _, _, values in tensors)
    return body, {"Content-Type": "application/octet-stream",
                  "Inference-Header-Content-Length": str(len(header))}


def binary_outputs(headers: dict, content: bytes) -> dict[str, np.ndarray]:
    length = int(headers["inference-header-content-length"])
    offset, found = length, {}
    for output in json.loads(content[:length])["outputs"]:
        size = output["parameters"]["binary_data_size"]
        dtype = {"FP32": np.float32, "INT64": np.int64}[output["datatype"]]
        found[output["name"]] = np.frombuffer(content[offset:offset + size],
                                              dtype).reshape(output["shape"])
        offset += size
    return found


def grpc_tensors(cells: np.ndarray, masks: np.ndarray | None, datatype: str = "BOOL"):
    tensors = [tgrpc.InferInput("obs", [len(cells), 1], "FP32")]
    tensors[0].set_data_from_numpy(cells.reshape(-1, 1))
    if masks is not None:
        tensors.append(tgrpc.InferInput("action_mask", list(masks.shape), datatype))
        tensors[1].set_data_from_numpy(masks.astype(
            {"BOOL": np.bool_, "UINT8": np.uint8, "INT8": np.int8}[datatype]))
    return tensors


# -- no masked action, ever ------------------------------------------------------------------
def test_v1_never_returns_a_masked_action_sampled_or_greedy(corridor_server):
    port, _ = corridor_server
    for seed in range(10):
        cells, masks = batch(ROWS, seed)
        deterministic = seed % 5 == 0  # one greedy request in five
        status, body = request(port, "POST", "/v1/act", {
            "obs": cells.tolist(), "action_mask": masks.tolist(),
            "deterministic": deterministic}, timeout=60)
        assert status == 200, body
        assert legal(np.asarray(body["actions"]), masks, (8,)).all()
        assert (np.asarray(body["probs"])[~masks] == 0).all()


def test_v2_rest_and_grpc_never_return_a_masked_action(corridor_server):
    port, grpc = corridor_server
    client = tgrpc.InferenceServerClient(grpc)
    for seed in range(10):
        cells, masks = batch(ROWS, 100 + seed)
        if seed % 2:
            body, headers = binary_infer(cells, masks)
            status, answer_headers, content = request_raw(
                port, "POST", "/v2/models/corridor/infer", body, headers, timeout=60)
            assert status == 200, content[:300]
            outputs = binary_outputs(answer_headers, content)
        else:
            result = client.infer("corridor", grpc_tensors(cells, masks))
            outputs = {name: result.as_numpy(name) for name in ("action", "probs")}
        assert legal(outputs["action"], masks, (8,)).all()
        assert (outputs["probs"][~masks] == 0).all()


# -- the answers are OnnxPolicy's ------------------------------------------------------------
def test_every_route_answers_as_onnx_policy_with_and_without_a_mask(corridor_server):
    port, grpc = corridor_server
    policy = serve.OnnxPolicy(CORRIDOR)
    cells, masks = batch(5, 7)
    client = tgrpc.InferenceServerClient(grpc)
    for given in (masks, None):
        expected = policy.distribution(cells, action_mask=given)
        body = {"obs": cells.tolist(), **({} if given is None else
                                          {"action_mask": given.astype(int).tolist()})}
        status, answer = request(port, "POST", "/v1/act", body)
        assert status == 200 and answer["actions"] == expected["action"].tolist()
        np.testing.assert_array_equal(np.float32(answer["probs"]), expected["probs"])
        for datatype in ("BOOL", "UINT8", "INT8"):
            body, headers = binary_infer(cells, given, datatype)
            status, answer_headers, content = request_raw(
                port, "POST", "/v2/models/corridor/infer", body, headers)
            rest = binary_outputs(answer_headers, content)
            result = client.infer("corridor", grpc_tensors(cells, given, datatype))
            for output, value in expected.items():
                wire = value.reshape(len(value), -1)
                np.testing.assert_array_equal(rest[output], wire)
                np.testing.assert_array_equal(result.as_numpy(output), wire)
    # JSON data: true/false (Triton's form for BOOL), or 0/1 numbers
    expected = policy.distribution(cells, action_mask=masks)
    for data in (masks.tolist(), masks.astype(int).tolist()):
        status, answer = request(port, "POST", "/v2/models/corridor/infer", {"inputs": [
            {"name": "obs", "datatype": "FP32", "shape": [5, 1], "data": cells.tolist()},
            {"name": "action_mask", "datatype": "BOOL", "shape": [5, 8], "data": data}]})
        assert status == 200, answer
        outputs = {o["name"]: o["data"] for o in answer["outputs"]}
        assert outputs["action"] == expected["action"].tolist()


def test_v1_takes_a_multi_discrete_mask_per_branch():
    with running_server(BRANCHES) as port:
        mask = [[0, 0, 0, 1, 0, 0, 0, 0], [0, 1]]
        for deterministic in (True, False):
            status, body = request(port, "POST", "/v1/act", {
                "obs": 0, "action_mask": mask, "deterministic": deterministic})
            assert (status, body["actions"]) == (200, [[3, 1]])
        status, body = request(port, "GET", "/v1/metadata")
        assert status == 200 and body["action_mask_size"] == 10


# -- metadata ----------------------------------------------------------------------------------
def test_the_metadata_lists_the_mask_input_as_optional(corridor_server):
    port, grpc = corridor_server
    status, body = request(port, "GET", "/v1/metadata")
    assert status == 200 and body["action_mask_size"] == 8
    status, body = request(port, "GET", "/v2/models/corridor")
    assert status == 200 and {"name": "action_mask", "datatype": "BOOL",
                              "shape": [-1, 8]} in body["inputs"]
    assert body["parameters"]["optional_inputs"] == ["action_mask"]
    metadata = tgrpc.InferenceServerClient(grpc).get_model_metadata("corridor", as_json=True)
    assert {"name": "action_mask", "datatype": "BOOL", "shape": ["-1", "8"]} in metadata[
        "inputs"]
    status, config = request(port, "GET", "/v2/models/corridor/config")
    assert status == 200 and {"name": "action_mask", "data_type": "TYPE_BOOL", "dims": [8],
                              "optional": True} in config["input"]
    status, schema = request(port, "GET", "/openapi.json")
    assert status == 200 and "action_mask" in schema["components"]["schemas"]["ActRequest"][
        "properties"]


# -- refusals: status 400 and OnnxPolicy's message ---------------------------------------------
BAD_V1 = [
    ({"obs": 0, "action_mask": [1] * 7},
     "action_mask must be true/false or 0/1 of shape [8] for one observation; got shape [7]"),
    ({"obs": [0, 1], "action_mask": [1] * 8},
     "action_mask must be true/false or 0/1 of shape [2, 8] for a batch of 2; got shape [8]"),
    ({"obs": [0, 1], "action_mask": [[1] * 8, [1] * 7]},
     "action_mask must be true/false or 0/1 of shape [2, 8] for a batch of 2; got nested lists "
     "of different lengths"),
    ({"obs": 0, "action_mask": [2] + [0] * 7},
     "action_mask must hold true/false or 0/1 only; row 0 has another value at action 0"),
    ({"obs": [0, 1], "action_mask": [[True] * 8, [False] * 8]},
     "action_mask allows no action in row 1; every row needs a legal action"),
]


@pytest.mark.parametrize("body,message", BAD_V1)
def test_v1_refuses_a_bad_mask_with_onnx_policys_message(corridor_server, body, message):
    port, _ = corridor_server
    assert request(port, "POST", "/v1/act", body) == (400, {"detail": message})
    with pytest.raises(ValueError) as info:
        serve.OnnxPolicy(CORRIDOR).act(body["obs"], action_mask=body["action_mask"])
    assert str(info.value) == message


def test_v1_refuses_a_mask_of_the_wrong_form_as_a_body_error(corridor_server):
    port, _ = corridor_server
    status, body = request(port, "POST", "/v1/act", {"obs": 0, "action_mask": ["yes"] * 8})
    assert status == 422 and body["detail"].startswith("action_mask[0]: ")


def test_v1_refuses_a_mask_given_to_a_policy_without_masks():
    with running_server(FIXTURES / "cartpole.onnx") as port:
        assert request(port, "POST", "/v1/act", {"obs": [0, 0, 0, 0], "action_mask": [1, 1]}
                       ) == (400, {"detail": CONTRACT_3})
        status, body = request(port, "GET", "/v1/metadata")
        assert status == 200 and body["action_mask_size"] is None


def v2_error(port: int, grpc: str, model: str, cells: np.ndarray, masks: np.ndarray,
             datatype: str = "BOOL") -> tuple[str, str]:
    """(REST's error, gRPC's) for an infer of `model` with these binary tensors."""
    body, headers = binary_infer(cells, masks, datatype)
    status, answer = request(port, "POST", f"/v2/models/{model}/infer", body, headers)
    assert status == 400, answer
    with pytest.raises(InferenceServerException) as error:
        tgrpc.InferenceServerClient(grpc).infer(model, grpc_tensors(cells, masks, datatype))
    assert str(error.value.status()) == "StatusCode.INVALID_ARGUMENT"
    return answer["error"], error.value.message()


def test_v2_refuses_a_bad_mask_with_onnx_policys_message(repository_server):
    port, grpc = repository_server
    cells = np.zeros(2, np.float32)
    stuck = np.ones((2, 10), bool)
    stuck[1, 8:] = False
    wrong = np.ones((2, 10), np.uint8)
    wrong[0, 4] = 3
    for masks, datatype, message in [
            (stuck, "BOOL", "action_mask allows no action in row 1 (branch 1); every row "
                            "needs a legal action in every branch"),
            (wrong, "UINT8", "action_mask must hold true/false or 0/1 only; row 0 has "
                             "another value at action 4")]:
        assert v2_error(port, grpc, "branches", cells, masks, datatype) == (message, message)
        with pytest.raises(ValueError, match=r"^action_mask "):
            serve.OnnxPolicy(BRANCHES).distribution(cells, action_mask=masks)
    message = ("input 'action_mask' has datatype FP32; the model takes BOOL (or INT8 or "
               "UINT8 of 0 and 1)")
    status, answer = request(port, "POST", "/v2/models/branches/infer", {"inputs": [
        {"name": "obs", "datatype": "FP32", "shape": [1, 1], "data": [0]},
        {"name": "action_mask", "datatype": "FP32", "shape": [1, 10], "data": [1] * 10}]})
    assert (status, answer) == (400, {"error": message})
    status, answer = request(port, "POST", "/v2/models/branches/infer", {"inputs": [
        {"name": "obs", "datatype": "FP32", "shape": [1, 1], "data": [True]}]})
    assert (status, answer) == (400, {"error": "input 'obs': data holds true/false; FP32 "
                                               "takes numbers"})


def test_v2_refuses_a_mask_given_to_a_model_without_masks(repository_server):
    port, grpc = repository_server
    status, body = request(port, "POST", "/v2/models/cartpole/infer", {"inputs": [
        {"name": "obs", "datatype": "FP32", "shape": [1, 4], "data": [0, 0, 0, 0]},
        {"name": "action_mask", "datatype": "BOOL", "shape": [1, 2], "data": [True, True]}]})
    assert (status, body) == (400, {"error": CONTRACT_3})
    obs = tgrpc.InferInput("obs", [1, 4], "FP32")
    obs.set_data_from_numpy(np.zeros((1, 4), np.float32))
    mask = tgrpc.InferInput("action_mask", [1, 2], "BOOL")
    mask.set_data_from_numpy(np.ones((1, 2), bool))
    with pytest.raises(InferenceServerException) as error:
        tgrpc.InferenceServerClient(grpc).infer("cartpole", [obs, mask])
    assert error.value.message() == CONTRACT_3
    status, body = request(port, "GET", "/v2/models/cartpole")
    assert status == 200 and body["parameters"]["optional_inputs"] == []
