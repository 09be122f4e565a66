"""Triton's extensions of the Open Inference Protocol that tritonclient users call, served by
`python -m serve`: model configuration, inference statistics, the repository index; and the
wire shapes of a tensor whose only dimension is the batch ([batch] travels as [batch, 1])."""

import numpy as np
import pytest
import tritonclient.http as triton
from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2
from tritonclient.utils import InferenceServerException

import serve
from export.triton import package
from tests.linear_policies import discrete_policy
from tests.servers import request, running_server
from tests.test_triton import lake_policy


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    """A served repository of two models: cartpole (obs [B, 4]) and lake (obs [B])."""
    tmp = tmp_path_factory.mktemp("ext")
    repo = tmp / "repo"
    package(discrete_policy(tmp / "cartpole.onnx"), repo, "cartpole")
    package(lake_policy(tmp / "lake.onnx"), repo, "lake")
    with running_server(None, "--model-repository", str(repo)) as port:
        yield repo, port, triton.InferenceServerClient(f"127.0.0.1:{port}")


@pytest.mark.parametrize("name", ["cartpole", "lake"])
def test_model_config_is_the_written_config_pbtxt(repository, name):
    repo, _, client = repository
    written = text_format.Parse((repo / name / "config.pbtxt").read_text(),
                                model_config_pb2.ModelConfig())
    served = json_format.ParseDict(client.get_model_config(name), model_config_pb2.ModelConfig())
    assert served == written
    assert client.get_model_config(name, "1") == client.get_model_config(name)
    with pytest.raises(InferenceServerException, match="unknown model 'nope'"):
        client.get_model_config("nope")


def test_a_batch_only_tensor_travels_as_batch_by_1(repository):
    repo, port, client = repository
    metadata = client.get_model_metadata("lake")
    assert metadata["inputs"] == [{"name": "obs", "datatype": "FP32", "shape": [-1, 1]}]
    assert {o["name"]: o["shape"] for o in metadata["outputs"]} == {
        "action": [-1, 1], "probs": [-1, 4]}
    obs = np.array([[0.0], [3.0], [-2.0]], np.float32)
    tensor = triton.InferInput("obs", [3, 1], "FP32")
    tensor.set_data_from_numpy(obs)
    result = client.infer("lake", [tensor])
    expected = serve.OnnxPolicy(repo / "lake" / "1" / "model.onnx").distribution(obs[:, 0])
    np.testing.assert_array_equal(result.as_numpy("probs"), expected["probs"])
    np.testing.assert_array_equal(result.as_numpy("action"), expected["action"][:, None])
    status, body = request(port, "POST", "/v2/models/lake/infer", {
        "inputs": [{"name": "obs", "shape": [3], "datatype": "FP32", "data": [0, 3, -2]}]})
    assert status == 400 and body == {"error": "input 'obs' has shape [3]; the model takes "
                                               "[-1, 1] (-1: any size, at least 1 for the batch)"}


def test_statistics_count_requests_observations_and_time(tmp_path):
    with running_server(discrete_policy(tmp_path / "cartpole.onnx")) as port:
        client = triton.InferenceServerClient(f"127.0.0.1:{port}")
        before = client.get_inference_statistics("cartpole")["model_stats"][0]
        assert before["inference_count"] == 0 and before["execution_count"] == 0
        for batch in (1, 3, 3):
            tensor = triton.InferInput("obs", [batch, 4], "FP32")
            tensor.set_data_from_numpy(np.zeros((batch, 4), np.float32))
            client.infer("cartpole", [tensor])
        for shape, value in (((1, 3), 0.0), ((1, 4), np.nan)):  # invalid; refused by the model
            bad = triton.InferInput("obs", list(shape), "FP32")
            bad.set_data_from_numpy(np.full(shape, value, np.float32))
            with pytest.raises(InferenceServerException):
                client.infer("cartpole", [bad])
        stats = client.get_inference_statistics("cartpole")["model_stats"]
        assert client.get_inference_statistics()["model_stats"] == stats
    (model,) = stats
    assert (model["name"], model["version"]) == ("cartpole", "1")
    assert model["inference_count"] == 7 and model["execution_count"] == 3
    inference = model["inference_stats"]
    # validation refusals count nowhere, as in Triton; the model's refusal is a failure
    assert inference["success"]["count"] == 3 and inference["fail"]["count"] == 1
    for phase in ("queue", "compute_input", "compute_infer", "compute_output"):
        assert inference[phase]["count"] == 3 and inference[phase]["ns"] >= 0
    assert inference["compute_infer"]["ns"] > 0
    assert inference["success"]["ns"] >= sum(inference[p]["ns"] for p in (
        "compute_input", "compute_infer", "compute_output"))
    assert [(b["batch_size"], b["compute_infer"]["count"]) for b in model["batch_stats"]] == [
        (1, 1), (3, 2)]
    assert model["last_inference"] > 0


def test_repository_index_lists_every_model_ready(repository):
    _, port, client = repository
    index = [{"name": "cartpole", "version": "1", "state": "READY"},
             {"name": "lake", "version": "1", "state": "READY"}]
    assert client.get_model_repository_index() == index
    assert request(port, "POST", "/v2/repository/index", {"ready": True}) == (200, index)
    assert request(port, "POST", "/v2/repository/index", {"ready": "yes"})[0] == 400
