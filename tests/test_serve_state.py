"""A recurrent policy's state through the services: the episode loop carries it, /v1/act and
the Open Inference Protocol (REST and gRPC) take it in the request and give the next one back
(the server keeps none), and the Triton config declares it as two plain tensors.

The policy is serve/js/test/fixtures/cue.onnx, a GRU (state_size 16) that solves
tests/memory_env.py's Cue-v0: the cue in an episode's first observation decides the action
rewarded at its last step, so only a policy given back its state succeeds every time. Whole
episodes through every runtime, step by step against serve.OnnxPolicy, are in
tests/test_conformance.py.
"""

from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as tgrpc
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2
from tritonclient.utils import InferenceServerException

import serve
from export.triton import package
from serve.cli import main
from tests.servers import free_port, request, running_server

CUE = Path(__file__).resolve().parents[1] / "serve" / "js" / "test" / "fixtures" / "cue.onnx"
SIZE = 16
MISSING_V1 = ('this policy is recurrent: send "state", [16] per observation (zeros at an '
              "episode's first step, then the \"state\" of the previous answer)")
MISSING_V2 = ("this policy is recurrent: send input 'state' FP32 [-1, 16] (zeros at an "
              "episode's first step, then the previous answer's output 'next_state')")


@pytest.fixture(scope="module")
def policy():
    return serve.OnnxPolicy(CUE)


class Recording(serve.OnnxPolicy):
    """An OnnxPolicy that records the state passed to each act."""

    def __init__(self, path):
        super().__init__(path)
        self.states = []

    def act(self, obs, state=None, deterministic=True, action_mask=None):
        self.states.append(np.array(state))
        return super().act(obs, state, deterministic, action_mask)


def test_the_episode_loop_carries_the_state_and_remembers_every_cue():
    policy = Recording(CUE)
    result = serve.run_episodes(policy, episodes=40, seed=0)
    assert result["env_id"] == "tests.memory_env:Cue-v0"
    assert result["returns"] == [1.0] * 40 and result["steps"] == 40 * 5
    states = np.stack(policy.states).reshape(40, 5, SIZE)
    assert (states[:, 0] == 0).all()  # zeros at each episode's first step
    assert (np.abs(states[:, 1:]).max(axis=2) > 0).all()  # then the state it returned


def test_python_m_serve_plays_a_recurrent_policy(capsys):
    assert main([str(CUE), "--episodes", "20"]) == 0
    assert capsys.readouterr().out.startswith(
        "tests.memory_env:Cue-v0: return 1.0 ± 0.0 over 20 episodes (greedy)")


@pytest.fixture(scope="module")
def server():
    """python -m serve cue.onnx --http --grpc-port: (HTTP port, gRPC address)."""
    grpc_port = free_port()
    with running_server(CUE, "--grpc-port", str(grpc_port)) as port:
        yield port, f"127.0.0.1:{grpc_port}"


def test_v1_act_takes_the_state_and_answers_the_next_one(server, policy):
    port, _ = server
    obs, state = np.array([1.0, 0.0], np.float32), policy.initial_state()
    status, body = request(port, "POST", "/v1/act", {"obs": obs.tolist(),
                                                     "state": state.tolist()})
    action, next_state = policy.act(obs, state)
    assert status == 200 and sorted(body) == ["actions", "probs", "state"]
    assert body["actions"] == [action]
    assert len(body["state"]) == SIZE  # one observation: [S], as the state was sent
    np.testing.assert_array_equal(np.float32(body["state"]), next_state)
    # A batch: [B, S] in and out; sampled actions leave the next state as it is.
    rng = np.random.default_rng(0)
    obs, state = rng.uniform(-1, 1, (3, 2)), rng.uniform(-1, 1, (3, SIZE)).astype(np.float32)
    actions, next_state = policy.act(obs, state)
    for deterministic in (True, False):
        status, body = request(port, "POST", "/v1/act", {
            "obs": obs.tolist(), "state": state.tolist(), "deterministic": deterministic})
        assert status == 200 and np.shape(body["state"]) == (3, SIZE)
        np.testing.assert_array_equal(np.float32(body["state"]), next_state)
    assert status == 200 and len(body["actions"]) == len(actions) == 3


@pytest.mark.parametrize("body,status,detail", [
    ({"obs": [1.0, 0.0]}, 400, MISSING_V1),
    ({"obs": [1.0, 0.0], "state": None}, 400, MISSING_V1),
    ({"obs": [1.0, 0.0], "state": [0.0] * 15}, 400,
     "state must have shape (16,) for one observation (state_size 16); got (15,)"),
    ({"obs": [[1.0, 0.0], [0.0, 0.0]], "state": [0.0] * 16}, 400,
     "state must have shape (2, 16) for a batch of 2 (state_size 16); got (16,)"),
    (b'{"obs": [1.0, 0.0], "state": [NaN' + b", 0" * 15 + b"]}", 400,
     "state holds NaN or inf; expected the state a previous step returned"),
    ({"obs": [1.0, 0.0], "state": "zeros"}, 422,
     'state: Input should be a valid number, got "zeros"'),
])
def test_v1_act_refuses_a_missing_or_misshaped_state_in_one_line(server, body, status, detail):
    port, _ = server
    assert request(port, "POST", "/v1/act", body) == (status, {"detail": detail})


def test_the_metadata_says_the_state_size(server):
    port, grpc = server
    status, body = request(port, "GET", "/v1/metadata")
    assert status == 200 and body["state_size"] == SIZE
    assert body["metadata"]["recurrent"]["cell"] == "gru"
    status, metadata = request(port, "GET", "/v2/models/cue")
    assert metadata["parameters"]["state_size"] == SIZE
    tensors = {"inputs": [("obs", "FP32", [-1, 2]), ("state", "FP32", [-1, SIZE])],
               "outputs": [("action", "INT64", [-1, 1]), ("next_state", "FP32", [-1, SIZE]),
                           ("probs", "FP32", [-1, 2])]}
    over_grpc = tgrpc.InferenceServerClient(grpc).get_model_metadata("cue", as_json=True)
    for described in (metadata, over_grpc):
        for key, expected in tensors.items():
            assert [(t["name"], t["datatype"], [int(d) for d in t["shape"]])
                    for t in described[key]] == expected


def infer_body(obs, state=None):
    inputs = [{"name": "obs", "datatype": "FP32", "shape": list(obs.shape),
               "data": obs.ravel().tolist()}]
    if state is not None:
        inputs.append({"name": "state", "datatype": "FP32", "shape": list(state.shape),
                       "data": state.ravel().tolist()})
    return {"inputs": inputs}


def test_v2_infer_takes_the_state_as_an_input_and_answers_next_state(server, policy):
    port, grpc = server
    obs, state = np.array([[1.0, 0.0], [-1.0, 0.0]], np.float32), policy.initial_state(2)
    actions, next_state = policy.act(obs, state)
    status, body = request(port, "POST", "/v2/models/cue/infer", infer_body(obs, state))
    outputs = {o["name"]: o for o in body["outputs"]}
    assert status == 200 and outputs["next_state"]["shape"] == [2, SIZE]
    np.testing.assert_array_equal(np.float32(outputs["next_state"]["data"]), next_state.ravel())
    assert outputs["action"]["data"] == actions.tolist()
    client = tgrpc.InferenceServerClient(grpc)
    tensors = [tgrpc.InferInput(name, list(value.shape), "FP32") for name, value in
               (("obs", obs), ("state", state))]
    tensors[0].set_data_from_numpy(obs)
    tensors[1].set_data_from_numpy(state)
    np.testing.assert_array_equal(client.infer("cue", tensors).as_numpy("next_state"),
                                  next_state)
    with pytest.raises(InferenceServerException) as error:  # no state
        client.infer("cue", tensors[:1])
    assert (str(error.value.status()), error.value.message()) == (
        "StatusCode.INVALID_ARGUMENT", MISSING_V2)


def test_v2_infer_refuses_a_missing_or_misshaped_state_in_one_line(server):
    port, _ = server
    obs = np.zeros((1, 2), np.float32)
    assert request(port, "POST", "/v2/models/cue/infer", infer_body(obs)) == (
        400, {"error": MISSING_V2})
    status, body = request(port, "POST", "/v2/models/cue/infer",
                           infer_body(obs, np.zeros((1, 15), np.float32)))
    assert (status, body) == (400, {"error": "input 'state' has shape [1, 15]; the model takes "
                                             "[-1, 16] (-1: any size, at least 1 for the "
                                             "batch)"})


def test_the_triton_config_declares_the_state_as_plain_tensors(tmp_path, policy):
    _, config_path = package(CUE, tmp_path, "cue")
    text = config_path.read_text()
    config = text_format.Parse(text, model_config_pb2.ModelConfig())
    assert [(t.name, list(t.dims)) for t in config.input] == [("obs", [2]), ("state", [SIZE])]
    assert [(t.name, list(t.dims)) for t in config.output] == [
        ("action", [1]), ("next_state", [SIZE]), ("probs", [2])]
    # The client carries the state: no sequence batcher keeping it in the server.
    assert not config.HasField("sequence_batching") and config.HasField("dynamic_batching")
    assert "recurrent: the client sends input state" in text.splitlines()[0]
