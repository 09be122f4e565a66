"""Generalized advantage estimation (`advantage="gae"`): the math against hand-computed
values, lambda = 1 against Monte Carlo REINFORCE with a value baseline (both backends), and
the batch bookkeeping it relies on."""

import dataclasses

import keras
import numpy as np
import pytest

import keras_pg
from keras_pg.algorithm.advantages import lambda_advantages
from keras_pg.algorithm.batch import episode_steps
from keras_pg.algorithm.learner import Learner
from keras_pg.algorithm.returns import reward_to_go
from keras_pg.backends.rollout import collect_episodes
from keras_pg.config import Config, ConfigError
from tests.fake_envs import ScriptedVectorEnv
from tests.policies import mlp_policy

# Two episodes, interleaved as a rollout flattens them (time-major across envs):
# episode 0 terminates after 2 steps, episode 1 is cut off after 3 with V(s_3) = 4.
REWARDS = np.array([1, 0, 2, 1, 1], np.float32)
VALUES = np.array([0.5, 1, 1, 2, 2], np.float32)
CELLS = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 1]], np.int32)
END_VALUES = np.array([0, 4], np.float32)


def test_advantages_against_hand_computed_values():
    # gamma 0.5, lambda 0.5. Episode 0: delta = [1 + 0.5*1 - 0.5, 2 + 0 - 1] = [1, 1],
    # A = [1 + 0.25*1, 1] = [1.25, 1]. Episode 1: delta = [0 + 0.5*2 - 1, 1 + 0.5*2 - 2,
    # 1 + 0.5*4 - 2] = [0, 0, 1], A = [0.0625, 0.25, 1].
    advantages = lambda_advantages(REWARDS, VALUES, CELLS, END_VALUES, 0.5, 0.5).numpy()
    np.testing.assert_allclose(advantages, [1.25, 0.0625, 1, 0.25, 1])
    # lambda 0: the one-step errors themselves.
    deltas = lambda_advantages(REWARDS, VALUES, CELLS, END_VALUES, 0.5, 0.0).numpy()
    np.testing.assert_allclose(deltas, [1, 0, 1, 0, 1])
    # A terminated episode ignores its end value; a truncated one bootstraps from it.
    no_bootstrap = lambda_advantages(REWARDS, VALUES, CELLS, np.zeros(2, np.float32), 0.5,
                                     0.5).numpy()
    np.testing.assert_allclose(no_bootstrap, [1.25, 0.0625 - 0.125, 1, 0.25 - 0.5, -1])


def test_lambda_one_is_the_monte_carlo_return_minus_the_baseline():
    rng = np.random.default_rng(0)
    lengths, gamma = [7, 1, 12, 4], 0.9
    rewards = [rng.normal(size=n).astype(np.float32) for n in lengths]
    values = [rng.normal(size=n).astype(np.float32) for n in lengths]
    end_values = np.array([0.0, 2.5, -1.0, 0.0], np.float32)
    cells = np.concatenate([np.stack([np.arange(n), np.full(n, k)], 1)
                            for k, n in enumerate(lengths)]).astype(np.int32)
    order = rng.permutation(len(cells))  # any order of transitions
    got = lambda_advantages(np.concatenate(rewards)[order], np.concatenate(values)[order],
                            cells[order], end_values, gamma, 1.0).numpy()
    expected = np.concatenate([
        reward_to_go(r, gamma) + gamma ** (n - np.arange(n)) * end - v
        for r, v, end, n in zip(rewards, values, end_values, lengths, strict=True)])
    np.testing.assert_allclose(got, expected[order], rtol=1e-5, atol=1e-5)


def test_episode_steps_number_each_episodes_transitions_in_order():
    np.testing.assert_array_equal(episode_steps(np.array([0, 1, 0, 1, 1, 2, 0])),
                                  [0, 0, 1, 1, 2, 0, 2])


def learners_with_shared_weights(configs, env):
    learners = []
    for config in configs:
        keras.utils.set_random_seed(0)
        policy = mlp_policy(env.single_observation_space, env.single_action_space, (8,))
        learners.append(Learner(config, env.single_observation_space, env.single_action_space,
                                policy))
    for learner in learners[1:]:
        learner.model.set_weights(learners[0].model.get_weights())
        learner.value.set_weights(learners[0].value.get_weights())
    return learners


def test_gae_with_lambda_one_updates_exactly_as_monte_carlo_with_baseline():
    # Episodes of 3, 9 and 100 steps, those over 6 cut off by a time limit and bootstrapped.
    env = ScriptedVectorEnv([[3, 100], [9]], truncate_at=6)
    batch = collect_episodes(env, lambda o, *_: (o[:, 2] % 2).astype(np.int32), 4, 0.9, seed=0)
    assert batch.bootstrap_discount.any() and not batch.bootstrap_discount.all()
    mc = Config(baseline="value", bootstrap_truncated=True, gamma=0.9, normalize_obs=False)
    gae = dataclasses.replace(mc, advantage="gae", gae_lambda=1.0)
    mc_learner, gae_learner = learners_with_shared_weights([mc, gae], env)
    head = mc_learner.value.get_layer("value")  # a baseline far from the returns
    head.bias.assign([3.0])
    gae_learner.value.set_weights(mc_learner.value.get_weights())

    cells = np.stack([episode_steps(batch.episode), batch.episode], 1)
    weights_gae, targets_gae, _ = gae_learner._gae(batch.obs, batch.rewards, cells,
                                                   gae_learner.end_values(batch))
    weights_mc, targets_mc, _ = mc_learner._advantages(
        batch.obs, mc_learner.bootstrapped_returns(batch), cells)
    np.testing.assert_allclose(targets_gae, targets_mc, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(weights_gae, weights_mc, rtol=1e-4, atol=1e-4)
    for learner in (mc_learner, gae_learner):
        learner.learn(batch)
    for a, b in zip(mc_learner.state_arrays().values(), gae_learner.state_arrays().values(),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_lambda_below_one_weights_differently_and_fits_lambda_returns():
    env = ScriptedVectorEnv([[3, 100], [9]], truncate_at=6)
    batch = collect_episodes(env, lambda o, *_: (o[:, 2] % 2).astype(np.int32), 4, 0.9, seed=0)
    config = Config(baseline="value", advantage="gae", gae_lambda=0.5, gamma=0.9,
                    normalize_obs=False)
    (learner,) = learners_with_shared_weights([config], env)
    cells = np.stack([episode_steps(batch.episode), batch.episode], 1)
    ends = learner.end_values(batch)
    values = learner.value(batch.obs).numpy()
    _, targets, _ = learner._gae(batch.obs, batch.rewards, cells, ends)
    raw = lambda_advantages(batch.rewards, values, cells, ends, 0.9, 0.5).numpy()
    np.testing.assert_allclose(targets, raw + values, rtol=1e-5, atol=1e-5)
    mc_targets = batch.returns  # lambda 1 without bootstrapping
    assert not np.allclose(targets, mc_targets, atol=1e-2)


@pytest.mark.parametrize("settings", [{"num_envs": 8, "episodes_per_update": 8}])
def test_graph_backend_gae_with_lambda_one_matches_monte_carlo(settings):
    """The compiled iteration's GAE path: lambda 1 trains to the same weights as Monte Carlo
    with the value baseline, from the same seed."""
    weights = []
    for extra in ({}, {"advantage": "gae", "gae_lambda": 1.0}):
        agent = keras_pg.REINFORCE("CartPole-v1", preset="none", backend="graph",
                                   baseline="value", max_steps=2_000, eval_episodes=0,
                                   tensorboard=False, seed=3, **settings, **extra)
        agent.learn()
        assert agent.progress.updates >= 2
        weights.append(agent.model.get_weights())
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_gae_settings_are_checked():
    with pytest.raises(ConfigError, match="advantage gae estimates advantages with the value "
                                          "network: set baseline value"):
        Config(advantage="gae")
    with pytest.raises(ConfigError, match=r"gae_lambda must be in \[0, 1\], got 1.5"):
        Config(baseline="value", advantage="gae", gae_lambda=1.5)
    with pytest.raises(ConfigError, match="advantage must be one of mc, gae; got 'td'"):
        Config(advantage="td")
