"""Dict, Tuple, MultiDiscrete and MultiBinary observations end to end: the small envs of
tests/structured_envs.py learn in seconds, export to one ONNX input per part, and every
Python runtime -- `predict`, `OnnxPolicy`, /v1/act, /v2 over REST and gRPC -- answers alike.
"""

import json

import gymnasium as gym
import keras
import numpy as np
import onnx
import pytest
import tritonclient.grpc as triton_grpc

import export
import keras_pg
import serve
from keras_pg.config import ConfigError
from keras_pg.envs import check_spaces
from keras_pg.policy.layers import MultiOneHot
from tests.servers import free_port, request, running_server

ENV = "tests.structured_envs:{}-v0"
BEST = 4.0  # every env here: 4 steps of reward 1 at best
QUICK = {"seed": 0, "num_envs": 8, "episodes_per_update": 16, "preset": "none", "lr": 0.01}
STEPS = {"Beacon": 12_000, "Pair": 12_000, "Lock": 12_000, "Mirror": 6_000}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, tuple[keras_pg.REINFORCE, float, serve.OnnxPolicy]]:
    """{env: (agent trained and saved, its untrained greedy return, its exported policy)}."""
    found = {}
    for name, steps in STEPS.items():
        run_dir = tmp_path_factory.mktemp(name)
        agent = keras_pg.REINFORCE(ENV.format(name), run_dir=run_dir, max_steps=steps, **QUICK)
        untrained = agent.evaluate(50)["mean_return"]
        agent.learn()
        agent.save()
        export.to_onnx(run_dir)  # from the run directory: its observations, no env
        found[name] = (agent, untrained, serve.OnnxPolicy(run_dir / "policy.onnx", seed=0))
    return found


@pytest.mark.parametrize("name", list(STEPS))
def test_structured_observations_learn_in_seconds(trained, name):
    agent, untrained, _ = trained[name]
    assert agent.evaluate(50)["mean_return"] >= 0.9 * BEST > untrained + 1.0


def test_the_onnx_file_takes_one_input_per_part_named_after_it(trained):
    beacon = onnx.load(trained["Beacon"][2].path)
    inputs = {i.name: (i.type.tensor_type.elem_type,
                       [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim])
              for i in beacon.graph.input}
    assert inputs == {"direction": (onnx.TensorProto.FLOAT, ["batch"]),
                      "image": (onnx.TensorProto.UINT8, ["batch", 6, 6, 1]),
                      "action_mask": (onnx.TensorProto.BOOL, ["batch", 2])}  # contract 6
    meta = {p.key: json.loads(p.value) for p in beacon.metadata_props}
    assert meta["observation_space"]["type"] == "Dict"
    assert list(meta["observation_space"]["spaces"]) == ["direction", "image"]
    pair = trained["Pair"][2]
    assert [i.name for i in pair.session.get_inputs()] == ["0", "1", "action_mask"]
    assert pair.observation_parts == {"0": ((2,), np.float32), "1": ((), np.float32)}
    report = json.loads((trained["Beacon"][0].run_dir / "export_report.json").read_text())
    assert report["observations"] == {"sampled": 1000, "rollout": 1000}  # met in training
    assert report["action_agreement"] == 1.0
    assert (trained["Beacon"][0].run_dir / "observations.npz").exists()


def observations(agent: keras_pg.REINFORCE, count: int, seed: int = 3):
    """`count` observations of the agent's space, batched per part (a dict, or a tuple)."""
    space = agent.observation_space
    space.seed(seed)
    samples = [space.sample() for _ in range(count)]
    if isinstance(space, gym.spaces.Dict):
        return {key: np.stack([s[key] for s in samples]) for key in space.spaces}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(np.stack([s[i] for s in samples]) for i in range(len(space.spaces)))
    return np.stack(samples)


@pytest.mark.parametrize("name", list(STEPS))
def test_predict_and_onnx_policy_agree_on_every_observation(trained, name):
    agent, _, policy = trained[name]
    batch = observations(agent, 64)
    greedy = agent.predict(batch)
    np.testing.assert_array_equal(policy.act(batch), greedy)
    first = (tuple(part[0] for part in batch) if isinstance(batch, tuple)
             else {k: v[0] for k, v in batch.items()} if isinstance(batch, dict) else batch[0])
    assert np.array_equal(policy.act(first), greedy[0]) and np.array_equal(
        agent.predict(first), greedy[0])
    sampled = policy.act(batch, deterministic=False)
    assert sampled.shape == greedy.shape and np.isin(sampled, range(3)).all()


def test_a_tuple_observation_is_a_tuple_a_list_or_an_object_keyed_by_position(trained):
    agent, _, policy = trained["Pair"]
    box, index = observations(agent, 5)
    expected = policy.act((box, index))
    for obs in ([box, index], {"0": box, "1": index}, {"1": index.tolist(), "0": box.tolist()}):
        np.testing.assert_array_equal(policy.act(obs), expected)
        np.testing.assert_array_equal(agent.predict(obs), expected)


@pytest.mark.parametrize("obs, message", [
    ({"direction": 1}, "obs must be an object with the parts direction, image; got the parts "
                       "direction"),
    (np.zeros((6, 6, 1)), "obs must be an object with the parts direction, image; got ndarray"),
    ({"direction": 1, "image": np.zeros((6, 5, 1))},
     r"obs['image'] has shape (6, 5, 1); expected (6, 6, 1) or (batch, 6, 6, 1)"),
    ({"direction": 1, "image": np.full((6, 6, 1), 300)},
     "obs['image'] must be integers in [0, 255] for this policy's uint8 input, got 300.0"),
    ({"direction": [1, 2], "image": np.zeros((6, 6, 1))},
     "obs parts disagree on the batch: direction a batch of 2, image one observation; "
     "expected one observation, or the same batch size, in every part"),
    ({"direction": float("nan"), "image": np.zeros((6, 6, 1))},
     "obs['direction'] contains NaN or inf; expected finite numbers"),
])
def test_bad_structured_observations_are_the_same_one_line_error_everywhere(trained, obs,
                                                                             message):
    agent, _, policy = trained["Beacon"]
    for act in (policy.act, agent.predict):
        with pytest.raises(ValueError) as info:
            act(obs)
        assert str(info.value) == message


@pytest.mark.parametrize("space, problem", [
    (gym.spaces.Dict({"a": gym.spaces.Dict({"b": gym.spaces.Discrete(2)})}),
     "part 'a' is a Dict: one level of nesting is supported"),
    (gym.spaces.Dict({"mission": gym.spaces.Text(8), "d": gym.spaces.Discrete(2)}),
     r"part 'mission' is Text\(1, 8, charset=.*\), which no policy input takes: drop it "
     r"\(gymnasium.wrappers.FilterObservation\)"),
    (gym.spaces.Dict({"my key": gym.spaces.Discrete(2)}), "key 'my key' cannot name"),
    (gym.spaces.Dict({"probs": gym.spaces.Discrete(2)}), "key 'probs' cannot name"),
    (gym.spaces.Tuple([gym.spaces.Discrete(2), gym.spaces.Sequence(gym.spaces.Discrete(2))]),
     "part '1' is Sequence"),
    (gym.spaces.Graph(gym.spaces.Box(0, 1, (2,)), None), "Graph"),
    (gym.spaces.Dict({}), "an empty Dict has nothing to observe"),
])
def test_unsupported_observation_spaces_are_one_line_errors_naming_the_space(space, problem):
    with pytest.raises(ConfigError, match=problem) as info:
        check_spaces("Env-v0", space, gym.spaces.Discrete(2))
    assert "\n" not in str(info.value) and str(info.value).startswith("Env-v0 has observation")


def test_the_http_service_answers_as_the_policy_over_v1_v2_and_grpc(trained):
    agent, _, policy = trained["Beacon"]
    batch = observations(agent, 8)
    actions, dist = policy.decide(batch)
    grpc_port = free_port()
    with running_server(policy.path, "--grpc-port", str(grpc_port)) as port:
        status, body = request(port, "POST", "/v1/act", {
            "obs": {key: value.tolist() for key, value in batch.items()}})
        assert status == 200 and body["actions"] == actions.tolist()
        np.testing.assert_allclose(body["probs"], dist["probs"], atol=1e-7)
        inputs = [{"name": "image", "datatype": "UINT8", "shape": [8, 6, 6, 1],
                   "data": batch["image"].ravel().tolist()},
                  {"name": "direction", "datatype": "FP32", "shape": [8, 1],
                   "data": batch["direction"].tolist()}]
        status, body = request(port, "POST", "/v2/models/policy/infer", {"inputs": inputs})
        assert status == 200
        outputs = {o["name"]: o for o in body["outputs"]}
        assert outputs["action"]["data"] == actions.tolist()
        np.testing.assert_allclose(outputs["probs"]["data"], dist["probs"].ravel(), atol=1e-7)
        status, body = request(port, "POST", "/v2/models/policy/infer",
                               {"inputs": inputs[:1]})
        assert (status, body["error"]) == (400, "the request has inputs ['image']; the model "
                                                "takes 'direction', 'image', and optionally "
                                                "'action_mask'")
        client = triton_grpc.InferenceServerClient(f"127.0.0.1:{grpc_port}")
        image = triton_grpc.InferInput("image", [8, 6, 6, 1], "UINT8")
        image.set_data_from_numpy(batch["image"])
        direction = triton_grpc.InferInput("direction", [8, 1], "FP32")
        direction.set_data_from_numpy(batch["direction"].astype(np.float32).reshape(8, 1))
        result = client.infer("policy", [direction, image])
        np.testing.assert_array_equal(result.as_numpy("action").ravel(), actions)
        np.testing.assert_allclose(result.as_numpy("probs"), dist["probs"], atol=1e-7)
        status, body = request(port, "GET", "/v2/models/policy/config")
        assert [(i["name"], i["data_type"], i["dims"]) for i in body["input"]] == [
            ("direction", "TYPE_FP32", [1]), ("image", "TYPE_UINT8", [6, 6, 1]),
            ("action_mask", "TYPE_BOOL", [2])]  # contract 6: every action legal without it


def test_a_user_network_takes_the_dict_of_preprocessed_parts(tmp_path):
    def network(space):
        inputs = {"direction": keras.Input((4,), name="direction"),
                  "image": keras.Input((6, 6, 1), name="image")}
        x = keras.layers.Concatenate()([inputs["direction"],
                                        keras.layers.Flatten()(inputs["image"])])
        return keras.Model(inputs, keras.layers.Dense(16, activation="tanh")(x))

    agent = keras_pg.REINFORCE(ENV.format("Beacon"), policy=network, max_steps=400, **QUICK)
    agent.learn()
    report = export.to_onnx(agent, tmp_path / "user.onnx")
    assert report["action_agreement"] == 1.0


def test_multi_discrete_observations_are_one_hot_per_value():
    layer = MultiOneHot([3, 2])
    np.testing.assert_array_equal(layer(np.array([[2, 0], [0, 1]], np.float32)),
                                  [[0, 0, 1, 1, 0], [1, 0, 0, 0, 1]])


def test_the_episode_loop_plays_structured_policies_in_their_envs(trained):
    for name in ("Beacon", "Pair", "Mirror"):
        played = serve.run_episodes(trained[name][2], episodes=10)
        assert played["env_id"] == ENV.format(name) and played["mean_return"] >= 0.9 * BEST
    with pytest.raises(ValueError) as info:
        serve.run_episodes(trained["Beacon"][2], env_id="CartPole-v1", episodes=1)
    assert str(info.value) == (
        "env 'CartPole-v1' gives observations of shape (4,), but the policy takes the parts "
        "direction (), image (6, 6, 1); pass the env the policy was trained on with --env ID")
    with pytest.raises(ValueError, match=r"has action space a Box of shape \(1,\), but the "
                                         r"policy acts in Discrete\(3\)"):
        serve.run_episodes(trained["Lock"][2], env_id="MountainCarContinuous-v0", episodes=1)
    with pytest.raises(ValueError, match=r"has action space Discrete\(2\), but the policy "
                                         r"acts in MultiBinary\(4\)"):
        serve.run_episodes(trained["Mirror"][2], env_id="CartPole-v1", episodes=1)
