"""Training with `--backend graph`: same run directory, evaluation and export as gymnasium."""

import numpy as np

import serve
from export.cli import main as export_main
from keras_pg.cli import main
from keras_pg.run import run_dir as rd
from keras_pg.run.run_dir import RunDir


def test_graph_backend_solves_cartpole_and_serves_in_gymnasium(tmp_path):
    assert main(["train", "--backend", "graph", "--run-dir", str(tmp_path), "--quiet"]) == 0
    summary = RunDir(tmp_path).read_summary()
    assert summary["solved"] and summary["eval_mean_return"] >= 475  # real gymnasium episodes
    assert RunDir(tmp_path).read_config()["backend"] == "graph"
    rows = RunDir(tmp_path).episodes()
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[-1][1] == sum(r[3] for r in rows) == summary["env_steps"]
    assert export_main([str(tmp_path)]) == 0
    policy = serve.OnnxPolicy(tmp_path / "policy.onnx")
    assert serve.run_episodes(policy, "CartPole-v1", episodes=20, seed=99)["mean_return"] >= 475


def test_graph_backend_is_seeded(tmp_path):
    flags = ["--backend", "graph", "--max-steps", "20000", "--eval-episodes", "3", "--quiet"]
    for name in ("a", "b"):
        assert main(["train", "--run-dir", str(tmp_path / name), *flags]) == 0
    a, b = (np.array(RunDir(tmp_path / n).episodes())[:, :4] for n in "ab")
    assert len(a) >= 64
    np.testing.assert_array_equal(a, b)


def test_graph_backend_with_gaussian_head_baseline_entropy_and_normalization(tmp_path):
    """Pendulum in TensorFlow ops: Box actions, value baseline, entropy, normalization."""
    assert main(["train", "--backend", "graph", "--env", "Pendulum-v1", "--num-envs", "8",
                 "--episodes-per-update", "8", "--baseline", "value", "--entropy-coef", "0.01",
                 "--normalize-obs", "--max-steps", "8000", "--eval-episodes", "2",
                 "--run-dir", str(tmp_path), "--quiet"]) == 0
    updates = RunDir(tmp_path).updates()
    assert len(updates) == 5 and all(np.isfinite(row[3]) for row in updates)
    assert all(row[7] == row[7] for row in updates)  # explained variance is computed (not nan)
    assert export_main([str(tmp_path)]) == 0
    policy = serve.OnnxPolicy(tmp_path / "policy.onnx")
    assert policy.metadata["policy_kind"] == "gaussian"
    normalizer_count = keras_model_normalizer_count(tmp_path)
    assert normalizer_count == 8000  # 5 iterations x 8 episodes x 200 steps


def keras_model_normalizer_count(run_dir):
    import keras

    model = keras.models.load_model(run_dir / rd.MODEL)
    return float(model.get_layer("obs_normalization").count.numpy())
