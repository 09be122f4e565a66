"""The Open Inference Protocol over gRPC (serve/grpc_v2.py), through Triton's own client
(tritonclient.grpc) and raw stubs, against `python -m serve --http --grpc-port N` started by
the test: the same models, answers, errors and statistics as its REST routes."""

import os
import shutil
import time

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from google.protobuf.json_format import ParseDict
from tritonclient.grpc import model_config_pb2, service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

import serve
from tests.linear_policies import HUGE_OBS, W_DISCRETE, discrete_answer, discrete_policy
from tests.servers import free_port, request, running_server
from tests.test_serve_envs import IMAGE_SPACE, discrete, frames, image_policy, keras_pg_metadata
from tests.test_triton import lake_policy

KEY = "grpc-test-key-0123456789"
AUTH = {"authorization": f"Bearer {KEY}"}
REST_AUTH = {"Authorization": f"Bearer {KEY}"}


class Server:
    """One running service: its REST and gRPC ports, and clients of both."""

    def __init__(self, http_port: int, grpc_port: int, headers: dict | None = None):
        self.http_port, self.grpc_port, self.headers = http_port, grpc_port, headers or {}
        self.grpc = triton_grpc.InferenceServerClient(f"127.0.0.1:{grpc_port}")
        self.rest = triton_http.InferenceServerClient(f"127.0.0.1:{http_port}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        self.stub = service_pb2_grpc.GRPCInferenceServiceStub(self.channel)

    def rest_headers(self) -> dict:
        return REST_AUTH if self.headers else {}

    def infer_both(self, model, array, name="obs", datatype="FP32", outputs=None,
                   version=""):
        """(REST's result or exception, gRPC's) for the same request of tritonclient."""
        answers = []
        for client, module, headers in [(self.rest, triton_http, self.rest_headers()),
                                        (self.grpc, triton_grpc, self.headers)]:
            tensor = module.InferInput(name, list(array.shape), datatype)
            tensor.set_data_from_numpy(array)
            wanted = [module.InferRequestedOutput(o) for o in outputs] if outputs else None
            try:
                answers.append(client.infer(model, [tensor], outputs=wanted,
                                            model_version=version, headers=headers))
            except InferenceServerException as exc:
                answers.append(exc)
        return answers


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """"policy" (discrete, --max-batch 64) alone; a repository of "lake" (Discrete
    observations) and "image" (uint8 frames) behind an API key."""
    tmp = tmp_path_factory.mktemp("grpc")
    policy = discrete_policy(tmp / "policy.onnx")
    repository = tmp / "repo"
    for name, write in [("lake", lake_policy), ("image", lambda path: image_policy(
            path, keras_pg_metadata("ServeTestChannels-v0", IMAGE_SPACE, discrete(3))))]:
        (repository / name / "1").mkdir(parents=True)
        write(repository / name / "1" / "model.onnx")
    single_grpc, repository_grpc = free_port(), free_port()
    env = {**os.environ, "KERAS_PG_API_KEY": KEY}
    with running_server(policy, "--max-batch", "64", "--grpc-port", str(single_grpc)) as a, \
            running_server(None, "--model-repository", str(repository), "--grpc-port",
                           str(repository_grpc), env=env) as b:
        yield {"single": Server(a, single_grpc), "repository": Server(b, repository_grpc, AUTH),
               "policy": serve.OnnxPolicy(policy),
               "lake": serve.OnnxPolicy(repository / "lake" / "1" / "model.onnx")}


def test_health_and_server_metadata(servers):
    server = servers["single"]
    assert server.grpc.is_server_live() and server.grpc.is_server_ready()
    assert server.grpc.is_model_ready("policy") and server.grpc.is_model_ready("policy", "1")
    assert not server.grpc.is_model_ready("other")
    assert not server.grpc.is_model_ready("policy", "2")
    metadata = server.grpc.get_server_metadata(as_json=True)
    assert metadata["name"] == "keras-pg"
    assert metadata["extensions"] == request(server.http_port, "GET", "/v2")[1]["extensions"]


def test_model_metadata_has_wire_shapes_as_rest_does(servers):
    server = servers["single"]
    metadata = server.grpc.get_model_metadata("policy")
    assert metadata.name == "policy" and list(metadata.versions) == ["1"]
    assert metadata.platform == "onnxruntime_onnx"
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
        ("obs", "FP32", [-1, 4])]
    assert sorted((t.name, t.datatype, list(t.shape)) for t in metadata.outputs) == [
        ("action", "INT64", [-1, 1]), ("probs", "FP32", [-1, 2])]
    rest = request(server.http_port, "GET", "/v2/models/policy")[1]
    del rest["parameters"]  # keras-pg's; the gRPC message has no such field
    assert metadata == ParseDict(rest, service_pb2.ModelMetadataResponse())
    assert server.grpc.get_model_metadata("policy", "1") == metadata
    lake = servers["repository"].grpc.get_model_metadata("lake", headers=AUTH)
    assert [list(t.shape) for t in lake.inputs] == [[-1, 1]]


@pytest.mark.parametrize("batch", [1, 9])
def test_infer_equals_the_policy_and_rest(servers, batch):
    server, policy = servers["single"], servers["policy"]
    obs = np.random.default_rng(batch).uniform(-2, 2, (batch, 4)).astype(np.float32)
    rest, answer = server.infer_both("policy", obs)
    expected = policy.distribution(obs)
    assert [o.name for o in answer.get_response().outputs] == list(expected)
    np.testing.assert_array_equal(answer.as_numpy("probs"), expected["probs"])
    np.testing.assert_array_equal(answer.as_numpy("action"),
                                  expected["action"].reshape(batch, 1))
    probs, actions = discrete_answer(obs)  # and by hand
    np.testing.assert_allclose(answer.as_numpy("probs"), probs, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(answer.as_numpy("action").ravel(), actions)
    for output in expected:
        np.testing.assert_array_equal(answer.as_numpy(output), rest.as_numpy(output))
    response = answer.get_response()
    assert response.model_name == "policy" and response.model_version == "1"


def test_requested_outputs_only_and_the_id_echoed(servers):
    server = servers["single"]
    obs = np.ones((2, 4), np.float32)
    tensor = triton_grpc.InferInput("obs", [2, 4], "FP32")
    tensor.set_data_from_numpy(obs)
    answer = server.grpc.infer("policy", [tensor], request_id="r-7", model_version="1",
                               outputs=[triton_grpc.InferRequestedOutput("action")])
    response = answer.get_response()
    assert [o.name for o in response.outputs] == ["action"] and response.id == "r-7"
    assert len(response.raw_output_contents) == 1
    np.testing.assert_array_equal(answer.as_numpy("action"),
                                  servers["policy"].act(obs).reshape(2, 1))


def test_typed_contents_answer_as_raw_contents_do(servers):
    server = servers["single"]
    obs = np.random.default_rng(3).uniform(-1, 1, (3, 4)).astype(np.float32)
    typed = service_pb2.ModelInferRequest(model_name="policy")
    typed.inputs.add(name="obs", datatype="FP32", shape=[3, 4]).contents.fp32_contents.extend(
        obs.ravel().tolist())
    response = server.stub.ModelInfer(typed)
    outputs = {o.name: (o.datatype, list(o.shape)) for o in response.outputs}
    assert outputs == {"probs": ("FP32", [3, 2]), "action": ("INT64", [3, 1])}
    values = dict(zip(outputs, response.raw_output_contents, strict=True))
    expected = servers["policy"].distribution(obs)
    np.testing.assert_array_equal(np.frombuffer(values["probs"], "<f4").reshape(3, 2),
                                  expected["probs"])
    np.testing.assert_array_equal(np.frombuffer(values["action"], "<i8"), expected["action"])


def test_a_discrete_observation_travels_as_batch_by_one(servers):
    server, lake = servers["repository"], servers["lake"]
    obs = np.array([[0], [3], [15], [7]], np.float32)
    rest, answer = server.infer_both("lake", obs)
    expected = lake.distribution(obs.ravel())
    np.testing.assert_array_equal(answer.as_numpy("action"), expected["action"].reshape(4, 1))
    np.testing.assert_array_equal(answer.as_numpy("probs"), expected["probs"])
    np.testing.assert_array_equal(answer.as_numpy("action"), rest.as_numpy("action"))


def test_uint8_frames_raw_or_typed_and_out_of_range_values(servers):
    server = servers["repository"]
    batch = frames(2)
    _, answer = server.infer_both("image", batch, datatype="UINT8")
    sums = batch.reshape(2, -1, 3).astype(np.float64).sum(axis=1) / 255
    np.testing.assert_array_equal(answer.as_numpy("action").ravel(), sums.argmax(axis=1))
    typed = service_pb2.ModelInferRequest(model_name="image")
    contents = typed.inputs.add(name="obs", datatype="UINT8", shape=[2, 8, 8, 3]).contents
    contents.uint_contents.extend(batch.ravel().tolist())
    response = server.stub.ModelInfer(typed, metadata=tuple(AUTH.items()))
    assert response.raw_output_contents[1] == answer.get_response().raw_output_contents[1]
    contents.uint_contents[0] = 256  # a uint8 cannot hold it: refused, not wrapped to 0
    with pytest.raises(grpc.RpcError) as refused:
        server.stub.ModelInfer(typed, metadata=tuple(AUTH.items()))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == ("obs must be integers in [0, 255] for this policy's "
                                       "uint8 input, got 256.0")


OBS = np.zeros((1, 4), np.float32)


@pytest.mark.parametrize("arguments,status,code,message", [
    ({"array": OBS.astype(np.float64), "datatype": "FP64"}, "400", "INVALID_ARGUMENT",
     "input 'obs' has datatype FP64; the model takes FP32"),
    ({"array": np.zeros((1, 3), np.float32)}, "400", "INVALID_ARGUMENT",
     "input 'obs' has shape [1, 3]; the model takes [-1, 4]"),
    ({"array": OBS, "name": "x"}, "400", "INVALID_ARGUMENT",
     "the request has inputs ['x']; the model takes one, 'obs'"),
    ({"array": OBS, "outputs": ["action", "value"]}, "400", "INVALID_ARGUMENT",
     "unknown output(s) ['value']; the model has ['probs', 'action']"),
    ({"array": OBS, "model": "other"}, "404", "NOT_FOUND",
     "unknown model 'other'; this server has policy"),
    ({"array": OBS, "version": "7"}, "404", "NOT_FOUND",
     "model 'policy' has no version '7'; version 1 is served"),
    ({"array": np.zeros((65, 4), np.float32)}, "400", "INVALID_ARGUMENT",
     "batch of 65 observations is over the limit of 64 (--max-batch)"),
    ({"array": np.array([HUGE_OBS], np.float32)}, "422", "INVALID_ARGUMENT",
     "policy output 'probs' is NaN or inf for observation 0 (of 1)"),
])
def test_errors_have_rests_message_and_tritons_code(servers, arguments, status, code, message):
    arguments = {"model": "policy", **arguments}
    rest, answer = servers["single"].infer_both(arguments.pop("model"), **arguments)
    assert isinstance(answer, InferenceServerException), answer
    assert answer.status() == f"StatusCode.{code}" and rest.status() == status
    assert answer.message() == rest.message() and answer.message().startswith(message)


def test_malformed_raw_contents_are_invalid(servers):
    stub = servers["single"].stub
    request_ = service_pb2.ModelInferRequest(model_name="policy")
    request_.inputs.add(name="obs", datatype="FP32", shape=[1, 4])
    for raw, message in [
            ([b"\0" * 12], "input 'obs': raw_input_contents holds 12 bytes; shape [1, 4] of "
                           "FP32 needs 16"),
            ([b"\0" * 16] * 2, "raw_input_contents has 2 entries; the request's 1 input(s) "
                               "need one each, or none"),
            ([], "input 'obs' has 0 values; shape [1, 4] needs 4")]:
        del request_.raw_input_contents[:]
        request_.raw_input_contents.extend(raw)
        with pytest.raises(grpc.RpcError) as refused:
            stub.ModelInfer(request_)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.details() == message


def test_a_message_over_the_body_bound_is_resource_exhausted(servers):
    big = np.zeros((64, 5000), np.float32)  # 1.28 MB > --max-body-bytes' default 1 MiB
    _, answer = servers["single"].infer_both("policy", big)
    assert answer.status() == "StatusCode.RESOURCE_EXHAUSTED"


def test_api_key_required_but_for_health(servers):
    client = servers["repository"].grpc
    assert client.is_server_live() and client.is_server_ready()  # no key: open
    tensor = triton_grpc.InferInput("obs", [1, 1], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 1), np.float32))
    for call in [lambda headers: client.get_model_metadata("lake", headers=headers),
                 lambda headers: client.is_model_ready("lake", headers=headers),
                 lambda headers: client.get_model_repository_index(headers=headers),
                 lambda headers: client.infer("lake", [tensor], headers=headers)]:
        for headers in [None, {"authorization": "Bearer not-the-key-0123456789"},
                        {"authorization": KEY}]:
            with pytest.raises(InferenceServerException) as refused:
                call(headers)
            assert refused.value.status() == "StatusCode.UNAUTHENTICATED"
            assert refused.value.message() == ("missing or invalid API key; send the metadata "
                                               "authorization: Bearer KEY")
        assert call(AUTH)


def test_model_config_equals_rests(servers):
    server = servers["repository"]
    config = server.grpc.get_model_config("lake", headers=AUTH).config
    status, rest = request(server.http_port, "GET", "/v2/models/lake/config",
                           headers=REST_AUTH)
    assert status == 200 and config == ParseDict(rest, model_config_pb2.ModelConfig())
    assert config.name == "lake" and config.max_batch_size == 8192
    assert [(t.name, list(t.dims)) for t in config.input] == [("obs", [1])]
    assert config.input[0].HasField("reshape")  # [batch] travels as [batch, 1]


def test_statistics_count_the_requests_and_equal_rests(servers):
    server = servers["single"]
    before = server.grpc.get_inference_statistics("policy").model_stats[0]
    server.infer_both("policy", np.zeros((3, 4), np.float32))  # one REST, one gRPC
    server.infer_both("policy", np.zeros((5, 4), np.float32))
    server.infer_both("policy", np.zeros((1, 3), np.float32))  # invalid: counted nowhere
    server.infer_both("policy", np.full((1, 4), np.nan, np.float32))  # the model refuses it
    after = server.grpc.get_inference_statistics("policy").model_stats[0]
    assert after.inference_count - before.inference_count == 2 * (3 + 5)
    assert after.execution_count - before.execution_count == 4
    counts = [(s.success.count, s.fail.count, s.compute_infer.count)
              for s in (before.inference_stats, after.inference_stats)]
    assert np.subtract(counts[1], counts[0]).tolist() == [4, 2, 4]
    batches = {b.batch_size: b.compute_infer.count for b in after.batch_stats}
    assert batches[3] >= 2 and batches[5] >= 2
    assert after.inference_stats.compute_infer.ns > before.inference_stats.compute_infer.ns
    rest = request(server.http_port, "GET", "/v2/models/policy/stats")[1]
    assert server.grpc.get_inference_statistics("policy") == ParseDict(
        rest, service_pb2.ModelStatisticsResponse())
    every = server.grpc.get_inference_statistics()
    assert [s.name for s in every.model_stats] == ["policy"]


def test_repository_index_equals_rests(servers):
    server = servers["repository"]
    index = server.grpc.get_model_repository_index(headers=AUTH)
    assert [(m.name, m.version, m.state) for m in index.models] == [
        ("image", "1", "READY"), ("lake", "1", "READY")]
    status, rest = request(server.http_port, "POST", "/v2/repository/index", {},
                           headers=REST_AUTH)
    assert status == 200 and index == ParseDict({"models": rest},
                                                service_pb2.RepositoryIndexResponse())


def test_grpc_serves_the_hot_reloaded_version(tmp_path):
    path = discrete_policy(tmp_path / "policy.onnx")
    port = free_port()
    with running_server(path, "--grpc-port", str(port), "--reload-interval", "0.1"):
        client = triton_grpc.InferenceServerClient(f"127.0.0.1:{port}")
        replacement = discrete_policy(tmp_path / "new.onnx", weights=-W_DISCRETE)
        shutil.copy(replacement, tmp_path / "tmp.onnx")
        os.replace(tmp_path / "tmp.onnx", path)
        deadline = time.monotonic() + 10
        while list(client.get_model_metadata("policy").versions) != ["2"]:
            assert time.monotonic() < deadline, "the new version was not served"
            time.sleep(0.05)
        obs = np.array([[1.0, 0.0, 0.0, 0.0]], np.float32)
        tensor = triton_grpc.InferInput("obs", [1, 4], "FP32")
        tensor.set_data_from_numpy(obs)
        answer = client.infer("policy", [tensor])
        assert answer.get_response().model_version == "2"
        assert answer.as_numpy("action").tolist() == [[1]]  # -W: the other action


def test_every_worker_serves_grpc_on_the_one_port(tmp_path):
    """With --workers 2 both processes bind the port (SO_REUSEPORT): the kernel spreads new
    connections, so the successes one worker counts fall short of all of them."""
    path = discrete_policy(tmp_path / "policy.onnx")
    port = free_port()
    tensor = triton_grpc.InferInput("obs", [1, 4], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 4), np.float32))
    counted = []
    with running_server(path, "--grpc-port", str(port), "--workers", "2"):
        time.sleep(1.0)  # both workers up
        for _ in range(20):  # a new connection each
            with triton_grpc.InferenceServerClient(f"127.0.0.1:{port}") as client:
                client.infer("policy", [tensor])
                stats = client.get_inference_statistics("policy").model_stats[0]
                counted.append(stats.inference_stats.success.count)
    assert counted.count(1) == 2 and max(counted) < 20  # each worker's own first request
