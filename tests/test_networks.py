"""Feature networks: the user's own Keras network, the CNN for uint8 images, and their checks."""

import gymnasium as gym
import keras
import numpy as np
import pytest

import export
import keras_pg
import serve
from keras_pg.policy import feature_network
from keras_pg.policy.networks import build_features, cnn
from keras_pg.run import run_dir as rd
from keras_pg.run.run_dir import RunDir
from tests.image_envs import SquareSideEnv


@keras.saving.register_keras_serializable(package="tests")
class Doubling(keras.layers.Layer):
    """A custom layer: x -> 2x (registered, so model.keras can hold it)."""

    def call(self, x):
        return 2.0 * x


class Unregistered(keras.layers.Layer):
    def call(self, x):
        return x


def doubling_network(observation_space):
    inputs = keras.Input(observation_space.shape)
    x = keras.layers.Dense(32, activation="tanh")(Doubling()(inputs))
    return keras.Model(inputs, x, name="my_features")


def test_a_custom_network_with_a_custom_layer_trains_saves_and_exports(tmp_path):
    agent = keras_pg.REINFORCE("CartPole-v1", policy=doubling_network, run_dir=tmp_path / "run",
                               baseline="value", max_steps=3000, eval_episodes=3)
    assert agent.config.network == "custom"
    assert feature_network(agent.model).name == "my_features"
    assert any(isinstance(layer, Doubling) for layer in feature_network(agent.model).layers)
    agent.learn()
    report = export.to_onnx(agent)
    assert report["max_abs_diff"]["probs"] <= 1e-5 and report["action_agreement"] == 1.0
    obs = np.random.default_rng(0).uniform(-1, 1, (64, 4)).astype(np.float32)
    policy = serve.OnnxPolicy(tmp_path / "run" / "policy.onnx")
    np.testing.assert_array_equal(policy.act(obs), agent.predict(obs))
    resumed = keras_pg.REINFORCE.load(tmp_path / "run")  # the architecture comes from model.keras
    np.testing.assert_array_equal(resumed.predict(obs), agent.predict(obs))
    resumed.learn(max_steps=1000)


def test_a_model_instance_is_used_as_it_is():
    features = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu")])
    agent = keras_pg.REINFORCE("CartPole-v1", policy=features, eval_episodes=2)
    assert feature_network(agent.model) is features
    agent.learn(max_steps=500)


@pytest.mark.parametrize("policy,message", [
    (lambda space: keras.Sequential([keras.Input((5,)), keras.layers.Dense(8)]),
     "the policy network takes inputs of shape (5,); observations from Box("),
    (lambda space: keras.Sequential([keras.Input((4,)), keras.layers.Reshape((2, 2))]),
     "the policy network must return a feature vector [batch, features]; it returns "
     "(None, 2, 2) for inputs (None, 4)"),
    (lambda space: keras.Sequential([keras.Input((4,)), Unregistered(), keras.layers.Dense(8)]),
     "the policy network cannot be saved and loaded as model.keras"),
    (lambda space: "not a model", "policy must be a keras.Model or a function"),
])
def test_bad_networks_are_one_line_errors_and_nothing_is_written(tmp_path, policy, message):
    with pytest.raises((ValueError, TypeError)) as info:
        keras_pg.REINFORCE("CartPole-v1", policy=policy, run_dir=tmp_path / "run")
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


def test_the_unregistered_layer_error_names_the_fix():
    with pytest.raises(ValueError, match=r"keras\.saving\.register_keras_serializable"):
        keras_pg.REINFORCE("CartPole-v1", policy=lambda space: keras.Sequential(
            [keras.Input((4,)), Unregistered(), keras.layers.Dense(8)]))


def test_the_nature_cnn_and_the_small_cnn_fit_their_images():
    nature = cnn((84, 84, 1), (128,))
    assert [layer.strides for layer in nature.layers if "conv" in layer.name] == [
        (4, 4), (2, 2), (1, 1)]
    assert nature.get_layer("flatten").output.shape[-1] == 7 * 7 * 64  # as in Mnih et al. 2015
    small = cnn((7, 7, 3), (64,))
    assert small.output.shape == (None, 64)
    image = gym.spaces.Box(0, 255, (7, 7, 3), np.uint8)
    assert any("conv" in layer.name for layer in build_features("auto", image, (8,)).layers)
    vector = gym.spaces.Box(-1, 1, (4,), np.float32)
    assert not any("conv" in layer.name for layer in build_features("auto", vector, (8,)).layers)


def test_the_cnn_solves_an_image_env_and_serves_raw_uint8_frames(tmp_path):
    agent = keras_pg.REINFORCE(SquareSideEnv, run_dir=tmp_path / "run", seed=0,
                               max_episode_steps=10, target_return=9.5, max_steps=30_000,
                               eval_episodes=20)
    assert agent.model.inputs[0].dtype == "uint8"
    summary = agent.learn()
    assert summary["solved"] and summary["eval_mean_return"] >= 9.5
    assert summary["train_wall_s"] < 20
    export.to_onnx(agent)
    policy = serve.OnnxPolicy(tmp_path / "run" / "policy.onnx")
    assert policy.observation_dtype == np.uint8
    env = SquareSideEnv()
    frames = np.stack([env.frames[answer, 3] for answer in (0, 1)])
    assert policy.act(frames).tolist() == [0, 1]  # raw 0/255 frames, scaled inside the graph
    assert policy.act(frames[1].tolist()) == 1  # nested lists of ints too
    assert RunDir(tmp_path / "run").read_spaces()["observation_space"]["dtype"] == "uint8"


def test_bfloat16_precision_trains_and_exports_a_float32_onnx_file(tmp_path):
    agent = keras_pg.REINFORCE(SquareSideEnv, run_dir=tmp_path / "run", seed=0,
                               precision="bfloat16", max_episode_steps=10, target_return=9.5,
                               max_steps=30_000, eval_episodes=20)
    features = agent.model.get_layer("features")
    assert {layer.compute_dtype for layer in features.layers
            if "conv" in layer.name or "hidden" in layer.name} == {"bfloat16"}
    assert agent.model.get_layer("logits").compute_dtype == "float32"
    assert agent.model.output.dtype == "float32"
    summary = agent.learn()
    assert summary["solved"] and summary["eval_mean_return"] >= 9.5
    report = export.to_onnx(agent)
    assert report["max_abs_diff"]["probs"] < 1e-5  # against the float32 twin it exports

    import onnx
    proto = onnx.load(tmp_path / "run" / "policy.onnx")
    assert onnx.TensorProto.BFLOAT16 not in {t.data_type for t in proto.graph.initializer}
    # The file computes in float32 what the bfloat16 model computes, up to bfloat16's
    # 8-bit mantissa.
    frames = SquareSideEnv().frames.reshape(-1, 84, 84, 1)[:64]
    probs = serve.OnnxPolicy(tmp_path / "run" / "policy.onnx").probs(frames)
    keras_probs = keras.ops.softmax(agent.model(frames)).numpy()
    np.testing.assert_allclose(probs, keras_probs, atol=2e-2)
    reloaded = keras.models.load_model(tmp_path / "run" / rd.MODEL)
    assert reloaded.get_layer("features").get_layer("conv_0").compute_dtype == "bfloat16"
