"""Keras -> ONNX export: parity, contract, metadata, atomicity and every error case."""

import json
import subprocess
import sys
from pathlib import Path

import gymnasium
import keras
import numpy as np
import onnx
import onnxruntime as ort
import pytest

import export
from export.cli import main as export_main
from keras_pg.cli import main as train_main
from serve import contract
from tests.policies import mlp_policy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("run")
    assert train_main(["train", "--run-dir", str(path), "--quiet", "--max-steps", "3000",
                       "--eval-episodes", "3"]) == 0
    return path


@pytest.mark.parametrize("env_id,hidden,opset", [
    ("CartPole-v1", (128,), 13),
    ("CartPole-v1", (64, 64), 17),
    ("Acrobot-v1", (32,), 17),
    ("Acrobot-v1", (256, 32), 18),
])
def test_round_trip_matches_keras(tmp_path, env_id, hidden, opset):
    env = __import__("gymnasium").make(env_id)
    model = mlp_policy(env.observation_space, env.action_space, hidden)
    path = tmp_path / "p.onnx"
    report = export.to_onnx(model, path, env_id=env_id, opset=opset)
    assert report["max_abs_diff"]["probs"] <= 1e-5 and report["action_agreement"] == 1.0
    assert report["observations"] == {"sampled": 1000, "rollout": 1000}
    assert report["opset"] == opset and report["file_bytes"] == path.stat().st_size
    session = ort.InferenceSession(str(path))
    obs = np.random.default_rng(1).normal(size=(37, *env.observation_space.shape))
    probs, action = session.run(["probs", "action"], {"obs": obs.astype(np.float32),
                                                      "action_mask": all_legal(37, env)})
    logits = model(obs.astype(np.float32)).numpy()
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    np.testing.assert_array_equal(action, logits.argmax(axis=1))
    assert action.dtype == np.int64
    imports = {o.domain or "ai.onnx": o.version for o in onnx.load(path).opset_import}
    assert imports["ai.onnx"] == opset


def all_legal(rows: int, env) -> np.ndarray:
    """The action_mask feed of a categorical file: every action legal."""
    return np.ones((rows, env.action_space.n), bool)


def _graph(proto):
    """A converted graph as its nodes (op type, attributes, inputs, outputs), in
    `_canonical_order`, with each tensor named by its order of appearance, and the
    initializers' values in that order: two conversions compare equal whatever names their
    traces gave the tensors."""
    initializers = {i.name: onnx.numpy_helper.to_array(i).tolist()
                    for i in proto.graph.initializer}
    names: dict[str, int] = {i.name: -1 - n for n, i in enumerate(proto.graph.input)}
    nodes, values = [], []
    for node in _canonical_order(proto.graph.node, names, initializers):
        for name in node.input:
            if name in initializers and name not in names:
                values.append(initializers[name])
        ids = [names.setdefault(name, len(names)) for name in [*node.input, *node.output]]
        nodes.append((node.op_type, [str(a) for a in node.attribute], ids))
    return nodes, values, [(o.name, names[o.name]) for o in proto.graph.output]


def _canonical_order(nodes, inputs: dict[str, int], initializers: dict[str, list]) -> list:
    """The nodes in a topological order that does not depend on the file's: of the nodes
    whose inputs are all known, the least by op, attributes and inputs (a graph input's
    position, an initializer's value, or the order in which the nodes so far produced it)."""
    known, order, pending = dict(inputs), [], list(nodes)
    while pending:
        def key(node):
            return (node.op_type, [str(a) for a in node.attribute],
                    [str(known[x]) if x in known else repr(initializers.get(x))
                     for x in node.input])

        ready = [n for n in pending
                 if all(x in known or x in initializers or not x for x in n.input)]
        node = min(ready, key=key)
        pending.remove(node)
        order.append(node)
        for name in node.output:
            known.setdefault(name, len(known))
    return order


def test_stepwise_conversion_is_tf2onnx_from_function_and_falls_back_to_it(monkeypatch):
    """export.convert runs tf2onnx's steps itself (its optimizer passes in place, no graph
    copy per pass): the same graph as `tf2onnx.convert.from_function`; should a pass raise,
    the conversion is redone by from_function, which skips that pass."""
    import tf2onnx

    from export.convert import policy_function, to_model_proto
    from export.source import load_source
    from keras_pg.policy import make_head

    env = gymnasium.make("Acrobot-v1")
    model = mlp_policy(env.observation_space, env.action_space, (32, 16), normalize_obs=True)
    source = load_source(model, "Acrobot-v1")
    function = policy_function(model, make_head(env.action_space))
    reference, _ = tf2onnx.convert.from_function(
        function, input_signature=function.input_signature, opset=17)
    assert _graph(to_model_proto(source, 17, function)) == _graph(reference)

    optimize_graph = tf2onnx.optimizer.optimize_graph
    calls = []

    def failing_in_place(graph, catch_errors=True, optimizers=None):
        calls.append(catch_errors)
        if not catch_errors:
            raise RuntimeError("a pass failed")
        return optimize_graph(graph, catch_errors, optimizers)

    monkeypatch.setattr(tf2onnx.optimizer, "optimize_graph", failing_in_place)
    assert _graph(to_model_proto(source, 17, function)) == _graph(reference)
    assert calls == [False, True]


def test_gaussian_policy_exports_mean_std_and_clipped_action(tmp_path):
    env = gymnasium.make("Pendulum-v1")
    model = mlp_policy(env.observation_space, env.action_space, (32,), initial_log_std=-0.5)
    model.get_layer("mean").bias.assign([3.0])  # a mean beyond the bound: the action clips
    path = tmp_path / "g.onnx"
    report = export.to_onnx(model, path, env_id="Pendulum-v1", opset=17)
    assert set(report["max_abs_diff"]) == {"mean", "std", "action"}
    assert max(report["max_abs_diff"].values()) <= 1e-5
    session = ort.InferenceSession(str(path))
    outputs = {o.name: (o.type, o.shape) for o in session.get_outputs()}
    assert outputs == {name: ("tensor(float)", ["batch", 1]) for name in ("mean", "std", "action")}
    obs = np.random.default_rng(0).uniform(-1, 1, (64, 3)).astype(np.float32)
    mean, std, action = session.run(["mean", "std", "action"], {"obs": obs})
    params = model(obs).numpy()
    np.testing.assert_allclose(mean, params[:, :1], atol=1e-5)
    np.testing.assert_allclose(std, np.exp(-0.5), rtol=1e-6)
    np.testing.assert_allclose(action, np.clip(mean, -2.0, 2.0), atol=1e-6)
    assert (action == 2.0).any()
    meta = {p.key: json.loads(p.value) for p in onnx.load(path).metadata_props}
    assert meta["policy_kind"] == "gaussian"
    assert meta["action_space"] == {"type": "Box", "shape": [1], "dtype": "float32",
                                    "low": [-2.0], "high": [2.0]}


def test_discrete_observations_are_one_hot_inside_the_graph(tmp_path):
    env = gymnasium.make("FrozenLake-v1")
    model = mlp_policy(env.observation_space, env.action_space, (16,))
    path = tmp_path / "fl.onnx"
    export.to_onnx(model, path, env_id="FrozenLake-v1")
    session = ort.InferenceSession(str(path))
    assert session.get_inputs()[0].shape == ["batch"]
    states = np.arange(16, dtype=np.float32)
    probs = session.run(["probs"], {"obs": states,
                                    "action_mask": np.ones((len(states), 4), bool)})[0]
    one_hot_logits = model(states).numpy()
    expected = np.exp(one_hot_logits) / np.exp(one_hot_logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    assert len({tuple(np.round(p, 6)) for p in probs}) == 16  # each state its own row


def test_observation_normalizer_travels_inside_the_onnx_file(tmp_path):
    env = gymnasium.make("CartPole-v1")
    model = mlp_policy(env.observation_space, env.action_space, (16,), normalize_obs=True)
    normalizer = model.get_layer("obs_normalization")
    normalizer.update(np.random.default_rng(0).normal([1, -2, 0.1, 3], [2, 0.5, 0.1, 4],
                                                      size=(5000, 4)))
    path = tmp_path / "n.onnx"
    export.to_onnx(model, path, env_id="CartPole-v1")
    obs = np.random.default_rng(1).normal([1, -2, 0.1, 3], [2, 0.5, 0.1, 4], size=(200, 4))
    obs = obs.astype(np.float32)
    session = ort.InferenceSession(str(path))
    logits = model(obs).numpy()
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(session.run(["probs"], {
        "obs": obs, "action_mask": np.ones((len(obs), 2), bool)})[0], expected, atol=1e-5)
    np.testing.assert_allclose(normalizer.mean.numpy(), [1, -2, 0.1, 3], atol=0.15)
    model.save(tmp_path / "saved.keras")
    reloaded = keras.models.load_model(tmp_path / "saved.keras")
    np.testing.assert_allclose(reloaded(obs).numpy(), logits, atol=1e-6)


def test_contract_inputs_outputs_and_dynamic_batch(run_dir):
    report = export.to_onnx(run_dir)
    path = run_dir / "policy.onnx"
    assert report["path"] == str(path) and (run_dir / "export_report.json").exists()
    session = ort.InferenceSession(str(path))
    assert [(i.name, i.type, i.shape) for i in session.get_inputs()] == [
        ("obs", "tensor(float)", ["batch", 4]), ("action_mask", "tensor(bool)", ["batch", 2])]
    outputs = {o.name: (o.type, o.shape) for o in session.get_outputs()}
    assert outputs == {"probs": ("tensor(float)", ["batch", 2]),
                       "action": ("tensor(int64)", ["batch"])}
    model = keras.models.load_model(run_dir / "model.keras")
    for batch in (1, 5, 1024):
        obs = np.random.default_rng(batch).uniform(-1, 1, (batch, 4)).astype(np.float32)
        probs, action = session.run(["probs", "action"], {
            "obs": obs, "action_mask": np.ones((batch, 2), bool)})
        assert probs.shape == (batch, 2) and action.shape == (batch,)
        np.testing.assert_array_equal(action, model(obs).numpy().argmax(axis=1))
    assert path.stat().st_size <= 100_000


def test_metadata_reads_back_with_onnx_alone(run_dir):
    export.to_onnx(run_dir)
    script = (
        "import json, sys, onnx\n"
        f"m = onnx.load({str(run_dir / 'policy.onnx')!r})\n"
        "meta = {p.key: json.loads(p.value) for p in m.metadata_props}\n"
        "assert 'tensorflow' not in sys.modules\n"
        "print(json.dumps(meta))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    meta = json.loads(out)
    config = json.loads((run_dir / "config.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert meta["contract_version"] == contract.CONTRACT_VERSION == 6
    assert meta[contract.RECURRENT_KEY] is None  # feed-forward
    assert meta[contract.ACTION_MASK_KEY] == {"size": 2, "trained": False, "source": None,
                                              "function": None}  # CartPole offers none
    assert meta["env_id"] == "CartPole-v1" and meta["policy_kind"] == "categorical"
    assert meta["observation_space"]["shape"] == [4]
    assert meta["observation_space"]["high"][1] == "inf"
    assert meta["observation_space"]["high"][0] == pytest.approx(4.8)
    assert meta["action_space"] == {"type": "Discrete", "n": 2, "start": 0}
    assert meta["training_config"] == config
    assert meta["env_steps"] == summary["env_steps"]
    assert meta["eval_mean_return"] == summary["eval_mean_return"]
    assert set(meta["versions"]) == {"tensorflow", "keras", "tf2onnx", "onnx"}
    assert meta["created_at"].endswith("+00:00")


def test_failed_verification_leaves_no_file_and_keeps_the_old_one(run_dir, monkeypatch, tmp_path):
    target = tmp_path / "p.onnx"
    target.write_bytes(b"previous export")

    def corrupt(model_bytes, policy, observations, mask_branches):
        raise export.VerificationError("simulated mismatch")

    monkeypatch.setattr("export.export.verify", corrupt)
    with pytest.raises(export.VerificationError):
        export.to_onnx(run_dir, target)
    assert target.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.onnx"]


def test_interrupted_write_leaves_no_partial_file(run_dir, monkeypatch, tmp_path):
    target = tmp_path / "p.onnx"

    def write_half_then_die(path, write):
        from keras_pg.run.files import atomic_write

        def half(tmp):
            tmp.write_bytes(b"\x08\x07partial")
            raise KeyboardInterrupt

        atomic_write(path, half)

    monkeypatch.setattr("export.export.atomic_write", write_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        export.to_onnx(run_dir, target)
    assert list(tmp_path.iterdir()) == []


def test_verification_failure_exits_1(run_dir, monkeypatch, capsys, tmp_path):
    def mismatch(model_bytes, policy, observations, mask_branches):
        raise export.VerificationError("ONNX and Keras disagree: simulated")

    monkeypatch.setattr("export.export.verify", mismatch)
    assert export_main([str(run_dir), "-o", str(tmp_path / "p.onnx")]) == 1
    assert "verification failed, nothing written" in capsys.readouterr().err
    assert not (tmp_path / "p.onnx").exists()


def foreign_keras_file(tmp_path):
    path = tmp_path / "other.keras"
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="not_a_policy")
    model.save(path)
    (tmp_path / "config.json").write_text(json.dumps({"env_id": "CartPole-v1"}))
    return path


@pytest.mark.parametrize("case,message", [
    ("missing", "error: {tmp}/nope not found; expected a run directory or a .keras file"),
    ("foreign", "error: {tmp}/other.keras is not a keras_pg policy"),
    ("opset", "error: unsupported opset 99; expected 13 to 18"),
    ("unwritable", "error: cannot write /nonexistent/dir/p.onnx"),
    ("suffix", "error: output {tmp}/p.txt should end in .onnx"),
])
def test_cli_errors_exit_2_in_one_line(run_dir, tmp_path, case, message):
    args = {
        "missing": [str(tmp_path / "nope")],
        "foreign": [str(foreign_keras_file(tmp_path))],
        "opset": [str(run_dir), "--opset", "99", "-o", str(tmp_path / "p.onnx")],
        "unwritable": [str(run_dir), "-o", "/nonexistent/dir/p.onnx"],
        "suffix": [str(run_dir), "-o", str(tmp_path / "p.txt")],
    }[case]
    proc = subprocess.run([sys.executable, "-m", "export", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(message.format(tmp=tmp_path)), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*.onnx"))
