"""Recurrent policies (network gru / lstm): the cell stepped and unrolled, the state carried
per env in rollouts, learning a memory task, reproducibility and resume, export."""

import gymnasium as gym
import keras
import numpy as np
import pytest
import tensorflow as tf

import export
import keras_pg
import serve
from keras_pg.algorithm.batch import episode_steps
from keras_pg.algorithm.learner import batch_cells
from keras_pg.backends.rollout import collect_episodes
from keras_pg.cli import main
from keras_pg.config import ConfigError
from keras_pg.policy import build_policy, build_value, make_actor, make_head
from keras_pg.policy.networks import build_features
from keras_pg.policy.recurrent import unroll
from keras_pg.run.run_dir import RunDir
from tests.memory_env import SETTINGS as MEMORY  # importing it registers Cue-v0

CUE = "tests.memory_env:Cue-v0"
BOX4, TWO = gym.spaces.Box(-1.0, 1.0, (4,), np.float32), gym.spaces.Discrete(2)


def recurrent_policy(cell, units=8, space=BOX4, actions=TWO):
    features = build_features(cell, space, (16,), units=units)
    return build_policy(space, actions, features, normalize_obs=True)


@pytest.mark.parametrize("cell,size", [("gru", 8), ("lstm", 16)])
def test_unrolling_over_episodes_equals_stepping_each_from_zeros(cell, size):
    model = recurrent_policy(cell)
    assert [tuple(x.shape) for x in model.inputs] == [(None, 4), (None, size)]
    rng = np.random.default_rng(0)
    lengths = [3, 1, 5]
    episodes = [rng.standard_normal((n, 4)).astype(np.float32) for n in lengths]
    # The rows in an order other than by episode: the cells say where each belongs.
    rows = [(k, t) for t in range(5) for k, n in enumerate(lengths) if t < n]
    obs = np.stack([episodes[k][t] for k, t in rows])
    cells = np.array([(t, k) for k, t in rows], np.int32)
    got = unroll(model, obs, cells).numpy()
    for i, (k, t) in enumerate(rows):
        state = tf.zeros((1, size))
        for step in range(t + 1):
            params, state = model([tf.constant(episodes[k][step:step + 1]), state])
        np.testing.assert_allclose(got[i], params.numpy()[0], atol=1e-6)


def test_the_lstm_state_is_its_h_then_its_c():
    model = recurrent_policy("lstm", units=3)
    core = next(layer for layer in model._flatten_layers()
                if isinstance(layer, keras_pg.policy.RecurrentCore))
    x = tf.constant(np.random.default_rng(1).standard_normal((2, 16)), tf.float32)
    state = tf.constant(np.random.default_rng(2).standard_normal((2, 6)), tf.float32)
    h, next_state = core(x, state)
    expected_h, (same_h, c) = core.cell(x, [state[:, :3], state[:, 3:]])
    np.testing.assert_allclose(next_state, np.concatenate([same_h, c], axis=1), atol=1e-6)
    np.testing.assert_allclose(h, expected_h, atol=1e-6)


def counting_policy():
    """A recurrent policy whose state counts the steps of its episode (obs ignored): greedy
    action 1 from the episode's fourth step on."""
    obs, state = keras.Input((4,), name="obs"), keras.Input((1,), name="state")
    count = state + 1.0
    logits = keras.layers.Concatenate()([0.0 * obs[:, :1], (count - 3.5) * 100.0])
    return keras.Model([obs, state], [logits, count], name=keras_pg.policy.POLICY_NAME)


def test_rollouts_carry_the_state_per_env_and_zero_it_where_an_episode_starts():
    env = gym.make_vec("CartPole-v1", num_envs=3, vectorization_mode="sync")
    actor = make_actor(counting_policy(), make_head(TWO), greedy=True)
    assert actor.name == "tensorflow (recurrent)"
    with actor.round(0) as act:
        batch = collect_episodes(env, act, 7, 0.99, seed=0)
    env.close()
    steps = episode_steps(batch.episode)
    assert steps.max() >= 5 and len(batch.episode_lengths) == 7
    np.testing.assert_array_equal(batch.actions, (steps >= 3).astype(np.int32))


def test_the_numpy_actor_refuses_a_recurrent_policy_in_one_line():
    with pytest.raises(ConfigError, match=r"^actor numpy cannot run a recurrent policy; use "
                                          r"actor auto or tensorflow$"):
        make_actor(recurrent_policy("gru"), make_head(TWO), "numpy")


def test_the_graph_backend_refuses_a_recurrent_network_in_one_line():
    with pytest.raises(ConfigError, match=r"^network gru steps its state per env in rollouts: "
                                          r"backend gym or ray \(the graph"):
        keras_pg.REINFORCE("CartPole-v1", network="gru", backend="graph")


@pytest.fixture(scope="module")
def memory_runs(tmp_path_factory):
    """GRU and MLP on the memory task, same settings and budget: (summary, agent) each."""
    runs = {}
    for network in ("gru", "mlp"):
        agent = keras_pg.REINFORCE(CUE, network=network, seed=0, max_steps=24_000,
                                   run_dir=tmp_path_factory.mktemp(network), **MEMORY)
        runs[network] = (agent.learn(), agent)
    yield runs
    for _, agent in runs.values():
        agent.close()


def test_a_gru_policy_remembers_the_cue_while_the_mlp_stays_at_chance(memory_runs):
    gru, _ = memory_runs["gru"]
    mlp, _ = memory_runs["mlp"]
    assert gru["eval_mean_return"] >= 0.95  # greedy success over 200 episodes
    assert 0.35 <= mlp["eval_mean_return"] <= 0.65
    assert gru["actor"] == "tensorflow (recurrent)"
    assert gru["train_wall_s"] < 60


def test_a_recurrent_value_baseline_with_gae_and_bootstrapping_learns_the_cue():
    with keras_pg.REINFORCE(CUE, network="gru", seed=1, max_steps=24_000, baseline="value",
                            advantage="gae", bootstrap_truncated=True, value_epochs=2,
                            **MEMORY) as agent:
        summary = agent.learn()
    assert summary["eval_mean_return"] >= 0.95


def test_the_recurrent_value_reads_a_cut_episodes_last_observation_as_its_next_step():
    with keras_pg.REINFORCE("CartPole-v1", network="gru", seed=0, baseline="value",
                            bootstrap_truncated=True, max_episode_steps=6, num_envs=2,
                            episodes_per_update=3, recurrent_units=4, hidden=(8,),
                            tensorboard=False) as agent:
        learner = agent._trainer.learner
        batch = agent._trainer.backend.collect(0, lambda: False).batch
        got = learner.end_values(batch)
        for k in range(3):
            obs = batch.obs[batch.episode == k]
            assert len(obs) == 6  # every episode cut off by the time limit
            steps = np.concatenate([obs, batch.final_obs[k:k + 1]])
            state = tf.zeros((1, 4))
            for row in steps:
                value, state = learner.value([tf.constant(row[None]), state])
            np.testing.assert_allclose(got[k], value.numpy()[0], rtol=1e-5, atol=1e-6)
        cells = batch_cells(batch)
        assert (cells[:, 0] == episode_steps(batch.episode)).all()


def test_a_seeded_recurrent_run_reproduces_and_resumes_exactly(tmp_path):
    settings = dict(MEMORY, max_steps=6000, eval_episodes=0, seed=4)
    whole, part = tmp_path / "whole", tmp_path / "part"
    with keras_pg.REINFORCE(CUE, network="lstm", run_dir=whole, **settings) as agent:
        agent.learn()
    with keras_pg.REINFORCE(CUE, network="lstm", run_dir=part, **settings) as agent:
        agent.learn(2500)
        agent.save()
    assert main(["train", "--quiet", "--resume", str(part)]) == 0
    # All but the seconds, as text: the explained variance is NaN without a baseline.
    assert len(RunDir(whole).updates()) >= 30 and [repr(row[:-1]) for row in RunDir(
        part).updates()] == [repr(row[:-1]) for row in RunDir(whole).updates()]
    assert [row[:-1] for row in RunDir(part).episodes()] == [
        row[:-1] for row in RunDir(whole).episodes()]
    again = keras_pg.REINFORCE.load(whole)
    assert keras_pg.policy.is_recurrent(again.model)


def test_predict_carries_the_state_the_caller_passes(memory_runs):
    _, agent = memory_runs["gru"]
    for cue in (0, 1):
        state = agent.initial_state()
        action, state = agent.predict(np.array([2.0 * cue - 1.0, 0.0], np.float32), state)
        for t in range(1, 5):
            action, state = agent.predict(np.array([0.0, float(t == 4)], np.float32), state)
        assert action == cue
    with pytest.raises(ValueError, match=r"^this policy is recurrent: pass its state \("):
        agent.predict(np.zeros(2, np.float32))


def test_a_recurrent_value_network_has_a_state_of_its_own():
    policy = recurrent_policy("gru")
    value = build_value(BOX4, policy)
    assert [tuple(x.shape) for x in value.outputs] == [(None,), (None, 8)]
    assert not set(map(id, value.trainable_variables)) & set(map(id, policy.trainable_variables))
    # A feed-forward policy's (and value's) output stays one tensor, not a list of one.
    feed_forward = build_policy(BOX4, TWO, build_features("mlp", BOX4, (8,)))
    assert isinstance(feed_forward.output, keras.KerasTensor)
    assert isinstance(build_value(BOX4, feed_forward).output, keras.KerasTensor)


@pytest.fixture(scope="module")
def exported(memory_runs):
    """The GRU memory policy exported: (the export report, its OnnxPolicy, the agent)."""
    _, agent = memory_runs["gru"]
    report = export.to_onnx(agent)
    return report, serve.OnnxPolicy(report["path"]), agent


def test_the_export_is_one_step_with_the_state_verified_over_whole_episodes(exported):
    report, policy, _ = exported
    assert report["episodes"]["rollout"] >= 8 and report["episodes"]["sampled"] == 8
    assert report["action_agreement"] == 1.0
    assert report["max_abs_diff"][serve.contract.NEXT_STATE] <= 1e-5
    session = policy.session
    assert [(i.name, i.shape) for i in session.get_inputs()] == [
        ("obs", ["batch", 2]), ("state", ["batch", 16]), ("action_mask", ["batch", 2])]
    assert sorted(o.name for o in session.get_outputs()) == ["action", "next_state", "probs"]
    assert policy.metadata["recurrent"] == {
        "cell": "gru", "state_size": 16, "layout": [{"name": "h", "size": 16}],
        "initial_state": "zeros"}
    assert policy.state_size == 16


def cue_episodes(count, seed):
    """The observations of `count` Cue-v0 episodes (whatever the actions: they are ignored)."""
    env = gym.make(CUE)
    episodes = []
    for i in range(count):
        obs, _ = env.reset(seed=seed + i)
        rows, done = [obs], False
        while not done:
            obs, _, terminated, truncated, _ = env.step(0)
            done = terminated or truncated
            if not done:
                rows.append(obs)
        episodes.append(np.stack(rows))
    return episodes


def test_onnx_runtime_and_keras_carry_the_same_state_through_whole_episodes(exported):
    _, policy, agent = exported
    for episode in cue_episodes(10, seed=100):
        onnx_state, keras_state = policy.initial_state(), agent.initial_state()
        for obs in episode:
            onnx_action, onnx_state = policy.act(obs, onnx_state)
            keras_action, keras_state = agent.predict(obs, keras_state)
            assert onnx_action == keras_action
            np.testing.assert_allclose(onnx_state, keras_state, atol=1e-5)
    # A batch of episodes in lockstep answers as each one alone.
    batch = np.stack([episode for episode in cue_episodes(6, seed=200)], axis=1)  # [T, 6, 2]
    state, alone = policy.initial_state(6), [policy.episode() for _ in range(6)]
    for step in batch:
        actions, state = policy.act(step, state)
        assert actions.tolist() == [one.act(obs) for one, obs in zip(alone, step, strict=True)]


def test_an_episode_keeps_the_state_and_solves_the_cue(exported):
    _, policy, _ = exported
    env, successes = gym.make(CUE), 0
    episode = policy.episode()
    for i in range(50):
        obs, _ = env.reset(seed=1000 + i)
        episode.reset()
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(episode.act(obs))
            done = terminated or truncated
        successes += reward == 1.0
    assert successes == 50


@pytest.mark.parametrize("state,message", [
    (None, r"^this policy is recurrent: pass its state \(initial_state\(\) at an episode's "
           r"first step, then the state the previous step returned\)$"),
    (np.zeros(15, np.float32), r"^state must have shape \(16,\) for one observation "
                               r"\(state_size 16\); got \(15,\)$"),
    (np.zeros((2, 16), np.float32), r"^state must have shape \(16,\) for one observation"),
    (np.full(16, np.nan, np.float32), r"^state holds NaN or inf; expected the state a "
                                      r"previous step returned$"),
    ("zeros", r"^state must be numbers of shape \(16,\); got str$"),
])
def test_a_missing_or_misshaped_state_is_a_one_line_error(exported, state, message):
    _, policy, _ = exported
    with pytest.raises(ValueError, match=message):
        policy.act(np.zeros(2, np.float32), state)


def test_a_batch_needs_one_state_row_per_observation(exported):
    _, policy, _ = exported
    with pytest.raises(ValueError, match=r"^state must have shape \(3, 16\) for a batch of 3 "):
        policy.act(np.zeros((3, 2), np.float32), policy.initial_state(2))


def test_a_feed_forward_policy_refuses_a_state(memory_runs):
    _, agent = memory_runs["mlp"]
    with pytest.raises(ValueError, match=r"^this policy is feed-forward: it takes no state"):
        agent.predict(np.zeros(2, np.float32), np.zeros(16, np.float32))
    with pytest.raises(ValueError, match=r"^this policy is feed-forward"):
        agent.initial_state()


def test_int8_quantization_refuses_a_recurrent_policy_in_one_line(memory_runs, tmp_path):
    _, agent = memory_runs["gru"]
    with pytest.raises(export.ExportError, match=r"^--quantize int8 takes feed-forward "
                                                 r"policies; this one is recurrent"):
        export.to_onnx(agent, tmp_path / "p.onnx", quantize="int8")


def users_recurrent_network(space, units=16):
    """The documented form of a user's recurrent network: [preprocessed obs, state] ->
    [features, next_state]."""
    obs, state = keras.Input(space.shape), keras.Input((units,), name="state")
    x = keras.layers.Dense(16, activation="relu")(obs)
    h, (next_state,) = keras.layers.GRUCell(units)(x, [state])
    return keras.Model([obs, state], [h, next_state])


def test_a_users_recurrent_network_trains_and_exports_with_its_state(tmp_path):
    with keras_pg.REINFORCE(CUE, policy=users_recurrent_network, seed=0, max_steps=24_000,
                            run_dir=tmp_path, **MEMORY) as agent:
        summary = agent.learn()
        report = export.to_onnx(agent)
    assert summary["eval_mean_return"] >= 0.95
    policy = serve.OnnxPolicy(report["path"])
    assert policy.metadata["recurrent"] == {"cell": "custom", "state_size": 16, "layout": [
        {"name": "state", "size": 16}], "initial_state": "zeros"}
    assert report["action_agreement"] == 1.0 and report["episodes"]["rollout"] >= 8


def test_a_users_recurrent_network_must_return_a_state_of_its_states_shape():
    def network(space):
        obs, state = keras.Input(space.shape), keras.Input((8,))
        h, _ = keras.layers.GRUCell(4)(obs, [state[:, :4]])
        return keras.Model([obs, state], [h, h])

    with pytest.raises(ConfigError, match=r"^a recurrent policy network returns \[features, "
                                          r"next_state\] with next_state of its state input's "
                                          r"shape \(None, 8\); it returns \(None, 4\)$"):
        keras_pg.REINFORCE(CUE, policy=network)


def test_a_recurrent_policy_of_tuple_observations_exports_and_acts_with_its_parts(tmp_path):
    import tests.structured_envs  # noqa: F401  (registers Pair-v0)

    with keras_pg.REINFORCE("tests.structured_envs:Pair-v0", network="lstm", seed=0,
                            max_steps=2_000, recurrent_units=4, hidden=(8,), run_dir=tmp_path,
                            eval_episodes=0, tensorboard=False) as agent:
        agent.learn()
        report = export.to_onnx(agent)
        state = agent.initial_state()
        expected = []
        for part in ([0.5, -0.5], [-0.5, 0.5]):
            action, state = agent.predict((np.array(part, np.float32), 1), state)
            expected.append((action, state))
    assert report["action_agreement"] == 1.0 and report["episodes"]["rollout"] >= 8
    policy = serve.OnnxPolicy(report["path"])
    assert [i.name for i in policy.session.get_inputs()] == ["0", "1", "state", "action_mask"]
    state = policy.initial_state()
    assert state.shape == (8,)  # the LSTM's h then c
    for part, (action, keras_state) in zip(([0.5, -0.5], [-0.5, 0.5]), expected, strict=True):
        got, state = policy.act({"0": np.array(part, np.float32), "1": 1}, state)
        assert got == action
        np.testing.assert_allclose(state, keras_state, atol=1e-5)


def test_a_recurrent_run_directory_exports_from_the_command_line_and_logs_histograms(
        memory_runs):
    from export.cli import main as export_main

    _, agent = memory_runs["gru"]
    run_dir = agent.run_dir
    assert export_main([str(run_dir), "--output", str(run_dir / "cli.onnx")]) == 0
    policy = serve.OnnxPolicy(run_dir / "cli.onnx")
    assert policy.state_size == 16
    with keras_pg.REINFORCE(CUE, network="gru", seed=0, run_dir=run_dir.parent / "tb",
                            **dict(MEMORY, tensorboard=True, eval_episodes=0,
                                   histogram_every=1)) as tb_agent:
        tb_agent.learn(max_steps=400)
    assert list((run_dir.parent / "tb" / "tb").glob("events.out.tfevents.*"))


def test_verification_holds_a_growing_lstm_state_to_its_own_scale():
    """An LSTM's c adds up over an episode (here ~1 a step, to ~125): float32 rounding then
    differs by ~1e-4 in absolute terms, and by ~1e-6 of the state's size."""
    from export.convert import _convert, policy_function
    from export.verify_recurrent import sampled_episodes, verify_recurrent

    model = recurrent_policy("lstm", units=8)
    core = keras_pg.policy.recurrent_core(model)
    kernel, recurrent_kernel, bias = core.cell.get_weights()
    bias[:] = 0.0
    bias[:24] = 10.0  # input and forget gates open, candidate ~1
    core.cell.set_weights([kernel * 0.01, recurrent_kernel * 0.01, bias])
    function = policy_function(model, make_head(TWO))
    report = verify_recurrent(_convert(function, 17).SerializeToString(), function,
                              {"sampled": sampled_episodes(BOX4, 1000, 0)}, (2,))
    assert report["max_abs_diff"]["next_state"] > 1e-5  # beyond an absolute tolerance
    assert report["action_agreement"] == 1.0
