"""Triton model repositories: `python -m export ... --triton-repo DIR` writes one whose
config.pbtxt Triton's own ModelConfig message parses, and `python -m serve
--model-repository DIR` serves every model in it by name."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import tritonclient.http as triton
from google.protobuf import text_format
from onnx import TensorProto, helper
from tritonclient.grpc import model_config_pb2

import serve
from export.triton import package
from serve import contract
from tests.js_fixtures import FIXTURES
from tests.linear_policies import continuous_policy, discrete_policy
from tests.servers import request, running_server
from tests.test_serve_envs import discrete, keras_pg_metadata, write_policy

ROOT = Path(__file__).resolve().parents[1]
DATA_TYPES = {"FP32": model_config_pb2.TYPE_FP32, "INT64": model_config_pb2.TYPE_INT64,
              "UINT8": model_config_pb2.TYPE_UINT8, "BOOL": model_config_pb2.TYPE_BOOL}


def export_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "export", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def read_config(path: Path) -> model_config_pb2.ModelConfig:
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def lake_policy(path) -> Path:
    """A FrozenLake-shaped policy: obs [batch] (a Discrete observation space)."""
    nodes = [helper.make_node("Unsqueeze", [contract.INPUT, "axis"], ["column"]),
             helper.make_node("Mul", ["column", "w"], ["logits"])]
    weights = {"axis": np.array([1], np.int64), "w": np.array([[1.0, -1.0, 0.5, 0.0]],
                                                              np.float32)}
    return write_policy(path, TensorProto.FLOAT, (), nodes, weights, 4,
                        keras_pg_metadata("FrozenLake-v1", discrete(16), discrete(4)))


def fixture_policy(name: str):
    """A builder of the JavaScript package's trained fixture `name` (tests/js_fixtures.py)."""
    def build(path: Path) -> Path:
        shutil.copy(FIXTURES / f"{name}.onnx", path)
        return path

    return build


def assert_config_matches_the_model(config, model_file: Path, name: str):
    """Triton's dims are the model's without the batch; [batch] alone is dims [1] with an
    empty reshape (Triton's documented form)."""
    session = serve.OnnxPolicy(model_file).session
    assert config.name == name and config.platform == "onnxruntime_onnx"
    assert config.max_batch_size == 8192
    assert config.HasField("dynamic_batching")
    assert [(g.kind, g.count) for g in config.instance_group] == [
        (model_config_pb2.ModelInstanceGroup.KIND_CPU, 1)]
    for declared, nodes in ((config.input, session.get_inputs()),
                            (config.output, session.get_outputs())):
        assert [t.name for t in declared] == [n.name for n in nodes]
        for tensor, node in zip(declared, nodes, strict=True):
            datatype = {"tensor(float)": "FP32", "tensor(int64)": "INT64",
                        "tensor(uint8)": "UINT8", "tensor(bool)": "BOOL"}[node.type]
            assert tensor.data_type == DATA_TYPES[datatype]
            if declared is config.input:  # a mask may be left out: all legal then
                assert tensor.optional == (node.name == "action_mask")
            dims = node.shape[1:]
            assert list(tensor.dims) == (dims or [1])
            assert tensor.HasField("reshape") == (not dims)
            assert list(tensor.reshape.shape) == []


BRANCHES = {"switches": 4, "dials": 2}  # MultiBinary(4) bits, MultiDiscrete([3, 4]) branches


@pytest.mark.parametrize("build,name", [(discrete_policy, "cartpole"),
                                        (continuous_policy, "pendulum"),
                                        (lake_policy, "lake"),
                                        (fixture_policy("switches"), "switches"),
                                        (fixture_policy("dials"), "dials")])
def test_config_pbtxt_parses_and_its_dims_match_the_model(tmp_path, build, name):
    source = build(tmp_path / "policy.onnx")
    proc = export_cli(source, "--triton-repo", tmp_path / "repo", "--model-name", name)
    assert proc.returncode == 0, proc.stderr
    model_file = tmp_path / "repo" / name / "1" / "model.onnx"
    assert proc.stdout == (f"wrote {model_file} and {tmp_path / 'repo' / name / 'config.pbtxt'}"
                           "\n")
    assert model_file.read_bytes() == source.read_bytes()  # keras_pg's metadata kept
    config = read_config(model_file.parents[1] / "config.pbtxt")
    assert_config_matches_the_model(config, model_file, name)
    if name in BRANCHES:  # int64 [batch, k]: dims [k], no reshape
        (action,) = [t for t in config.output if t.name == contract.ACTION]
        assert action.data_type == model_config_pb2.TYPE_INT64
        assert list(action.dims) == [BRANCHES[name]] and not action.HasField("reshape")


def test_export_writes_a_repository_from_a_run_directory(solved_run, tmp_path):
    from export.cli import main

    repo = tmp_path / "repo"
    assert main([str(solved_run), "--triton-repo", str(repo)]) == 0
    model_file = repo / "policy" / "1" / "model.onnx"
    config = read_config(repo / "policy" / "config.pbtxt")
    assert_config_matches_the_model(config, model_file, "policy")
    metadata = {p.key: p.value for p in onnx.load(model_file).metadata_props}
    assert set(contract.METADATA_KEYS) <= set(metadata)
    assert serve.OnnxPolicy(model_file).metadata["env_id"] == "CartPole-v1"
    assert [t.name for t in config.output] == ["action", "probs"]


@pytest.mark.parametrize("args,error", [
    (["--model-name", "../up"], "error: --model-name must be letters, digits, '_', '.' or "
                                "'-' (not starting with '.' or '-'), got '../up'"),
    (["-o", "x.onnx"], "error: give -o or --triton-repo, not both"),
])
def test_bad_repository_requests_are_one_line_errors(tmp_path, args, error):
    source = discrete_policy(tmp_path / "policy.onnx")
    proc = export_cli(source, "--triton-repo", tmp_path / "repo", *args)
    assert proc.returncode == 2 and proc.stderr.startswith(error), proc.stderr
    assert not (tmp_path / "repo").exists()


def test_a_file_that_is_not_a_policy_is_refused(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    proc = export_cli(bad, "--triton-repo", tmp_path / "repo")
    assert proc.returncode == 2 and "is not a loadable ONNX model" in proc.stderr
    assert not (tmp_path / "repo" / "policy" / "config.pbtxt").exists()


def test_serve_serves_every_model_of_a_repository_by_name(tmp_path):
    repo = tmp_path / "repo"
    package(discrete_policy(tmp_path / "d.onnx"), repo, "cartpole")
    package(continuous_policy(tmp_path / "c.onnx"), repo, "pendulum")
    # A newer version directory is the one served.
    newer = discrete_policy(tmp_path / "d2.onnx", weights=-np.eye(4, 2, dtype=np.float32))
    (repo / "cartpole" / "2").mkdir()
    shutil.copy(newer, repo / "cartpole" / "2" / "model.onnx")
    obs = np.random.default_rng(0).uniform(-1, 1, (3, 4)).astype(np.float32)
    with running_server(None, "--model-repository", str(repo)) as port:
        client = triton.InferenceServerClient(f"127.0.0.1:{port}")
        assert client.is_model_ready("cartpole") and client.is_model_ready("pendulum")
        for name, path, x in [("cartpole", newer, obs), ("pendulum", tmp_path / "c.onnx",
                                                         obs[:, :3])]:
            tensor = triton.InferInput("obs", list(x.shape), "FP32")
            tensor.set_data_from_numpy(x)
            result = client.infer(name, [tensor])
            for output, value in serve.OnnxPolicy(path).distribution(x).items():
                np.testing.assert_array_equal(result.as_numpy(output),
                                              value.reshape(len(value), -1))
        parameters = client.get_model_metadata("cartpole")["parameters"]
        assert parameters["path"] == str(repo / "cartpole" / "2" / "model.onnx")
        # /v1 has no model name: with several models it is not served.
        assert request(port, "POST", "/v1/act", {"obs": [0, 0, 0, 0]})[0] == 404


def test_serve_refuses_a_directory_without_models(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "serve", "--model-repository", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == (f"error: {tmp_path} holds no model: expected DIR/NAME/<version>/"
                           "model.onnx (python -m export RUN_DIR --triton-repo DIR)\n")
