"""The Open Inference Protocol (v2) routes, through Triton's own client (tritonclient.http)
and raw requests, against a `python -m serve --http` started by the test."""

import json

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

import serve
from tests.linear_policies import HUGE_OBS, continuous_policy, discrete_answer, discrete_policy
from tests.servers import request, request_raw, running_server

V2_ROUTES = {"/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{name}",
             "/v2/models/{name}/ready", "/v2/models/{name}/infer",
             "/v2/models/{name}/versions/{version}",
             "/v2/models/{name}/versions/{version}/ready",
             "/v2/models/{name}/versions/{version}/infer", "/v2/models/{name}/config",
             "/v2/models/{name}/versions/{version}/config", "/v2/models/stats",
             "/v2/models/{name}/stats", "/v2/models/{name}/versions/{version}/stats",
             "/v2/repository/index"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Two servers: a discrete policy (model "policy"), a continuous one ("pendulum")."""
    tmp = tmp_path_factory.mktemp("v2")
    paths = {"discrete": discrete_policy(tmp / "policy.onnx"),
             "continuous": continuous_policy(tmp / "gauss.onnx")}
    with running_server(paths["discrete"], "--max-batch", "64") as discrete_port, \
            running_server(paths["continuous"], "--model-name", "pendulum") as continuous_port:
        yield {"discrete": (discrete_port, "policy", serve.OnnxPolicy(paths["discrete"])),
               "continuous": (continuous_port, "pendulum",
                              serve.OnnxPolicy(paths["continuous"]))}


def client(port: int) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(f"127.0.0.1:{port}")


def test_health_and_server_metadata(servers):
    port, name, _ = servers["discrete"]
    triton_client = client(port)
    assert triton_client.is_server_live() and triton_client.is_server_ready()
    assert triton_client.is_model_ready(name) and triton_client.is_model_ready(name, "1")
    assert not triton_client.is_model_ready("other")
    assert triton_client.get_server_metadata()["extensions"] == [
        "binary_tensor_data", "model_configuration", "model_repository", "statistics"]
    assert request(port, "GET", "/v2/health/live") == (200, {"live": True})
    assert request(port, "GET", "/v2/health/ready") == (200, {"ready": True})


@pytest.mark.parametrize("kind,outputs", [
    # [batch] in the graph travels as [batch, 1], as Triton presents it
    ("discrete", [("action", "INT64", [-1, 1]), ("probs", "FP32", [-1, 2])]),
    ("continuous", [("mean", "FP32", [-1, 1]), ("std", "FP32", [-1, 1]),
                    ("action", "FP32", [-1, 1])]),
])
def test_model_metadata_names_inputs_outputs_and_version(servers, kind, outputs):
    port, name, policy = servers[kind]
    metadata = client(port).get_model_metadata(name)
    obs_dim = policy.observation_shape[0]
    assert metadata["name"] == name and metadata["versions"] == ["1"]
    assert metadata["platform"] == "onnxruntime_onnx"
    assert metadata["inputs"] == [{"name": "obs", "datatype": "FP32", "shape": [-1, obs_dim]}]
    assert sorted((o["name"], o["datatype"], o["shape"]) for o in metadata["outputs"]) == \
        sorted(outputs)
    assert metadata["parameters"]["version"] == 1
    assert len(metadata["parameters"]["sha256"]) == 12
    assert client(port).get_model_metadata(name, "1") == metadata


@pytest.mark.parametrize("kind", ["discrete", "continuous"])
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_results_equal_onnx_policy(servers, kind, binary):
    port, name, policy = servers[kind]
    obs = np.random.default_rng(1).uniform(-2, 2, (7, *policy.observation_shape))
    obs = obs.astype(np.float32)
    expected = policy.distribution(obs)
    tensor = triton.InferInput("obs", list(obs.shape), "FP32")
    tensor.set_data_from_numpy(obs, binary_data=binary)
    every = client(port).infer(name, [tensor])  # no outputs named: all, as binary data
    assert {o["name"] for o in every.get_response()["outputs"]} == set(expected)
    for output, value in expected.items():
        np.testing.assert_array_equal(every.as_numpy(output), wire(value))
    chosen = [triton.InferRequestedOutput("action", binary_data=binary)]
    result = client(port).infer(name, [tensor], outputs=chosen, request_id="r-1",
                                model_version="1")
    assert [o["name"] for o in result.get_response()["outputs"]] == ["action"]
    assert result.get_response()["id"] == "r-1"
    np.testing.assert_array_equal(result.as_numpy("action"), wire(expected["action"]))
    if kind == "discrete":  # and the hand-computed answer
        probs, actions = discrete_answer(obs)
        np.testing.assert_allclose(every.as_numpy("probs"), probs, rtol=1e-6, atol=1e-7)
        assert every.as_numpy("action").shape == (7, 1)
        np.testing.assert_array_equal(every.as_numpy("action")[:, 0], actions)


def wire(value: np.ndarray) -> np.ndarray:
    """A graph output as the protocol presents it: [batch] as [batch, 1]."""
    return value[:, None] if value.ndim == 1 else value


def test_json_tensors_flat_or_nested_answer_as_json(servers):
    port, name, policy = servers["discrete"]
    obs = [[0.5, -0.25, 1.0, 2.0], [1, 2, 3, 4]]
    for data in (obs, [x for row in obs for x in row]):
        status, body = request(port, "POST", f"/v2/models/{name}/infer", {
            "inputs": [{"name": "obs", "shape": [2, 4], "datatype": "FP32", "data": data}]})
        assert status == 200 and body["model_name"] == name and body["model_version"] == "1"
        outputs = {o["name"]: o for o in body["outputs"]}
        assert outputs["action"] == {"name": "action", "datatype": "INT64", "shape": [2, 1],
                                     "data": policy.act(obs).tolist()}
        assert outputs["probs"]["shape"] == [2, 2] and outputs["probs"]["datatype"] == "FP32"
        np.testing.assert_allclose(outputs["probs"]["data"], policy.probs(obs).ravel())


def infer_body(data=(0.0, 0.0, 0.0, 0.0), shape=(1, 4), datatype="FP32", **tensor):
    return {"inputs": [{"name": "obs", "shape": list(shape), "datatype": datatype,
                        "data": list(data), **tensor}]}


@pytest.mark.parametrize("body,status,error", [
    (b'{"inputs": [', 400, "the body is not valid JSON: EOF while parsing"),
    ({"inputs": [{"name": "obs", "shape": [1, "4"], "datatype": "FP32", "data": [0] * 4}]},
     400, 'inputs[0].shape[1]: Input should be a valid integer, got "4"'),
    (infer_body(data=[0, "0.5", 0, 0]), 400,
     'inputs[0].data[1]: Input should be a valid number, got "0.5"'),
    (infer_body(data=[0, True, 0, 0]), 400,
     "inputs[0].data[1]: Input should be a valid number, got true"),
    (infer_body(datatype="FP64"), 400, "input 'obs' has datatype FP64; the model takes FP32"),
    (infer_body(shape=(4,)), 400, "input 'obs' has shape [4]; the model takes [-1, 4]"),
    (infer_body(shape=(1, 3)), 400, "input 'obs' has shape [1, 3]; the model takes [-1, 4]"),
    (infer_body(shape=(2, 4)), 400, "input 'obs' has 4 values; shape [2, 4] needs 8"),
    (infer_body(data=[[0, 0], [0, 0, 0]]), 400, "input 'obs': data is a ragged nested list"),
    ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [0] * 4}]}, 400,
     "the request has inputs ['x']; the model takes one, 'obs'"),
    ({**infer_body(), "outputs": [{"name": "logits"}]}, 400,
     "unknown output(s) ['logits']; the model has ['probs', 'action']"),
    (infer_body(data=[1e39, 0, 0, 0]), 400, "obs contains NaN or inf"),
    (infer_body(data=HUGE_OBS), 422, "policy output 'probs' is NaN or inf for observation 0"),
    (infer_body(data=[0] * 260, shape=(65, 4)), 400,  # as Triton answers over max_batch_size
     "batch of 65 observations is over the limit of 64 (--max-batch)"),
])
def test_bad_infer_requests_get_the_protocols_error_form(servers, body, status, error):
    port, name, _ = servers["discrete"]
    got_status, got = request(port, "POST", f"/v2/models/{name}/infer", body)
    assert got_status == status and list(got) == ["error"]
    assert got["error"].startswith(error), got["error"]
    assert request(port, "POST", f"/v2/models/{name}/infer", infer_body())[0] == 200


def test_binary_data_that_does_not_add_up_is_refused(servers):
    port, name, _ = servers["discrete"]
    header = json.dumps({"inputs": [{"name": "obs", "shape": [1, 4], "datatype": "FP32",
                                     "parameters": {"binary_data_size": 16}}]}).encode()
    obs = np.zeros(4, "<f4").tobytes()
    for extra, length, error in [
            (b"", str(len(header)), "input 'obs': binary_data_size is 16 with 0 bytes left"),
            (obs + b"xx", str(len(header)), "2 bytes of binary data follow"),
            (obs, "99999", "Inference-Header-Content-Length is '99999'")]:
        status, _, content = request_raw(
            port, "POST", f"/v2/models/{name}/infer", header + extra,
            {"Inference-Header-Content-Length": length})
        assert status == 400 and json.loads(content)["error"].startswith(error)
    status, headers, content = request_raw(
        port, "POST", f"/v2/models/{name}/infer", header + obs,
        {"Inference-Header-Content-Length": str(len(header))})
    assert status == 200 and headers["content-type"] == "application/json"


def test_unknown_models_versions_and_compressed_bodies(servers):
    port, name, _ = servers["discrete"]
    assert request(port, "GET", "/v2/models/other") == (
        404, {"error": "unknown model 'other'; this server has policy"})
    assert request(port, "GET", f"/v2/models/{name}/versions/7") == (
        404, {"error": "model 'policy' has no version '7'; version 1 is served"})
    # readiness of an unknown version: 400, as Triton answers
    assert request(port, "GET", f"/v2/models/{name}/versions/7/ready")[0] == 400
    status, body = request(port, "POST", f"/v2/models/{name}/infer", infer_body(),
                           {"Content-Encoding": "gzip"})
    assert status == 415 and "compressed request bodies are not supported" in body["error"]
    with pytest.raises(InferenceServerException, match="unknown model 'other'"):
        tensor = triton.InferInput("obs", [1, 4], "FP32")
        tensor.set_data_from_numpy(np.zeros((1, 4), np.float32))
        client(port).infer("other", [tensor])


def test_bodies_over_the_bound_get_413_in_the_protocols_form(tmp_path):
    path = discrete_policy(tmp_path / "policy.onnx")
    with running_server(path, "--max-body-bytes", "1000") as port:
        status, body = request(port, "POST", "/v2/models/policy/infer",
                               infer_body(data=[0.123456789] * 400, shape=(100, 4)))
        assert status == 413 and body == {"error": "request body over 1000 bytes "
                                                   "(--max-body-bytes)"}
        assert request(port, "POST", "/v1/act", {"obs": [[0.123456789] * 4] * 100}) == (
            413, {"detail": "request body over 1000 bytes (--max-body-bytes)"})
        assert request(port, "POST", "/v2/models/policy/infer", infer_body())[0] == 200


def test_openapi_schema_includes_the_v2_routes_and_bodies(servers):
    port, _, _ = servers["discrete"]
    status, schema = request(port, "GET", "/openapi.json")
    assert status == 200 and V2_ROUTES | {"/v1/act", "/v1/metadata", "/healthz"} <= set(
        schema["paths"])
    infer = schema["paths"]["/v2/models/{name}/infer"]["post"]
    body = infer["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/InferRequest"}
    components = schema["components"]["schemas"]
    assert {"InferRequest", "InferInput", "ActRequest", "Numbers", "ModelMetadata"} <= set(
        components)
    assert components["ActRequest"]["properties"]["deterministic"]["type"] == "boolean"
    for path, operations in schema["paths"].items():  # every path parameter is declared
        for operation in operations.values():
            declared = {p["name"] for p in operation.get("parameters", [])}
            assert {part[1:-1] for part in path.split("/") if part.startswith("{")} <= declared


def test_large_bodies_decoded_in_a_worker_process_answer_the_same(servers):
    port, name, policy = servers["continuous"]
    obs = np.random.default_rng(2).uniform(-1, 1, (5000, 3)).astype(np.float32)
    tensor = triton.InferInput("obs", list(obs.shape), "FP32")
    tensor.set_data_from_numpy(obs, binary_data=False)  # ~100 KiB of JSON: over 64 KiB
    result = client(port).infer(name, [tensor])
    for output, value in policy.distribution(obs).items():
        np.testing.assert_array_equal(result.as_numpy(output), value)
    status, body = request(port, "POST", "/v1/act", {"obs": obs.tolist()})
    assert status == 200
    np.testing.assert_array_equal(np.array(body["actions"], np.float32), policy.act(obs))


def test_two_worker_processes_answer_alike(tmp_path):
    path = discrete_policy(tmp_path / "policy.onnx")
    obs = np.random.default_rng(3).uniform(-1, 1, (4, 4)).astype(np.float32)
    expected = serve.OnnxPolicy(path).distribution(obs)
    with running_server(path, "--workers", "2") as port:
        for _ in range(20):
            tensor = triton.InferInput("obs", [4, 4], "FP32")
            tensor.set_data_from_numpy(obs)
            result = client(port).infer("policy", [tensor])
            np.testing.assert_array_equal(result.as_numpy("probs"), expected["probs"])
        assert request(port, "POST", "/v1/act", {"obs": obs.tolist()})[1]["actions"] == \
            expected["action"].tolist()
