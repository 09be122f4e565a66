"""The value baseline, measured: it must lower the variance of the gradient estimate."""

import keras
import numpy as np

from keras_pg.algorithm.advantages import explained_variance
from keras_pg.algorithm.update import UpdateStep
from keras_pg.backends.rollout import collect_episodes
from keras_pg.envs.source import EnvSource
from keras_pg.policy import build_value, make_act_fn, make_head
from keras_pg.policy.layers import RunningNormalization
from tests.policies import mlp_policy


def per_sample_bias_gradients(model, obs, actions, weights):
    """d/d(output bias) of log pi(a_i|s_i) * w_i = (onehot(a_i) - pi(s_i)) * w_i, [M, A]."""
    logits = model(obs).numpy()
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return (np.eye(probs.shape[1])[actions] - probs) * weights[:, None]


def test_value_baseline_reduces_gradient_variance_on_a_fixed_batch():
    keras.utils.set_random_seed(0)
    env = EnvSource("CartPole-v1", {}, None).make_vector(8)
    model = mlp_policy(env.single_observation_space, env.single_action_space, (32,))
    head = make_head(env.single_action_space)
    act = make_act_fn(model, head)
    seeds = iter(range(10**6))
    batch = collect_episodes(env, lambda o, *_: act(o.astype(np.float32), [0, next(seeds)]).numpy(),
                             32, 0.99, seed=0)
    value = build_value(env.single_observation_space, model)
    step = UpdateStep(model, head, keras.optimizers.SGD(0.0), value=value,
                      value_optimizer=keras.optimizers.Adam(1e-2), value_epochs=50)
    before = [w.numpy().copy() for w in model.weights]
    for _ in range(10):  # fit V to this batch's returns; the policy does not move (lr 0)
        step(batch.obs, batch.actions, np.zeros_like(batch.returns), batch.returns)
    for w, old in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), old)

    values = value(batch.obs).numpy()
    plain = per_sample_bias_gradients(model, batch.obs, batch.actions, batch.returns)
    baselined = per_sample_bias_gradients(model, batch.obs, batch.actions,
                                          batch.returns - values)
    variance_plain = plain.var(axis=0).sum()
    variance_baselined = baselined.var(axis=0).sum()
    assert float(explained_variance(values, batch.returns)) > 0.3
    assert variance_baselined < 0.5 * variance_plain
    # Both estimate the same gradient: the baseline's expected contribution is zero.
    scale = np.sqrt(variance_plain / len(plain))
    assert np.abs(plain.mean(axis=0) - baselined.mean(axis=0)).max() < 4 * scale


def test_explained_variance():
    target = np.array([1.0, 2.0, 3.0, 4.0])
    assert float(explained_variance(target, target)) == 1.0
    assert float(explained_variance(np.full(4, target.mean()), target)) == 0.0
    assert np.isnan(float(explained_variance(target, np.ones(4))))  # targets without variance


def test_running_normalization_matches_the_statistics_of_all_data():
    rng = np.random.default_rng(0)
    chunks = [rng.normal([3.0, -1.0], [2.0, 0.1], size=(n, 2)) for n in (1, 7, 300, 55)]
    layer = RunningNormalization()
    layer.build((None, 2))
    for chunk in chunks:
        layer.update(chunk)
    everything = np.concatenate(chunks)
    np.testing.assert_allclose(layer.mean.numpy(), everything.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(layer.variance.numpy(), everything.var(axis=0), rtol=1e-4)
    assert float(layer.count.numpy()) == len(everything)
    out = layer(everything.astype(np.float32)).numpy()
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-3)
    assert np.abs(layer(np.array([[1e6, 0.0]], np.float32)).numpy()).max() == 10.0  # clipped


def test_returns_of_cut_off_episodes_continue_with_the_value_estimate():
    import dataclasses

    from keras_pg.algorithm.learner import Learner
    from keras_pg.config import Config
    from tests.fake_envs import ScriptedVectorEnv

    env = ScriptedVectorEnv([[3, 100], [100]], truncate_at=5)
    batch = collect_episodes(env, lambda o, *_: np.zeros(len(o), np.int32), 3, 0.5, seed=0)
    config = Config(baseline="value", bootstrap_truncated=True, gamma=0.5, normalize_obs=False)
    learners = []
    for bootstrap in (True, False):
        policy = mlp_policy(env.single_observation_space, env.single_action_space, (8,))
        learner = Learner(dataclasses.replace(config, bootstrap_truncated=bootstrap),
                          env.single_observation_space, env.single_action_space, policy)
        if learners:  # the same weights in both
            policy.set_weights(learners[0].model.get_weights())
            learner.value.set_weights(learners[0].value.get_weights())
        learners.append(learner)
    head = learners[0].value.get_layer("value")
    head.kernel.assign(np.zeros_like(head.kernel.numpy()))
    head.bias.assign([-10.0])  # V(s) = -10 everywhere
    learners[1].value.set_weights(learners[0].value.get_weights())

    returns = learners[0].bootstrapped_returns(batch)
    t, terminated = batch.obs[:, 2], batch.episode == 0
    np.testing.assert_allclose(returns[terminated], batch.returns[terminated])
    np.testing.assert_allclose(returns[~terminated],
                               batch.returns[~terminated] - 10.0 * 0.5 ** (5 - t[~terminated]),
                               rtol=1e-6)
    # The update fits V to these returns: lower targets for the cut-off episodes than the
    # plain returns, the same for the terminated one.
    for learner in learners:
        learner.learn(batch)
    with_bootstrap, without = (learner.value(batch.obs).numpy() for learner in learners)
    assert (with_bootstrap[~terminated] < without[~terminated]).all()
