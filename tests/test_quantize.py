"""`--quantize int8`: a smaller integer model that keeps the contract and the greedy actions,
or a one-line refusal that writes nothing."""

import json
import re
import shutil

import gymnasium
import numpy as np
import onnx
import onnxruntime as ort
import pytest

import export
from export import cli, quantize
from export.cli import main as export_main
from serve import OnnxPolicy, contract
from tests.policies import mlp_policy


@pytest.fixture(scope="module")
def run_dir(solved_run, tmp_path_factory):
    """A copy of the shared solved CartPole run, exported in float32 and in int8."""
    path = tmp_path_factory.mktemp("quantize") / "run"
    shutil.copytree(solved_run, path)
    export.to_onnx(path)
    return path


@pytest.fixture(scope="module")
def report(run_dir):
    return export.to_onnx(run_dir, quantize="int8")


def metadata(path) -> dict:
    return {p.key: json.loads(p.value) for p in onnx.load(path).metadata_props}


def test_int8_file_is_smaller_and_holds_int8_weights_and_integer_ops(run_dir, report):
    path = run_dir / "policy.int8.onnx"
    assert report["path"] == str(path) and report["file_bytes"] == path.stat().st_size
    assert path.stat().st_size < (run_dir / "policy.onnx").stat().st_size
    assert report["quantization"]["float_file_bytes"] == (run_dir / "policy.onnx").stat().st_size
    model = onnx.load(path)
    int8 = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert int8 and all(len(t.raw_data or t.int32_data) > 0 for t in int8)
    ops = {node.op_type for node in model.graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    assert json.loads((run_dir / "export_report.int8.json").read_text()) == report
    assert "quantization" not in json.loads((run_dir / "export_report.json").read_text())


def test_greedy_actions_agree_with_the_float_model(run_dir, report):
    assert report["quantization"]["action_agreement"] >= 0.99
    assert 0 < report["quantization"]["max_abs_diff"]["probs"] < 0.1
    obs = np.load(run_dir / "observations.npy").astype(np.float32)
    float_session = ort.InferenceSession(run_dir / "policy.onnx")
    int8_session = ort.InferenceSession(run_dir / "policy.int8.onnx")
    feeds = {"obs": obs, "action_mask": np.ones((len(obs), 2), bool)}  # all legal
    actions = [s.run(["action"], feeds)[0] for s in (float_session, int8_session)]
    assert np.mean(actions[0] == actions[1]) >= 0.99


def test_contract_graph_is_kept_and_metadata_is_the_float_files_plus_quantization(run_dir):
    float_bytes = (run_dir / "policy.onnx").read_bytes()
    env = gymnasium.make("CartPole-v1")
    observations = {"rollout": np.load(run_dir / "observations.npy").astype(np.float32)[:200]}
    int8_bytes, _ = quantize.quantize(float_bytes, observations, env.action_space)
    float_model, int8_model = onnx.load_from_string(float_bytes), onnx.load_from_string(int8_bytes)
    for part in ("input", "output"):
        assert (list(getattr(float_model.graph, part))
                == list(getattr(int8_model.graph, part)))
    float_meta = {p.key: p.value for p in float_model.metadata_props}
    int8_meta = {p.key: p.value for p in int8_model.metadata_props}
    assert int8_meta == {**float_meta, contract.QUANTIZATION_KEY: int8_meta["quantization"]}
    assert json.loads(int8_meta["quantization"]) == {"dtype": "int8", "method": "dynamic"}


def test_onnx_policy_serves_the_int8_file_on_one_thread(run_dir, report):
    policy = OnnxPolicy(run_dir / "policy.int8.onnx", intra_op_threads=1)
    assert policy.session.get_session_options().intra_op_num_threads == 1
    assert policy.metadata["quantization"] == {"dtype": "int8", "method": "dynamic"}
    assert policy.metadata["env_id"] == "CartPole-v1"
    obs = np.load(run_dir / "observations.npy").astype(np.float32)[:100]
    float_actions = OnnxPolicy(run_dir / "policy.onnx").act(obs)
    assert np.mean(policy.act(obs) == float_actions) >= 0.99
    assert isinstance(policy.act(obs[0]), int)


def test_cli_writes_the_int8_model_and_prints_agreement_and_size(run_dir, tmp_path, capsys):
    target = tmp_path / "cartpole.int8.onnx"
    assert export_main([str(run_dir), "--quantize", "int8", "-o", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {target}" in out and "int8 (dynamic) against the float model" in out
    assert "greedy agreement" in out and "|Δprobs|" in out and " bytes" in out
    assert metadata(target)["quantization"] == {"dtype": "int8", "method": "dynamic"}


def test_triton_repository_holds_the_int8_model(run_dir, tmp_path):
    repo = tmp_path / "models"
    assert export_main([str(run_dir), "--quantize", "int8", "--triton-repo", str(repo),
                        "--model-name", "cartpole"]) == 0
    assert metadata(repo / "cartpole" / "1" / "model.onnx")["quantization"]["dtype"] == "int8"
    assert (repo / "cartpole" / "config.pbtxt").is_file()


def test_a_policy_quantization_breaks_is_refused_and_nothing_is_written(tmp_path):
    """Two logit columns 5e-4 apart: int8 weights round them to the same values, so the
    int8 model's argmax is a tie where the float model's is not."""
    env = gymnasium.make("CartPole-v1")
    model = mlp_policy(env.observation_space, env.action_space, (16,))
    logits = model.get_layer("logits")
    kernel = logits.kernel.numpy()
    kernel[:, 1] = kernel[:, 0] + 5e-4 * np.random.default_rng(0).standard_normal(len(kernel))
    logits.kernel.assign(kernel)
    with pytest.raises(export.ExportError, match=r"int8 quantization changes the greedy action"):
        export.to_onnx(model, tmp_path / "p.onnx", env_id="CartPole-v1", quantize="int8")
    assert list(tmp_path.iterdir()) == []


def test_cli_refusal_exits_2_in_one_line_and_writes_nothing(run_dir, tmp_path, monkeypatch,
                                                            capsys):
    monkeypatch.setattr(quantize, "MIN_AGREEMENT", 1.01)
    before = sorted(p.name for p in run_dir.iterdir())
    assert export_main([str(run_dir), "--quantize", "int8", "-o",
                        str(tmp_path / "p.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(r"error: int8 quantization changes the greedy action: "
                                      r"agreement with the float model \d+\.\d\d%", err[0])
    assert list(tmp_path.iterdir()) == [] and sorted(p.name for p in run_dir.iterdir()) == before


def test_gaussian_policy_agreement_is_relative_to_the_action_range(tmp_path):
    env = gymnasium.make("Pendulum-v1")
    model = mlp_policy(env.observation_space, env.action_space, (32,), initial_log_std=-0.5)
    report = export.to_onnx(model, tmp_path / "g.onnx", env_id="Pendulum-v1", quantize="int8")
    q = report["quantization"]
    assert q["action_agreement"] >= 0.99 and set(q["max_abs_diff"]) == {"mean", "std", "action"}
    assert q["max_abs_diff"]["action"] < quantize.ACTION_TOLERANCE * 4.0  # range [-2, 2]
    assert OnnxPolicy(tmp_path / "g.onnx").act(np.zeros(3, np.float32)).shape == (1,)


def test_an_unknown_dtype_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        export_main([str(tmp_path), "--quantize", "int4"])
    assert exc.value.code == 2 and "invalid choice: 'int4'" in capsys.readouterr().err


def test_an_exported_onnx_is_not_quantized_into_a_triton_repository(tmp_path, capsys):
    (tmp_path / "p.onnx").write_bytes(b"")
    assert export_main([str(tmp_path / "p.onnx"), "--quantize", "int8", "--triton-repo",
                        str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.startswith(
        "error: --quantize needs a run directory or a .keras file")
    assert not (tmp_path / "m").exists()


def test_cli_choices_are_the_quantizer_dtypes():
    assert cli.QUANTIZE_DTYPES == quantize.DTYPES
    with pytest.raises(export.ExportError, match="unsupported quantization 'int4'"):
        quantize.check_dtype("int4")

