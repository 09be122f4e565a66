import numpy as np
import pytest

from keras_pg.algorithm.batch import concatenate
from keras_pg.algorithm.returns import reward_to_go
from keras_pg.backends.rollout import collect_episodes
from tests.fake_envs import RESET_REWARD, ScriptedVectorEnv


def zeros_policy(obs, starts, masks):
    return np.zeros(len(obs), dtype=np.int32)


def test_autoreset_steps_never_enter_an_episode():
    env = ScriptedVectorEnv([[3, 2, 4], [1, 5]])
    batch = collect_episodes(env, zeros_policy, num_episodes=5, gamma=1.0, seed=0)
    assert RESET_REWARD not in batch.returns
    np.testing.assert_array_equal(batch.episode_returns, batch.episode_lengths)
    # Every kept observation is [env, episode, t] with t running 0..length-1 per episode.
    per_episode: dict[tuple[int, int], list[int]] = {}
    for env_id, episode, t in batch.obs.astype(int):
        per_episode.setdefault((env_id, episode), []).append(t)
    for steps in per_episode.values():
        assert steps == list(range(len(steps)))
    assert sorted(per_episode) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    assert [len(per_episode[k]) for k in sorted(per_episode)] == [3, 2, 4, 1, 5]
    assert len(batch.obs) == 15


def test_returns_are_per_episode_reward_to_go():
    env = ScriptedVectorEnv([[3, 2], [4]])
    batch = collect_episodes(env, zeros_policy, num_episodes=3, gamma=0.5, seed=0)
    expected = {3: reward_to_go(np.ones(3), 0.5), 2: reward_to_go(np.ones(2), 0.5),
                4: reward_to_go(np.ones(4), 0.5)}
    for env_id, episode in {(0, 0): 3, (0, 1): 2, (1, 0): 4}.items():
        mask = (batch.obs[:, 0] == env_id[0]) & (batch.obs[:, 1] == env_id[1])
        np.testing.assert_allclose(batch.returns[mask], expected[episode])


def test_episodes_assigned_up_front_not_first_to_finish():
    # Env 0 finishes many short episodes while env 1 runs one long one: taking the first
    # four to finish would drop the long episode; up-front assignment keeps it.
    env = ScriptedVectorEnv([[1], [10]])
    batch = collect_episodes(env, zeros_policy, num_episodes=4, gamma=1.0, seed=0)
    assert batch.episode_lengths.tolist() == [1, 10, 1, 1]  # in the order they started


def test_fewer_episodes_than_envs_leaves_extra_envs_idle():
    env = ScriptedVectorEnv([[2], [3], [4], [5]])
    batch = collect_episodes(env, zeros_policy, num_episodes=2, gamma=1.0, seed=0)
    assert batch.episode_lengths.tolist() == [2, 3]
    assert set(batch.obs[:, 0].astype(int)) == {0, 1}


def test_truncation_ends_the_episode():
    env = ScriptedVectorEnv([[100]], truncate_at=5)
    batch = collect_episodes(env, zeros_policy, num_episodes=2, gamma=1.0, seed=0)
    assert batch.episode_lengths.tolist() == [5, 5]
    np.testing.assert_allclose(batch.returns[:5], [5, 4, 3, 2, 1])


def test_truncated_episodes_keep_the_observation_they_were_cut_off_in():
    # Episodes in start order: 0 (env 0, terminates after 3 steps), 1 (env 1, cut off at
    # 5), 2 (env 0's second, cut off at 5).
    env = ScriptedVectorEnv([[3, 100], [100]], truncate_at=5)
    batch = collect_episodes(env, zeros_policy, num_episodes=3, gamma=0.5, seed=0)
    assert batch.episode_lengths.tolist() == [3, 5, 5]
    np.testing.assert_array_equal(batch.final_obs, [[0, 0, 0], [1, 0, 5], [0, 1, 5]])
    slots = {(0, 0): 0, (1, 0): 1, (0, 1): 2}  # (env, episode of that env) -> start order
    expected_episode = [slots[(int(e), int(k))] for e, k, _ in batch.obs]
    np.testing.assert_array_equal(batch.episode, expected_episode)
    t = batch.obs[:, 2]
    cut = batch.episode != 0
    np.testing.assert_allclose(batch.bootstrap_discount[cut], 0.5 ** (5 - t[cut]))
    np.testing.assert_array_equal(batch.bootstrap_discount[~cut], 0.0)


def test_concatenated_batches_point_at_their_own_episodes():
    first = collect_episodes(ScriptedVectorEnv([[100]], truncate_at=2), zeros_policy, 1, 1.0, 0)
    second = collect_episodes(ScriptedVectorEnv([[100], [100]], truncate_at=3), zeros_policy,
                              2, 1.0, 0)
    both = concatenate([first, second])
    assert both.episode.tolist() == [0, 0, 1, 2, 1, 2, 1, 2]
    np.testing.assert_array_equal(both.final_obs, [[0, 0, 2], [0, 0, 3], [1, 0, 3]])
    # Each transition's episode holds the final observation of that env's episode.
    np.testing.assert_array_equal(both.final_obs[both.episode][:, :2], both.obs[:, :2])


def test_every_round_starts_from_a_reset():
    env = ScriptedVectorEnv([[2], [2]])
    for _ in range(3):
        collect_episodes(env, zeros_policy, num_episodes=2, gamma=1.0)
    assert env.resets == 3


@pytest.mark.parametrize("num_envs,num_episodes", [(1, 1), (3, 7), (8, 2)])
def test_cartpole_lengths_add_up(num_envs, num_episodes):
    from keras_pg.envs.source import EnvSource

    env = EnvSource("CartPole-v1", {}, None).make_vector(num_envs)
    rng = np.random.default_rng(0)
    batch = collect_episodes(env, lambda o, *_: rng.integers(0, 2, len(o)), num_episodes, 0.99, 0)
    assert len(batch.episode_lengths) == num_episodes
    assert len(batch.obs) == batch.episode_lengths.sum() == len(batch.actions)
    np.testing.assert_array_equal(batch.episode_returns, batch.episode_lengths)


class NaNWhereCutOff(ScriptedVectorEnv):
    """Returns a NaN observation exactly where the time limit cuts an episode off."""

    def step(self, actions):
        obs, rewards, terminated, truncated, info = super().step(actions)
        obs[truncated] = np.nan
        return obs, rewards, terminated, truncated, info


def test_a_non_finite_observation_where_a_time_limit_cuts_off_is_blamed_on_the_env():
    from keras_pg.backends.rollout import EnvOutputError

    with pytest.raises(EnvOutputError, match="the last observation of episode 1 of this "
                                             "round, where a time limit cut it off"):
        collect_episodes(NaNWhereCutOff([[3], [100]], truncate_at=5), zeros_policy, 2, 1.0, 0)
