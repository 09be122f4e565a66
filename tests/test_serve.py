"""serve.OnnxPolicy and the episode loop, against the Keras model they came from."""

import subprocess
import sys
import threading
from pathlib import Path

import gymnasium
import keras
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import export
import serve
from serve.cli import main as serve_main
from tests.linear_policies import HUGE_OBS, continuous_policy, discrete_answer, discrete_policy
from tests.policies import mlp_policy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """An untrained CartPole policy (probabilities far from 0 and 1) and its ONNX file."""
    keras.utils.set_random_seed(0)
    env = gymnasium.make("CartPole-v1")
    model = mlp_policy(env.observation_space, env.action_space, (16,))
    path = tmp_path_factory.mktemp("untrained") / "p.onnx"
    export.to_onnx(model, path, env_id="CartPole-v1")
    return model, path


def observations(n, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, (n, 4)).astype(np.float32)


def test_serve_imports_no_tensorflow(solved_run):
    script = f"""
import sys, serve
from serve.http import create_app
policy = serve.OnnxPolicy({str(solved_run / 'policy.onnx')!r})
policy.act([0.0, 0.0, 0.0, 0.0])
serve.run_episodes(policy, episodes=1)
create_app(policy)
loaded = [m for m in ("tensorflow", "keras", "tf2onnx", "keras_pg", "export") if m in sys.modules]
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT, timeout=120)


def test_act_equals_the_keras_greedy_action(solved_run):
    model = keras.models.load_model(solved_run / "model.keras")
    policy = serve.OnnxPolicy(solved_run / "policy.onnx")
    obs = observations(1000)
    expected = model(obs).numpy().argmax(axis=1)
    np.testing.assert_array_equal(policy.act(obs), expected)
    assert [policy.act(o) for o in obs[:200]] == expected[:200].tolist()
    assert isinstance(policy.act(obs[0]), int)


def test_probs_and_distribution_match_keras(untrained):
    model, path = untrained
    policy = serve.OnnxPolicy(path)
    obs = observations(64)
    logits = model(obs).numpy()
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(policy.probs(obs), expected, atol=1e-6)
    np.testing.assert_allclose(policy.probs(obs[3]), expected[3], atol=1e-6)
    raw = policy.distribution(obs)
    assert set(raw) == {"probs", "action"} and raw["action"].shape == (64,)


def test_sampled_frequencies_match_probs(untrained):
    _, path = untrained
    policy = serve.OnnxPolicy(path, seed=1)
    obs = observations(3, seed=5)
    n = 20_000
    for o in obs:
        p1 = float(policy.probs(o)[1])
        assert 0.05 < p1 < 0.95
        batch = policy.act(np.repeat(o[None], n, axis=0), deterministic=False)
        tolerance = 5 * np.sqrt(p1 * (1 - p1) / n)  # five standard errors
        assert abs(batch.mean() - p1) < tolerance
    single = [policy.act(obs[0], deterministic=False) for _ in range(4000)]
    p1 = float(policy.probs(obs[0])[1])
    assert abs(np.mean(single) - p1) < 5 * np.sqrt(p1 * (1 - p1) / 4000)


def test_sampling_is_reproducible_with_a_seed(untrained):
    _, path = untrained
    obs = observations(500)
    a = serve.OnnxPolicy(path, seed=7).act(obs, deterministic=False)
    b = serve.OnnxPolicy(path, seed=7).act(obs, deterministic=False)
    c = serve.OnnxPolicy(path, seed=8).act(obs, deterministic=False)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_lists_and_float64_are_accepted(solved_run):
    policy = serve.OnnxPolicy(solved_run / "policy.onnx")
    obs = observations(5)
    assert policy.act(obs.tolist()).tolist() == policy.act(obs).tolist()
    assert policy.act(obs.astype(np.float64)[0]) == policy.act(obs[0])
    assert policy.act(obs[0].tolist()) == policy.act(obs[0])


@pytest.mark.parametrize("bad,message", [
    ([0.0, 1.0, 2.0], r"obs has shape \(3,\); expected \(4,\) or \(batch, 4\)"),
    (np.zeros((2, 5)), r"obs has shape \(2, 5\)"),
    (np.zeros((0, 4)), r"obs has shape \(0, 4\)"),
    (["a", "b", "c", "d"], "obs must be numeric"),
    ([[1, 2], [1, 2, 3, 4]], "obs must be numeric"),
    ([0.0, np.nan, 0.0, 0.0], "obs contains NaN or inf"),
    ([0.0, np.inf, 0.0, 0.0], "obs contains NaN or inf"),
    (None, "obs"),
])
def test_bad_observations_are_one_line_value_errors(solved_run, bad, message):
    policy = serve.OnnxPolicy(solved_run / "policy.onnx")
    with pytest.raises(ValueError, match=message) as info:
        policy.act(bad)
    assert "\n" not in str(info.value)


def test_metadata_and_spaces(solved_run):
    policy = serve.OnnxPolicy(solved_run / "policy.onnx")
    assert policy.metadata["env_id"] == "CartPole-v1"
    assert policy.observation_shape == (4,) and policy.observation_dtype == np.float32
    assert policy.action_space == {"type": "Discrete", "n": 2, "start": 0}
    assert "CartPole-v1" in repr(policy)


def foreign_onnx(path: Path) -> np.ndarray:
    """A logits model written with onnx.helper (no keras_pg metadata); returns its weights."""
    weights = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["state", "w"], ["scores"])], "foreign",
        [helper.make_tensor_value_info("state", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor("w", TensorProto.FLOAT, (4, 3), weights.ravel())])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, path)
    return weights


def test_foreign_onnx_needs_and_accepts_shape_and_action_type(tmp_path):
    weights = foreign_onnx(tmp_path / "f.onnx")
    with pytest.raises(serve.PolicyLoadError, match="pass observation_shape"):
        serve.OnnxPolicy(tmp_path / "f.onnx")
    policy = serve.OnnxPolicy(tmp_path / "f.onnx", observation_shape=(4,),
                              action_type="discrete")
    obs = observations(50)
    scores = obs @ weights
    np.testing.assert_array_equal(policy.act(obs), scores.argmax(axis=1))
    expected = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(policy.probs(obs), expected, rtol=1e-5)
    assert policy.action_space["n"] == 3


def without_metadata(source: Path, path: Path) -> Path:
    """`source` laid out as export writes it -- output `action` [batch] first, then `probs`
    [batch, n] -- with its keras_pg metadata removed."""
    model = onnx.load(source)
    del model.metadata_props[:]
    outputs = sorted(model.graph.output, key=lambda output: output.name != "action")
    del model.graph.output[:]
    model.graph.output.extend(outputs)
    onnx.save(model, path)
    return path


def test_an_onnx_without_metadata_reads_its_output_named_probs(tmp_path):
    """Wherever `probs` is among the outputs, a file without metadata loaded as discrete
    answers from it: greedy is its argmax, sampling draws from it (as the same file with its
    metadata does, with the same seed)."""
    typed = discrete_policy(tmp_path / "typed.onnx")
    path = without_metadata(typed, tmp_path / "bare.onnx")
    policy = serve.OnnxPolicy(path, seed=3, observation_shape=(4,), action_type="discrete")
    obs = observations(64)
    probs, greedy = discrete_answer(obs)
    np.testing.assert_allclose(policy.probs(obs), probs, rtol=1e-5)
    np.testing.assert_array_equal(policy.act(obs), greedy)
    assert policy.action_space == {"type": "Discrete", "n": 2, "start": 0}
    sampled = serve.OnnxPolicy(typed, seed=3).act(obs, deterministic=False)
    np.testing.assert_array_equal(policy.act(obs, deterministic=False), sampled)
    assert serve_main([str(path), "--observation-shape", "4", "--action-type", "discrete",
                       "--env", "CartPole-v1", "--episodes", "2"]) == 0


def test_unloadable_files_are_clear_errors(tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(serve.PolicyLoadError, match="is not a loadable ONNX model"):
        serve.OnnxPolicy(tmp_path / "junk.onnx")
    with pytest.raises(serve.PolicyLoadError, match="not found"):
        serve.OnnxPolicy(tmp_path / "missing.onnx")


def test_act_is_thread_safe(solved_run):
    policy = serve.OnnxPolicy(solved_run / "policy.onnx")
    obs = observations(300)
    expected = policy.act(obs).tolist()
    results: dict[int, list[int]] = {}

    def worker(k):
        results[k] = [policy.act(o) for o in obs]

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(results[k] == expected for k in range(4))


def test_episode_loop_solves_cartpole(solved_run):
    policy = serve.OnnxPolicy(solved_run / "policy.onnx")
    result = serve.run_episodes(policy, episodes=100, seed=1000)
    assert result["env_id"] == "CartPole-v1" and result["episodes"] == 100
    assert result["mean_return"] >= 475
    assert result["steps"] == sum(result["returns"])
    assert 0 < result["latency_p50_us"] <= result["latency_p99_us"]


def test_cli_runs_episodes_and_writes_a_gif(untrained, tmp_path):
    _, path = untrained
    gif = tmp_path / "episode.gif"
    proc = subprocess.run(
        [sys.executable, "-m", "serve", str(path), "--episodes", "3", "--stochastic",
         "--gif", str(gif)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "over 3 episodes (sampled); act() latency p50" in proc.stdout
    from PIL import Image

    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames > 1 and image.size == (600, 400)


@pytest.mark.parametrize("args,message", [
    (["missing.onnx"], "error: missing.onnx not found"),
    (["README.md"], "error: README.md is not a loadable ONNX model"),
    (["{policy}", "--env", "CartPole-v9"], "error: cannot create env 'CartPole-v9': "),
    (["{policy}", "--env-kwargs", "[1]"], "error: --env-kwargs must be a JSON object"),
    (["{policy}", "--episodes", "0"], "error: episodes must be a positive integer"),
])
def test_cli_errors_exit_2(untrained, args, message):
    _, path = untrained
    argv = [a.format(policy=path) for a in args]
    proc = subprocess.run([sys.executable, "-m", "serve", *argv], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message) and len(proc.stderr.strip().splitlines()) == 1


def test_one_observation_arrays_get_every_check_of_the_other_path(tmp_path):
    # act's own path for one observation: the same answers and errors as a batch, or as a
    # call while another thread holds that path.
    policy = serve.OnnxPolicy(discrete_policy(tmp_path / "d.onnx"))
    obs = observations(20)
    _, actions = discrete_answer(obs)
    assert [policy.act(o) for o in obs] == actions.tolist()
    assert type(policy.act(obs[0])) is int and policy.act(obs[0].tolist()) == actions[0]
    assert policy.act(obs[0].astype(np.float64)) == actions[0]  # other dtypes: cast
    with pytest.raises(ValueError, match=r"^obs has shape \(3,\); expected \(4,\) or "):
        policy.act(obs[0, :3])
    with pytest.raises(ValueError, match=r"^obs must be real numbers with shape \(4,\)"):
        policy.act(obs[0].astype(np.complex64))
    for bad in (np.array([0, np.nan, 0, 0], np.float32), np.array([0, 0, 0, -np.inf], np.float32),
                [np.inf, 0, 0, 0]):
        with pytest.raises(ValueError) as info:
            policy.act(bad)
        assert str(info.value) == "obs contains NaN or inf; expected finite numbers"
    huge = np.array(HUGE_OBS, np.float32)  # finite, but the logits are inf and -inf
    errors = []
    for bad in (huge, HUGE_OBS, huge[None]):
        with pytest.raises(serve.NonFiniteOutputError) as info:
            policy.act(bad)
        errors.append(str(info.value))
    assert errors[0].startswith("policy output 'probs' is NaN or inf for observation 0 (of 1), "
                                "whose largest |value| is 3.4e+38")
    assert errors == [errors[0]] * 3
    one = policy._one
    assert one is not None and one.acquire(False)  # as if another thread were in act
    try:
        with pytest.raises(serve.NonFiniteOutputError) as info:
            policy.act(huge)
        assert str(info.value) == errors[0]
        assert policy.act(obs[1]) == actions[1]
    finally:
        one.release()
    assert policy.act(obs[2]) == actions[2]  # after the errors, answers as before


def test_one_observation_box_actions_are_their_own_arrays(tmp_path):
    policy = serve.OnnxPolicy(continuous_policy(tmp_path / "c.onnx"))
    obs = np.array([[0.1, 0.2, 0.3], [-0.3, 0.2, 0.1]], np.float32)
    first, second = policy.act(obs[0]), policy.act(obs[1])
    np.testing.assert_allclose(first, [0.5 * 0.1 - 0.2 + 2 * 0.3], rtol=1e-6)
    np.testing.assert_allclose(second, [0.5 * -0.3 - 0.2 + 2 * 0.1], rtol=1e-6)
    assert first.shape == (1,) and first.dtype == np.float32
    huge = np.array([3.4e38, -3.4e38, 3.4e38], np.float32)  # the mean overflows to inf
    messages = []
    for call in (lambda: policy.act(huge), lambda: policy.act(huge[None])):
        with pytest.raises(serve.NonFiniteOutputError) as info:
            call()
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith("policy output 'mean' is NaN or inf for observation 0")


@pytest.fixture(scope="module")
def gaussian(tmp_path_factory):
    """An untrained Pendulum (Box action) policy with a mean near a bound, and its file."""
    keras.utils.set_random_seed(0)
    env = gymnasium.make("Pendulum-v1")
    model = mlp_policy(env.observation_space, env.action_space, (16,), initial_log_std=-1.0)
    model.get_layer("mean").bias.assign([1.8])
    path = tmp_path_factory.mktemp("gaussian") / "g.onnx"
    export.to_onnx(model, path, env_id="Pendulum-v1")
    return model, path


def test_gaussian_act_is_the_clipped_mean_and_samples_match_mean_and_std(gaussian):
    model, path = gaussian
    policy = serve.OnnxPolicy(path, seed=3)
    obs = np.random.default_rng(0).uniform(-1, 1, (20, 3)).astype(np.float32)
    mean = model(obs).numpy()[:, :1]
    np.testing.assert_allclose(policy.act(obs), np.clip(mean, -2, 2), atol=1e-5)
    single = policy.act(obs[0])
    assert single.shape == (1,) and single.dtype == np.float32
    draws = policy.act(np.repeat(obs[:1], 20_000, axis=0), deterministic=False)
    assert draws.shape == (20_000, 1) and draws.max() <= 2.0  # clipped to the bound
    std = np.exp(-1.0)
    inside = draws[draws < 2.0]  # the unclipped part follows N(mean, std) truncated at 2
    assert abs(np.median(draws) - mean[0, 0]) < 5 * 1.25 * std / np.sqrt(20_000)
    assert inside.min() < mean[0, 0] - 2 * std
    assert set(policy.distribution(obs)) == {"mean", "std", "action"}
    with pytest.raises(ValueError, match="probs\\(\\) needs a discrete policy"):
        policy.probs(obs)


def test_gaussian_episode_loop_runs_pendulum(gaussian):
    _, path = gaussian
    result = serve.run_episodes(serve.OnnxPolicy(path, seed=0), episodes=2,
                                deterministic=False)
    assert result["env_id"] == "Pendulum-v1" and result["steps"] == 400
    assert result["mean_return"] < 0


def test_discrete_observation_policy_takes_a_scalar(tmp_path):
    env = gymnasium.make("FrozenLake-v1")
    model = mlp_policy(env.observation_space, env.action_space, (8,))
    export.to_onnx(model, tmp_path / "fl.onnx", env_id="FrozenLake-v1")
    policy = serve.OnnxPolicy(tmp_path / "fl.onnx")
    assert policy.observation_shape == ()
    states = np.arange(16)
    expected = model(states.astype(np.float32)).numpy().argmax(axis=1)
    assert [policy.act(int(s)) for s in states] == expected.tolist()
    np.testing.assert_array_equal(policy.act(states), expected)
