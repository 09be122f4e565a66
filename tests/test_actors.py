"""Actors: the numpy forward pass equals the model to float32 rounding, samples the head's
distribution, reads new weights each round, and falls back to TensorFlow where it cannot."""

import gymnasium as gym
import keras
import numpy as np
import pytest

import keras_pg
from keras_pg.config import ConfigError
from keras_pg.policy import CategoricalHead, GaussianHead, make_actor, make_head
from keras_pg.policy.actors import describe_actor
from keras_pg.policy.numpy_forward import NoNumpyForm, NumpyForward
from tests.image_envs import SquareSideEnv
from tests.policies import mlp_policy

BOX4 = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
IMAGE = gym.spaces.Box(0, 255, (12, 12, 3), np.uint8)
DISCRETE_OBS = gym.spaces.Discrete(7, start=2)
TWO = gym.spaces.Discrete(2)
THREE = gym.spaces.Discrete(3)
BOX2 = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
FLOAT32_EPS = float(np.finfo(np.float32).eps)


def softmax(logits):
    z = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def every_activation(observation_space):
    """A user network (Sequential) with every layer and activation the numpy form knows."""
    return keras.Sequential([
        keras.Input(observation_space.shape),
        keras.layers.Dense(32, activation="tanh"),
        keras.layers.Dense(32, activation="sigmoid"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(32, activation="elu"),
        keras.layers.Dense(32, activation="softplus"),
        keras.layers.Dense(32),
        keras.layers.Activation("silu"),
        keras.layers.ReLU(),
        keras.layers.Dense(16, activation="relu", use_bias=False),
    ], name="every_activation")


def scramble(model, seed=0):
    """Random trainable weights, larger than at initialization, so every unit matters."""
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(rng.normal(0.0, 0.5, w.shape).astype(w.dtype))


def observations(space, n=256, seed=1):
    rng = np.random.default_rng(seed)
    if isinstance(space, gym.spaces.Discrete):
        return (space.start + rng.integers(0, space.n, n)).astype(np.float32)
    if space.dtype == np.uint8:
        return rng.integers(0, 256, (n, *space.shape), dtype=np.uint8)
    return (3.0 * rng.standard_normal((n, *space.shape))).astype(np.float32)


POLICIES = {  # name: (observation space, the policy)
    "mlp": (BOX4, lambda: mlp_policy(BOX4, THREE, (64, 64))),
    "mlp normalized": (BOX4, lambda: mlp_policy(BOX4, THREE, (64,), normalize_obs=True)),
    "discrete observations": (DISCRETE_OBS, lambda: mlp_policy(DISCRETE_OBS, TWO, (32,))),
    "image as mlp": (IMAGE, lambda: mlp_policy(IMAGE, THREE, (32,))),
    "user network": (BOX4, lambda: keras_pg.policy.build_policy(BOX4, THREE,
                                                                every_activation(BOX4))),
}


@pytest.mark.parametrize("name", POLICIES)
def test_numpy_probabilities_equal_the_model_to_float32_rounding(name):
    space, build = POLICIES[name]
    model = build()
    scramble(model)
    obs = observations(space)
    forward = NumpyForward(model)
    forward.sync()
    logits = np.asarray(model(obs, training=False))
    got = forward(obs)
    # The matmuls sum in another order: a few float32 roundings of the logits, no more (of
    # the largest logit's scale: the sums run over it; 5 roundings on AVX-512 kernels).
    rounding = 16 * FLOAT32_EPS * max(1.0, float(np.abs(logits).max()))
    np.testing.assert_allclose(got, logits, rtol=0, atol=rounding)
    np.testing.assert_allclose(softmax(got), softmax(logits), rtol=0, atol=rounding)


def test_numpy_gaussian_parameters_equal_the_model():
    model = mlp_policy(BOX4, BOX2, (64,), normalize_obs=True, initial_log_std=-0.7)
    scramble(model, seed=3)
    obs = observations(BOX4)
    got, expected = NumpyForward(model)(obs), np.asarray(model(obs, training=False))
    # A sum of 64 products rounds in float32 relative to its terms, not to its result.
    np.testing.assert_allclose(got, expected, rtol=0,
                               atol=32 * FLOAT32_EPS * np.abs(expected).max())


def test_normalizer_statistics_and_new_weights_are_read_at_sync():
    model = mlp_policy(BOX4, THREE, (32,), normalize_obs=True)
    forward = NumpyForward(model)
    obs = observations(BOX4)
    keras_pg.policy.observation_normalizers(model)["obs"].update(obs)
    scramble(model, seed=5)
    assert np.abs(softmax(forward(obs)) - softmax(np.asarray(model(obs)))).max() > 1e-2
    forward.sync()
    np.testing.assert_allclose(softmax(forward(obs)), softmax(np.asarray(model(obs))),
                               atol=16 * FLOAT32_EPS)


def test_categorical_numpy_sampling_follows_the_probabilities():
    probs = np.array([[0.1, 0.0, 0.6, 0.3], [0.97, 0.01, 0.01, 0.01]])
    logits = np.log(np.maximum(probs, 1e-30)).astype(np.float32)
    n = 100_000
    sample = CategoricalHead(4).numpy_sampler(np.random.default_rng(0))
    actions = np.concatenate([sample(np.repeat(logits, n // 1000, axis=0))
                              for _ in range(1000)])  # 1,000 steps: several noise blocks
    actions = actions.reshape(1000, 2, -1).transpose(1, 0, 2).reshape(-1)
    assert actions.dtype == np.int32
    for row in range(2):
        counts = np.bincount(actions[row * n:(row + 1) * n], minlength=4) / n
        np.testing.assert_allclose(counts, probs[row], atol=0.005)
    assert not (actions[:n] == 1).any()  # probability 0 (its logit underflows): never


def test_gaussian_numpy_sampling_follows_mean_and_std():
    head = GaussianHead(2, (-1.0, -1.0), (1.0, 1.0))
    params = np.tile(np.array([[0.5, -2.0, np.log(0.3), np.log(2.0)]], np.float32), (50, 1))
    sample = head.numpy_sampler(np.random.default_rng(1))
    actions = np.concatenate([sample(params) for _ in range(1000)])  # several noise blocks
    np.testing.assert_allclose(actions.mean(axis=0), [0.5, -2.0], atol=0.03)
    np.testing.assert_allclose(actions.std(axis=0), [0.3, 2.0], rtol=0.02)
    np.testing.assert_array_equal(head.greedy_numpy(params[:1]), [[0.5, -2.0]])


STARTS = np.ones(64, dtype=bool)


def test_a_round_seed_fixes_the_actions_and_another_changes_them():
    model = mlp_policy(BOX4, THREE, (32,))
    actor = make_actor(model, make_head(THREE))
    obs = observations(BOX4, n=64)
    first = []
    for _ in range(2):
        with actor.round(11) as act:
            first.append(act(obs, STARTS))
    np.testing.assert_array_equal(first[0], first[1])
    with actor.round(12) as act:
        assert (act(obs, STARTS) != first[0]).any()


def test_blas_runs_on_one_thread_during_a_round_and_is_restored_after():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    actor = make_actor(mlp_policy(BOX4, THREE, (32,)), make_head(THREE))
    with actor.round(0):
        assert blas_threads() and set(blas_threads()) == {1}
    assert blas_threads() == before


def test_a_convolutional_network_acts_with_tensorflow_and_says_why():
    agent = keras_pg.REINFORCE(SquareSideEnv, preset="none", num_envs=2, episodes_per_update=2,
                               max_episode_steps=4, eval_episodes=0)
    summary = agent.learn(max_steps=8)
    assert summary["actor"] == "tensorflow (layer conv_0 is a Conv2D)"
    with pytest.raises(ConfigError, match=r"^actor numpy cannot run this policy: layer conv_0 is "
                                          r"a Conv2D; use actor auto or tensorflow$"):
        make_actor(agent.model, make_head(gym.spaces.Discrete(agent.model.output_shape[-1])),
                   "numpy")


def test_a_subclassed_model_has_no_numpy_form():
    class Twice(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x) * 2.0

    model = keras_pg.policy.build_policy(BOX4, THREE, Twice(name="twice"))
    with pytest.raises(NoNumpyForm, match=r"^model twice is a subclassed Twice$"):
        NumpyForward(model)
    assert describe_actor(model) == "tensorflow (model twice is a subclassed Twice)"


def test_an_unknown_activation_has_no_numpy_form():
    inputs = keras.Input((4,))
    x = keras.layers.Dense(8, activation="gelu", name="odd")(inputs)
    model = keras_pg.policy.build_policy(BOX4, THREE, keras.Model(inputs, x))
    assert describe_actor(model) == "tensorflow (layer odd has activation 'gelu')"


def test_a_branching_network_has_no_numpy_form():
    inputs = keras.Input((4,))
    x = keras.layers.Concatenate(name="both")([keras.layers.Dense(4)(inputs),
                                               keras.layers.Dense(4)(inputs)])
    model = keras_pg.policy.build_policy(BOX4, THREE, keras.Model(inputs, x))
    assert describe_actor(model).startswith("tensorflow (layer both of model ")


def test_cartpole_acts_in_numpy_and_the_tensorflow_actor_is_a_choice(tmp_path):
    settings = {"max_steps": 2_000, "eval_episodes": 2, "tensorboard": False}
    numpy_run = keras_pg.REINFORCE("CartPole-v1", **settings).learn()
    tf_run = keras_pg.REINFORCE("CartPole-v1", actor="tensorflow", **settings).learn()
    assert (numpy_run["actor"], tf_run["actor"]) == ("numpy", "tensorflow")
    assert numpy_run["env_steps"] != tf_run["env_steps"]  # other random numbers, same law
