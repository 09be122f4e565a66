"""Bad input to `python -m export` and `python -m serve`: one line, exit code 2, nothing written.

Each row of a table is a case an adversarial pass found (issue "keras_pg reliability"); the
test runs the command line in a subprocess and checks the exit code, that stderr is one line
starting with the expected message and holds no traceback, and that no file under the test's
directory changed (no new .onnx, .gif or report; an existing policy.onnx untouched). The
serve policies, forged ones included, are written with onnx.helper (no TensorFlow).
"""

import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from serve import contract
from tests.servers import free_port
from tests.test_serve_envs import IMAGE_SPACE, MYENV, box, discrete, keras_pg_metadata

ROOT = Path(__file__).resolve().parents[1]
BATCH = contract.BATCH_DIM
PREVIOUS = b"previous export"  # an existing policy.onnx, which a failed command keeps

THREE_ACTIONS = '''"""Four-dimensional observations like CartPole's, but three actions."""
import gymnasium as gym
import numpy as np


class ThreeActions(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(4, np.float32), {}

    def step(self, action):
        return np.zeros(4, np.float32), 0.0, True, False, {}


gym.register("ThreeActions-v0", entry_point=ThreeActions, max_episode_steps=10)
'''


def run(module: str, args: list[str], cwd: Path, timeout: float = 120
        ) -> subprocess.CompletedProcess:
    """`python -m module ARGS` from `cwd`; no bytecode is written, so that a command that
    writes nothing leaves `cwd` as it was."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def snapshot(directory: Path) -> dict[str, str]:
    """Every file under `directory` by relative path, with a digest of its content (but the
    run directory's lock file, which holds the PID of the last process that locked it)."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != ".lock"}


def assert_one_line_error(proc: subprocess.CompletedProcess, message: str) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(message), f"{lines[0]!r}\ndoes not start with\n{message!r}"


# -- export ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A short CartPole-v1 run directory, trained once for the module (no policy.onnx)."""
    path = tmp_path_factory.mktemp("trained")
    proc = subprocess.run(
        [sys.executable, "-m", "keras_pg", "train", "--run-dir", str(path), "--quiet",
         "--max-steps", "2000", "--eval-episodes", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return path


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(4096))


def zip_without_config(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not a Keras model")


def flip_a_weight_byte(path: Path) -> None:
    """Change one byte inside the stored weights: the zip reads, its CRC does not match."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("model.weights.h5")
    data = bytearray(path.read_bytes())
    header = 30 + len(info.filename.encode()) + int.from_bytes(
        data[info.header_offset + 28: info.header_offset + 30], "little")
    data[info.header_offset + header + info.file_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def drop_env_id(run_dir: Path) -> None:
    config = json.loads((run_dir / "config.json").read_text())
    del config["env_id"]
    (run_dir / "config.json").write_text(json.dumps(config))


def acrobot_spaces(run_dir: Path) -> None:
    spaces = json.loads((run_dir / "spaces.json").read_text())
    spaces["observation_space"] = box(6)
    (run_dir / "spaces.json").write_text(json.dumps(spaces))


KERAS_FIX = "; expected the zip archive keras.Model.save writes (re-save or retrain the model)"
ENV_HINT = "pass the env it was trained on (--env, or env_id=)"

# (case, arguments, how to damage the run directory, the expected message); {run} is the
# run directory (a copy of the trained one holding an old policy.onnx), {tmp} its parent.
EXPORT_CASES = [
    ("env-observations-differ", ["{run}", "--env", "Acrobot-v1"], None,
     "error: {run}/model.keras takes observations of shape (4,) float32, but Acrobot-v1 has "
     "observation space Box(shape=(6,), float32) (observations of shape (6,) float32); "
     f"{ENV_HINT}"),
    ("env-actions-differ", ["{run}", "--env", "threeactions:ThreeActions-v0"], None,
     "error: {run}/model.keras outputs shape (2,) per observation, but "
     "threeactions:ThreeActions-v0 has action space Discrete(3), which needs (3,) (one logit "
     f"per action); {ENV_HINT}"),
    ("spaces-json-differs", ["{run}"], acrobot_spaces,
     "error: {run}/model.keras takes observations of shape (4,) float32, but "
     "{run}/spaces.json has observation space Box(shape=(6,), float32)"),
    ("keras-truncated", ["{run}"], lambda run: truncate(run / "model.keras"),
     "error: {run}/model.keras is not a readable .keras file: its "),
    ("keras-random-bytes", ["{run}/model.keras"],
     lambda run: random_bytes(run / "model.keras"),
     "error: {run}/model.keras is not a readable .keras file: its 4,096 bytes are not a zip "
     f"archive (truncated or corrupted?){KERAS_FIX}"),
    ("keras-empty", ["{run}"], lambda run: (run / "model.keras").write_bytes(b""),
     f"error: {{run}}/model.keras is not a readable .keras file: the file is empty{KERAS_FIX}"),
    ("keras-zip-without-model", ["{run}"], lambda run: zip_without_config(run / "model.keras"),
     "error: {run}/model.keras is not a readable .keras file: the zip archive has no "
     "config.json"),
    ("keras-corrupted-entry", ["{run}"], lambda run: flip_a_weight_byte(run / "model.keras"),
     "error: {run}/model.keras is not a readable .keras file: its entry model.weights.h5 is "
     "corrupted (CRC mismatch)"),
    ("not-a-keras-file", ["{run}/config.json"], None,
     "error: {run}/config.json is not a .keras file; expected a run directory or a .keras "
     "file"),
    ("config-without-env-id", ["{run}"], drop_env_id,
     "error: no env_id in {run}/config.json; pass --env with the env id"),
    ("missing-source", ["{tmp}/no/such/dir"], None,
     "error: {tmp}/no/such/dir not found; expected a run directory or a .keras file"),
    ("opset-too-low", ["{run}", "--opset", "12"], None,
     "error: unsupported opset 12; expected 13 to 18"),
    ("opset-too-high", ["{run}", "--opset", "19", "-o", "{tmp}/p.onnx"], None,
     "error: unsupported opset 19; expected 13 to 18"),
    ("output-suffix", ["{run}", "-o", "{tmp}/p.txt"], None,
     "error: output {tmp}/p.txt should end in .onnx"),
    ("output-directory-missing", ["{run}", "-o", "{tmp}/no/such/dir/p.onnx"], None,
     "error: cannot write {tmp}/no/such/dir/p.onnx: {tmp}/no/such/dir is not a writable "
     "directory"),
    ("output-is-a-directory", ["{run}", "-o", "{tmp}/d.onnx"],
     lambda run: (run.parent / "d.onnx").mkdir(),
     "error: output {tmp}/d.onnx is a directory; expected a file path"),
]


@pytest.mark.parametrize("case,args,damage,message", EXPORT_CASES,
                         ids=[case[0] for case in EXPORT_CASES])
def test_export_bad_input_is_one_line_and_writes_nothing(trained, tmp_path, case, args,
                                                        damage, message):
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    (run_dir / "policy.onnx").write_bytes(PREVIOUS)
    (tmp_path / "threeactions.py").write_text(THREE_ACTIONS)
    if damage is not None:
        damage(run_dir)
    before = snapshot(tmp_path)
    proc = run("export", [a.format(run=run_dir, tmp=tmp_path) for a in args], cwd=tmp_path)
    assert_one_line_error(proc, message.format(run=run_dir, tmp=tmp_path))
    assert snapshot(tmp_path) == before
    assert (run_dir / "policy.onnx").read_bytes() == PREVIOUS


def test_export_checks_its_arguments_before_importing_tensorflow(tmp_path):
    script = f"""
import runpy, sys
sys.argv = ["export", {str(tmp_path / "nope")!r}]
try:
    runpy.run_module("export", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    assert exit.code == 2, exit.code
heavy = [m for m in ("tensorflow", "keras", "tf2onnx", "keras_pg") if m in sys.modules]
assert not heavy, heavy
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"error: {tmp_path / 'nope'} not found; expected a run directory or " \
                          "a .keras file\n"


def test_export_errors_import_cheaply_and_the_public_names_resolve():
    script = """
import sys
import export
from export import ExportError, VerificationError
assert issubclass(ExportError, ValueError) and issubclass(VerificationError, RuntimeError)
assert "tensorflow" not in sys.modules, "importing export's errors loaded TensorFlow"
from export import PolicySource, export_policy, to_onnx
import export.export, export.source
assert (to_onnx, export_policy) == (export.export.to_onnx, export.export.export_policy)
assert PolicySource is export.source.PolicySource and export.REPORT == "export_report.json"
assert export.source.ExportError is ExportError
assert set(export.__all__) <= set(dir(export))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_the_early_opset_range_is_one_tf2onnx_writes():
    import keras_pg  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logging)
    import tf2onnx
    from export import checks, convert

    assert convert.check_opset is checks.check_opset  # one source of truth
    assert checks.MIN_OPSET == 13 and checks.MAX_OPSET == 18
    assert max(tf2onnx.constants.OPSET_TO_IR_VERSION) >= checks.MAX_OPSET


# -- serve: policies written with onnx.helper ------------------------------------------------
def graph_policy(path: Path, metadata: dict | None, *, kind: str = "categorical",
                 obs_name: str = contract.INPUT, obs_type: int = TensorProto.FLOAT,
                 obs_dims: tuple = (BATCH, 4), size: int = 2, drop: tuple[str, ...] = (),
                 extra_input: bool = False) -> Path:
    """obs -> logits = flat(obs) @ 0 + [1, 0, 0, ...] (always action 0), then the outputs of
    `kind` (probs, action; or mean, std, action), less those in `drop`."""
    flat = int(np.prod([d for d in obs_dims[1:]]))
    bias = np.zeros(size, np.float32)
    bias[0] = 1.0
    nodes = [helper.make_node("Cast", [obs_name], ["obs_float"], to=TensorProto.FLOAT),
             helper.make_node("Reshape", ["obs_float", "flat_shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["logits"])]
    if kind == "categorical":
        nodes += [helper.make_node("Softmax", ["logits"], [contract.PROBS], axis=1),
                  helper.make_node("ArgMax", ["logits"], [contract.ACTION], axis=1, keepdims=0)]
        outputs = {contract.PROBS: (TensorProto.FLOAT, [BATCH, size]),
                   contract.ACTION: (TensorProto.INT64, [BATCH])}
    else:
        nodes += [helper.make_node("Identity", ["logits"], [contract.MEAN]),
                  helper.make_node("Exp", ["logits"], [contract.STD]),
                  helper.make_node("Tanh", ["logits"], [contract.ACTION])]
        outputs = {name: (TensorProto.FLOAT, [BATCH, size])
                   for name in (contract.MEAN, contract.STD, contract.ACTION)}
    inputs = [helper.make_tensor_value_info(obs_name, obs_type, list(obs_dims))]
    if extra_input:  # logits = (flat @ w + b) + mask
        inputs.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, [BATCH, size]))
        nodes[3].output[0] = "unmasked"
        nodes.insert(4, helper.make_node("Add", ["unmasked", "mask"], ["logits"]))
    graph = helper.make_graph(
        nodes, "policy", inputs,
        [helper.make_tensor_value_info(n, t, s) for n, (t, s) in outputs.items() if n not in drop],
        [numpy_helper.from_array(np.array([-1, flat], np.int64), "flat_shape"),
         numpy_helper.from_array(np.zeros((flat, size), np.float32), "w"),
         numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    if metadata is not None:
        helper.set_model_props(model, contract.encode_metadata(metadata))
    onnx.save(model, path)
    return path


def cartpole(version: int = 2, **keys) -> dict:
    """A categorical CartPole-v1 policy's metadata; `keys` (by metadata key) override."""
    return keras_pg_metadata("CartPole-v1", box(4), discrete(2), version) | keys


def pendulum(**keys) -> dict:
    """A gaussian Pendulum-v1 policy's metadata; `keys` (by metadata key) override."""
    action = {"type": "Box", "shape": [1], "dtype": "float32", "low": [-2.0], "high": [2.0]}
    return keras_pg_metadata("Pendulum-v1", box(3), action, policy_kind="gaussian") | keys


def without(metadata: dict, key: str) -> dict:
    return {k: v for k, v in metadata.items() if k != key}


def without_bound(metadata: dict) -> dict:
    action = {k: v for k, v in metadata["action_space"].items() if k != "low"}
    return {**metadata, "action_space": action}


RE_EXPORT = "(re-export it with python -m export)"
CARTPOLE_OBS = "the metadata's observation space Box(shape=(4,), float32)"
FOREIGN = "pass observation_shape=... and action_type='discrete' or 'continuous' (command " \
          "line: --observation-shape 4 --action-type discrete)"
WRONG_ENV = "pass the env the policy was trained on with --env ID"
RELOAD_INTERVAL = ("error: --reload-interval must be a number of seconds from 0 (no hot "
                   f"reload) to {threading.TIMEOUT_MAX:.0f}, got")

# (case, the policy file: metadata and graph_policy's keywords, arguments after it, the
# expected message); {policy} is the file, {tmp} its directory.
SERVE_CASES = [
    ("gif-directory-missing", (cartpole(), {}), ["--gif", "{tmp}/no/such/dir/x.gif"],
     "error: cannot write gif {tmp}/no/such/dir/x.gif: {tmp}/no/such/dir is not a writable "
     "directory"),
    ("gif-suffix", (cartpole(), {}), ["--gif", "{tmp}/episode.png"],
     "error: gif {tmp}/episode.png should end in .gif"),
    ("gif-is-a-directory", (cartpole(), {}), ["--gif", "{tmp}/frames.gif"],
     "error: gif {tmp}/frames.gif is a directory; expected a file path"),
    ("port-above-65535", (cartpole(), {}), ["--http", "--port", "70000"],
     "error: --port must be an integer in 1-65535, got 70000"),
    ("port-zero", (cartpole(), {}), ["--http", "--port", "0"],
     "error: --port must be an integer in 1-65535, got 0"),
    # a thread's wait takes neither inf nor more than threading.TIMEOUT_MAX (OverflowError)
    ("reload-interval-inf", (cartpole(), {}), ["--http", "--reload-interval", "inf"],
     f"{RELOAD_INTERVAL} inf"),
    ("reload-interval-nan", (cartpole(), {}), ["--http", "--reload-interval", "nan"],
     f"{RELOAD_INTERVAL} nan"),
    ("reload-interval-beyond-a-wait", (cartpole(), {}), ["--http", "--reload-interval", "1e10"],
     f"{RELOAD_INTERVAL} 10000000000.0"),
    ("seed-negative", (cartpole(), {}), ["--seed", "-1"],
     "error: --seed must be a non-negative integer, got -1"),
    ("threads-zero", (cartpole(), {}), ["--threads", "0"],
     "error: --threads must be a positive integer, got 0"),
    ("episodes-zero", (cartpole(), {}), ["--episodes", "0"],
     "error: episodes must be a positive integer, got 0"),
    ("env-observations-differ", (cartpole(), {}), ["--env", "Acrobot-v1"],
     f"error: env 'Acrobot-v1' gives observations of shape (6,), but the policy takes (4,); "
     f"{WRONG_ENV}"),
    ("env-actions-differ", (cartpole(), {}), ["--env", "threeactions:ThreeActions-v0"],
     "error: env 'threeactions:ThreeActions-v0' has action space Discrete(3), but the policy "
     f"acts in Discrete(2); {WRONG_ENV}"),
    # ONNX files without keras_pg metadata
    ("foreign-without-flags", (None, {}), [], f"error: {{policy}} has no keras_pg metadata; "
                                              f"{FOREIGN}"),
    ("foreign-shape-not-ints", (None, {}),
     ["--observation-shape", "4,a", "--action-type", "discrete"],
     "error: --observation-shape must be comma-separated positive integers such as 4 or "
     "84,84,3, got '4,a'"),
    ("foreign-shape-differs", (None, {}),
     ["--observation-shape", "3", "--action-type", "discrete", "--env", "CartPole-v1"],
     "error: {policy}: input 'obs' has shape [batch, 4]; observation_shape (3,) needs "
     "[batch, 3]"),
    ("foreign-without-env", (None, {}), ["--observation-shape", "4", "--action-type",
                                         "discrete"],
     "error: the policy has no env_id in its metadata; pass --env ID"),
    ("foreign-actions-differ", (None, {"size": 3}),
     ["--observation-shape", "4", "--action-type", "discrete", "--env", "CartPole-v1"],
     "error: env 'CartPole-v1' has action space Discrete(2), but the policy acts in "
     f"Discrete(3); {WRONG_ENV}"),
    ("flags-disagree-with-metadata", (cartpole(), {}), ["--observation-shape", "3"],
     "error: {policy}: observation_shape=(3,) disagrees with the metadata's (4,); leave it "
     "out"),
    # forged keras_pg metadata
    ("metadata-without-policy-kind", (without(cartpole(), "policy_kind"), {}), [],
     "error: {policy}: metadata key 'policy_kind' is missing; contract 2 files have "
     f"policy_kind, env_id, observation_space, action_space, env_kwargs, max_episode_steps "
     f"{RE_EXPORT}"),
    ("metadata-without-observation-space", (without(cartpole(), "observation_space"), {}), [],
     "error: {policy}: metadata key 'observation_space' is missing"),
    ("metadata-without-action-space", (without(cartpole(version=1), "action_space"), {}), [],
     "error: {policy}: metadata key 'action_space' is missing; contract 1 files have "
     f"policy_kind, env_id, observation_space, action_space {RE_EXPORT}"),
    ("metadata-without-env-id", (without(cartpole(), "env_id"), {}), ["--env", "CartPole-v1"],
     "error: {policy}: metadata key 'env_id' is missing"),
    ("policy-kind-unknown", (cartpole(policy_kind="beta"), {}), [],
     f'error: {{policy}}: metadata policy_kind is "beta"; expected "categorical" or "gaussian" '
     f'or "multi_categorical" or "bernoulli" {RE_EXPORT}'),
    ("observation-space-not-an-object", (cartpole(observation_space="Box(4)"), {}), [],
     'error: {policy}: metadata observation_space is "Box(4)"; expected a JSON object with '
     "type Box or Discrete"),
    ("observation-space-without-shape",
     (cartpole(observation_space={"type": "Box", "dtype": "float32"}), {}), [],
     "error: {policy}: metadata observation_space has shape null; expected a list of positive "
     "integers"),
    ("discrete-observations-without-n",
     (cartpole(observation_space={"type": "Discrete"}), {}), [],
     "error: {policy}: metadata observation_space has n null; expected an integer >= 1"),
    ("action-space-of-another-kind", (cartpole(policy_kind="gaussian"), {"kind": "gaussian"}),
     [], "error: {policy}: metadata action_space is {{\"n\": 2, \"start\": 0, \"type\": "
         "\"Discrete\"}}; expected a JSON object with type Box for policy_kind \"gaussian\""),
    ("action-bounds-missing", (without_bound(pendulum()), {"kind": "gaussian", "obs_dims":
                                                           (BATCH, 3), "size": 1}), [],
     "error: {policy}: metadata action_space has low null; expected a list of 1 finite "
     "numbers"),
    ("env-kwargs-not-an-object", (cartpole(env_kwargs=[1]), {}), [],
     "error: {policy}: metadata env_kwargs is [1]; expected a JSON object"),
    ("max-episode-steps-not-an-int", (cartpole(max_episode_steps="ten"), {}), [],
     'error: {policy}: metadata max_episode_steps is "ten"; expected a positive integer or '
     "null"),
    ("input-named-otherwise", (cartpole(), {"obs_name": "x"}), [],
     f"error: {{policy}}: input 'x' is tensor(float); {CARTPOLE_OBS} needs input 'obs' of "
     "tensor(float)"),
    ("input-uint8-for-floats", (cartpole(), {"obs_type": TensorProto.UINT8}), [],
     f"error: {{policy}}: input 'obs' is tensor(uint8); {CARTPOLE_OBS} needs input 'obs' of "
     "tensor(float)"),
    ("input-float-for-images", (keras_pg_metadata("X-v0", IMAGE_SPACE, discrete(2)),
                                {"obs_dims": (BATCH, 8, 8, 3)}), [],
     "error: {policy}: input 'obs' is tensor(float); the metadata's observation space "
     "Box(shape=(8, 8, 3), uint8) needs input 'obs' of tensor(uint8)"),
    ("input-shape-differs", (cartpole(observation_space=box(5)), {}), [],
     "error: {policy}: input 'obs' has shape [batch, 4]; the metadata's observation space "
     "Box(shape=(5,), float32) needs [batch, 5]"),
    ("input-batch-fixed", (cartpole(), {"obs_dims": (1, 4)}), [],
     f"error: {{policy}}: input 'obs' has shape [1, 4]; {CARTPOLE_OBS} needs [batch, 4]"),
    ("two-inputs", (cartpole(), {"extra_input": True}), [],
     "error: {policy}: the graph has inputs ['obs', 'mask']; expected one, the observation"),
    ("output-missing", (cartpole(), {"drop": ("action",)}), [],
     "error: {policy}: the graph has outputs ['probs']; a categorical policy needs probs, "
     "action"),
    ("probs-size-differs", (cartpole(action_space=discrete(3)), {}), [],
     "error: {policy}: output 'probs' is tensor(float) [batch, 2]; the metadata's action space "
     "Discrete(3) needs tensor(float) [batch, 3]"),
    ("gaussian-size-differs", (pendulum(), {"kind": "gaussian", "obs_dims": (BATCH, 3),
                                            "size": 2}), [],
     "error: {policy}: output 'mean' is tensor(float) [batch, 2]; the metadata's action space "
     "Box(shape=(1,), float32) needs tensor(float) [batch, 1]"),
    ("contract-newer", (cartpole(version=contract.CONTRACT_VERSION + 1), {}), [],
     f"error: {{policy}} uses export contract {contract.CONTRACT_VERSION + 1}; this runtime "
     f"reads contracts {', '.join(map(str, contract.SUPPORTED_CONTRACT_VERSIONS))}"),
]


@pytest.mark.parametrize("case,policy,args,message", SERVE_CASES,
                         ids=[case[0] for case in SERVE_CASES])
def test_serve_bad_input_is_one_line_and_writes_nothing(tmp_path, case, policy, args, message):
    metadata, graph = policy
    path = graph_policy(tmp_path / "policy.onnx", metadata, **graph)
    (tmp_path / "threeactions.py").write_text(THREE_ACTIONS)
    (tmp_path / "frames.gif").mkdir()
    before = snapshot(tmp_path)
    # A server that starts anyway never returns: the timeout fails the test.
    proc = run("serve", [str(path), "--episodes", "2",
                         *(a.format(tmp=tmp_path) for a in args)], cwd=tmp_path, timeout=30)
    assert_one_line_error(proc, message.format(policy=path, tmp=tmp_path))
    assert snapshot(tmp_path) == before


HAS_GRPC = all(importlib.util.find_spec(name) for name in ("grpc", "tritonclient"))


@pytest.mark.parametrize("flag", ["--port", "--grpc-port"])
def test_serve_refuses_a_port_in_use_before_announcing_itself(tmp_path, flag):
    """A port in use is one line and exit code 2 before "serving ..." is printed (uvicorn
    finds it only once it starts, and exits with code 3)."""
    if flag == "--grpc-port" and not HAS_GRPC:
        pytest.skip("the extra grpc is not installed")
    path = graph_policy(tmp_path / "policy.onnx", cartpole())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = (["--port", str(port)] if flag == "--port"
                 else ["--port", str(free_port()), "--grpc-port", str(port)])
        proc = run("serve", [str(path), "--http", "--host", "127.0.0.1", *ports],
                   cwd=tmp_path, timeout=30)
    assert "serving" not in proc.stdout
    assert_one_line_error(proc, f"error: port {port} on 127.0.0.1 is in use; stop what "
                                f"listens there or pass another {flag}")


def test_serve_flags_load_an_onnx_file_without_metadata(tmp_path):
    """An always-left policy from another tool (input `obs` [batch, 1], logits [1, 0]) in
    GoLeft, which starts 5 cells from the goal: -1 per step, so every return is -5."""
    (tmp_path / "myenv.py").write_text(MYENV)
    path = graph_policy(tmp_path / "foreign.onnx", None, obs_dims=(BATCH, 1))
    proc = run("serve", [str(path), "--observation-shape", "1", "--action-type", "discrete",
                         "--env", "myenv:GoLeft-v0", "--episodes", "3"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("myenv:GoLeft-v0: return -5.0 ± 0.0 over 3 episodes (greedy)")


def test_serve_accepts_flags_that_agree_with_the_metadata(tmp_path):
    path = graph_policy(tmp_path / "policy.onnx", cartpole(max_episode_steps=5))
    proc = run("serve", [str(path), "--observation-shape", "4", "--action-type", "discrete",
                         "--episodes", "2"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("CartPole-v1: return 5.0 ± 0.0 over 2 episodes")
