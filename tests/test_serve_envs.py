"""Contract version 2 in serve/: uint8 image inputs, env_kwargs, max_episode_steps, custom envs.

The policies are written with onnx.helper (no TensorFlow), so each answer is known by hand.
"""

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import gymnasium
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import serve
from serve import contract

ROOT = Path(__file__).resolve().parents[1]
BATCH = contract.BATCH_DIM
IMAGE_SPACE = {"type": "Box", "shape": [8, 8, 3], "dtype": "uint8",
               "low": [0.0] * 192, "high": [255.0] * 192}
HINT = "pass --env ID (a gymnasium id or module:EnvId)"

MYENV = '''"""GoLeft: walk from `start` to 0 (action 0 steps left, 1 right), reward -1 per step."""
import gymnasium as gym
import numpy as np


class GoLeft(gym.Env):
    def __init__(self, start=5):  # no render_mode argument, as hand-written envs often have
        self.start = start
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = self.start
        return np.array([self.position], np.float32), {}

    def step(self, action):
        self.position += 1 if action else -1
        return np.array([self.position], np.float32), -1.0, self.position == 0, False, {}


gym.register("GoLeft-v0", entry_point=GoLeft)
'''


# -- policies written with onnx.helper -------------------------------------------------------
def box(n: int) -> dict:
    return {"type": "Box", "shape": [n], "dtype": "float32", "low": ["-inf"] * n,
            "high": ["inf"] * n}


def discrete(n: int) -> dict:
    return {"type": "Discrete", "n": n, "start": 0}


def keras_pg_metadata(env_id, observation_space, action_space, version=contract.CONTRACT_VERSION,
                      **keys) -> dict:
    """Contract metadata for a categorical policy; `keys` (by metadata key) override."""
    values = {
        contract.CONTRACT_VERSION_KEY: version, contract.PRODUCER_KEY: "keras_pg 0.1.0",
        contract.POLICY_KIND_KEY: "categorical", contract.ENV_ID_KEY: env_id,
        contract.OBSERVATION_SPACE_KEY: observation_space,
        contract.ACTION_SPACE_KEY: action_space, contract.TRAINING_CONFIG_KEY: None,
        contract.ENV_STEPS_KEY: None, contract.EVAL_MEAN_RETURN_KEY: None,
        contract.VERSIONS_KEY: {"onnx": onnx.__version__},
        contract.CREATED_AT_KEY: "2026-11-25T00:00:00+00:00",
    }
    if version >= 2:
        values |= {contract.ENV_KWARGS_KEY: {}, contract.MAX_EPISODE_STEPS_KEY: None}
    if version >= 3:
        values |= {contract.QUANTIZATION_KEY: None}
    if version >= 5:
        values |= {contract.RECURRENT_KEY: None}
    if version >= 6:  # a graph without the input action_mask
        values |= {contract.ACTION_MASK_KEY: None}
    return values | keys


def write_policy(path, obs_type, obs_shape, nodes, weights, n_actions, metadata=None) -> Path:
    """A categorical policy: `nodes` map `obs` to `logits` [batch, n]; probs and action follow."""
    graph = helper.make_graph(
        [*nodes, helper.make_node("Softmax", ["logits"], [contract.PROBS], axis=1),
         helper.make_node("ArgMax", ["logits"], [contract.ACTION], axis=1, keepdims=0)],
        "policy",
        [helper.make_tensor_value_info(contract.INPUT, obs_type, [BATCH, *obs_shape])],
        [helper.make_tensor_value_info(contract.PROBS, TensorProto.FLOAT, [BATCH, n_actions]),
         helper.make_tensor_value_info(contract.ACTION, TensorProto.INT64, [BATCH])],
        [numpy_helper.from_array(value, name) for name, value in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    if metadata is not None:
        helper.set_model_props(model, contract.encode_metadata(metadata))
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return Path(path)


def image_policy(path, metadata=None) -> Path:
    """uint8 [batch, 8, 8, 3] -> logits = the channel sums of obs / 255 (the graph scales)."""
    channel_of_pixel = np.tile(np.eye(3, dtype=np.float32), (64, 1))  # [192, 3]
    nodes = [helper.make_node("Cast", [contract.INPUT], ["x"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["x", "scale"], ["scaled"]),
             helper.make_node("Reshape", ["scaled", "flat_shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["logits"])]
    weights = {"scale": np.array(1 / 255, np.float32),
               "flat_shape": np.array([-1, 192], np.int64), "w": channel_of_pixel}
    return write_policy(path, TensorProto.UINT8, (8, 8, 3), nodes, weights, 3, metadata)


def image_answer(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The image policy's greedy actions and probs, by hand: softmax of channel sums / 255."""
    sums = frames.reshape(len(frames), -1, 3).astype(np.float64).sum(axis=1) / 255
    probs = np.exp(sums - sums.max(axis=1, keepdims=True))
    return sums.argmax(axis=1), probs / probs.sum(axis=1, keepdims=True)


def left_policy(path, obs_dim, metadata=None, obs_type=TensorProto.FLOAT) -> Path:
    """[batch, obs_dim] -> logits [1, 0] whatever obs is: always action 0."""
    nodes = [helper.make_node("Cast", [contract.INPUT], ["x"], to=TensorProto.FLOAT),
             helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["logits"])]
    weights = {"w": np.zeros((obs_dim, 2), np.float32), "b": np.array([1, 0], np.float32)}
    return write_policy(path, obs_type, (obs_dim,), nodes, weights, 2, metadata)


def frozen_lake_policy(path, metadata) -> Path:
    """Discrete obs [batch] -> the shortest path to the goal of the 4x4 map, as a table."""
    table = np.zeros((16, 4), np.float32)
    for state, action in {0: 1, 4: 1, 8: 2, 9: 1, 13: 2, 14: 2}.items():  # down, down, right..
        table[state, action] = 1.0
    nodes = [helper.make_node("Cast", [contract.INPUT], ["state"], to=TensorProto.INT64),
             helper.make_node("Gather", ["table", "state"], ["logits"], axis=0)]
    return write_policy(path, TensorProto.FLOAT, (), nodes, {"table": table}, 4, metadata)


def frames(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)


def serve_cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m serve ARGS` run from `cwd` (serve found through PYTHONPATH)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")]).rstrip(os.pathsep)}
    return subprocess.run([sys.executable, "-m", "serve", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, expected: str | re.Pattern) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert re.fullmatch(expected, line) if isinstance(expected, re.Pattern) else line == expected


# -- the contract module ---------------------------------------------------------------------
def test_contract_names_version_6_and_its_input_dtype_rule():
    assert contract.CONTRACT_VERSION == 6
    assert contract.SUPPORTED_CONTRACT_VERSIONS == (1, 2, 3, 4, 5, 6)
    assert contract.input_dtype(IMAGE_SPACE) == "uint8"
    assert contract.input_dtype(IMAGE_SPACE, version=1) == "float32"  # version 1: no uint8
    assert contract.input_dtype({**IMAGE_SPACE, "shape": [64, 3]}) == "float32"
    assert contract.input_dtype({**IMAGE_SPACE, "dtype": "float32"}) == "float32"
    assert contract.input_dtype(box(4)) == "float32"
    assert contract.input_dtype(discrete(16)) == "float32"
    values = keras_pg_metadata("CartPole-v1", box(4), discrete(2), env_kwargs={"a": [1]})
    assert contract.decode_metadata(contract.encode_metadata(values)) == values
    assert set(values) == set(contract.METADATA_KEYS)


def test_serve_and_its_contract_import_no_training_stack(tmp_path):
    path = image_policy(tmp_path / "image.onnx", keras_pg_metadata("X-v0", IMAGE_SPACE,
                                                                   discrete(3)))
    script = f"""
import sys, serve, serve.contract
serve.OnnxPolicy({str(path)!r}).act([[[0, 0, 255]] * 8] * 8)
heavy = ("tensorflow", "keras", "tf2onnx", "keras_pg", "export", "gymnasium", "fastapi")
loaded = [m for m in heavy if m in sys.modules]
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT, timeout=120)


# -- uint8 image inputs ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    return image_policy(tmp_path_factory.mktemp("image") / "image.onnx",
                        keras_pg_metadata("ServeTestChannels-v0", IMAGE_SPACE, discrete(3)))


def test_image_policy_takes_raw_uint8_frames(image):
    policy = serve.OnnxPolicy(image)
    assert policy.observation_dtype == np.uint8 and policy.observation_shape == (8, 8, 3)
    batch = frames(64)
    actions, probs = image_answer(batch)
    np.testing.assert_array_equal(policy.act(batch), actions)
    np.testing.assert_allclose(policy.probs(batch), probs, atol=1e-5)  # float32 sums
    assert [policy.act(frame) for frame in batch[:8]] == actions[:8].tolist()
    assert policy.act(batch[0].tolist()) == actions[0]
    np.testing.assert_array_equal(policy.act(batch.astype(np.int64)), actions)
    np.testing.assert_array_equal(policy.act(batch.astype(np.float64).tolist()), actions)


@pytest.mark.parametrize("value,message", [
    (256, "obs must be integers in [0, 255] for this policy's uint8 input, got 256.0"),
    (-1, "obs must be integers in [0, 255] for this policy's uint8 input, got -1.0"),
    (1.5, "obs must be integers in [0, 255] for this policy's uint8 input, got 1.5"),
    (np.nan, "obs contains NaN or inf; expected finite numbers"),
    (np.inf, "obs contains NaN or inf; expected finite numbers"),
])
def test_image_policy_refuses_what_a_uint8_cannot_hold(image, value, message):
    policy = serve.OnnxPolicy(image)
    obs = frames(1)[0].tolist()
    obs[3][4][1] = value
    with pytest.raises(ValueError) as info:
        policy.act(obs)
    assert str(info.value) == message


@pytest.mark.parametrize("bad,message", [
    (np.zeros((8, 8), np.uint8), "obs has shape (8, 8); expected (8, 8, 3) or (batch, 8, 8, 3)"),
    (np.zeros((2, 8, 8, 4)), "obs has shape (2, 8, 8, 4); expected (8, 8, 3)"),
    (np.full((8, 8, 3), "a"), "obs must be numeric with shape (8, 8, 3), got ndarray"),
    ([[1, 2], [3]], "obs must be numeric with shape (8, 8, 3), got list"),
])
def test_image_policy_shape_and_type_errors_are_one_line(image, bad, message):
    with pytest.raises(ValueError) as info:
        serve.OnnxPolicy(image).act(bad)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_float_policies_keep_float32_and_any_finite_value(tmp_path):
    policy = serve.OnnxPolicy(left_policy(tmp_path / "p.onnx", 4, keras_pg_metadata(
        "CartPole-v1", box(4), discrete(2))))
    assert policy.observation_dtype == np.float32
    assert policy.act([300.0, -1.0, 1.5, 0.0]) == 0


def test_foreign_onnx_input_dtype_comes_from_the_session(tmp_path):
    policy = serve.OnnxPolicy(image_policy(tmp_path / "foreign.onnx"), action_type="discrete",
                              observation_shape=(8, 8, 3))
    assert policy.observation_dtype == np.uint8
    np.testing.assert_array_equal(policy.act(frames(5)), image_answer(frames(5))[0])
    with pytest.raises(ValueError, match=r"integers in \[0, 255\].*got 256.0"):
        policy.act(np.full((8, 8, 3), 256))
    with pytest.raises(serve.PolicyLoadError) as info:
        serve.OnnxPolicy(left_policy(tmp_path / "double.onnx", 4, obs_type=TensorProto.DOUBLE),
                         observation_shape=(4,), action_type="discrete")
    assert str(info.value).endswith("input 'obs' has type tensor(double); expected "
                                    "tensor(float) or tensor(uint8)")


class ChannelEnv(gymnasium.Env):
    """Random 8 x 8 x 3 uint8 frames; reward 1 when the action is the channel with the largest
    sum (what the image policy computes), 4 steps per episode."""

    def __init__(self):
        self.observation_space = gymnasium.spaces.Box(0, 255, (8, 8, 3), np.uint8)
        self.action_space = gymnasium.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.frame = self.np_random.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        return self.frame, {}

    def step(self, action):
        reward = float(action == self.frame.sum(axis=(0, 1), dtype=np.int64).argmax())
        self.t += 1
        self.frame = self.np_random.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        return self.frame, reward, self.t == 4, False, {}


def test_episodes_hand_uint8_frames_to_the_image_policy(image):
    if "ServeTestChannels-v0" not in gymnasium.registry:
        gymnasium.register("ServeTestChannels-v0", entry_point=ChannelEnv)
    result = serve.run_episodes(serve.OnnxPolicy(image), episodes=5)
    assert result["returns"] == [4.0] * 5 and result["steps"] == 20


# -- contract versions -----------------------------------------------------------------------
def test_contract_version_1_files_still_load(tmp_path):
    metadata = keras_pg_metadata("CartPole-v1", box(4), discrete(2), version=1)
    assert contract.ENV_KWARGS_KEY not in metadata
    policy = serve.OnnxPolicy(left_policy(tmp_path / "v1.onnx", 4, metadata))
    assert policy.observation_dtype == np.float32 and policy.act([0.1, 0, 0, 0]) == 0
    result = serve.run_episodes(policy, episodes=2)
    assert result["env_id"] == "CartPole-v1" and 2 < result["steps"] < 40  # always left


def test_a_newer_contract_version_is_refused_in_one_line(tmp_path):
    newer = contract.CONTRACT_VERSION + 1
    path = left_policy(tmp_path / "newer.onnx", 4,
                       keras_pg_metadata("CartPole-v1", box(4), discrete(2), version=newer))
    with pytest.raises(serve.PolicyLoadError) as info:
        serve.OnnxPolicy(path)
    assert str(info.value) == (f"{path} uses export contract {newer}; this runtime reads "
                               "contracts 1, 2, 3, 4, 5, 6 (a newer serve may read it)")


# -- the env from the metadata, in process ---------------------------------------------------
def test_env_kwargs_from_the_metadata_reach_the_env(tmp_path):
    kwargs = {"is_slippery": False, "map_name": "4x4"}
    policy = serve.OnnxPolicy(frozen_lake_policy(tmp_path / "fl.onnx", keras_pg_metadata(
        "FrozenLake-v1", discrete(16), discrete(4), env_kwargs=kwargs)))
    result = serve.run_episodes(policy, episodes=20)
    assert result["returns"] == [1.0] * 20 and result["steps"] == 6 * 20  # no slipping
    slippery = serve.run_episodes(policy, episodes=20, env_kwargs={"is_slippery": True})
    assert slippery["mean_return"] < 1.0  # explicit env_kwargs win


def test_max_episode_steps_from_the_metadata_caps_episodes(tmp_path):
    policy = serve.OnnxPolicy(left_policy(tmp_path / "left.onnx", 4, keras_pg_metadata(
        "CartPole-v1", box(4), discrete(2), max_episode_steps=5)))
    assert serve.run_episodes(policy, episodes=3)["steps"] == 3 * 5
    assert serve.run_episodes(policy, "CartPole-v1", episodes=3)["steps"] == 3 * 5
    assert serve.run_episodes(policy, episodes=3, max_episode_steps=2)["steps"] == 3 * 2
    # Another env id does not inherit the metadata's time limit: pushing left always, the pole
    # falls after about ten steps.
    assert serve.run_episodes(policy, "CartPole-v0", episodes=3)["steps"] > 3 * 5


@pytest.mark.parametrize("kwargs,message", [
    ({"env_kwargs": [1]}, "env_kwargs must be a dict of gymnasium.make keyword arguments, "
                          "got list"),
    ({"max_episode_steps": 0}, "max_episode_steps must be a positive integer, got 0"),
    ({"max_episode_steps": 2.5}, "max_episode_steps must be a positive integer, got 2.5"),
])
def test_bad_env_arguments_are_one_line_errors(tmp_path, kwargs, message):
    policy = serve.OnnxPolicy(left_policy(tmp_path / "left.onnx", 4, keras_pg_metadata(
        "CartPole-v1", box(4), discrete(2))))
    with pytest.raises(ValueError) as info:
        serve.run_episodes(policy, episodes=1, **kwargs)
    assert str(info.value) == message


# -- custom env modules and unbuildable envs, through the command line -----------------------
@pytest.fixture
def app_dir(tmp_path) -> Path:
    """A directory with myenv.py (registers GoLeft-v0), as a user's project would have."""
    (tmp_path / "myenv.py").write_text(MYENV)
    (tmp_path / "brokenenv.py").write_text("raise RuntimeError('boom')\n")
    return tmp_path


def go_left(app_dir: Path, env_id: str, **keys) -> Path:
    metadata = keras_pg_metadata(env_id, box(1), discrete(2), **keys)
    return left_policy(app_dir / "policy.onnx", 1, metadata)


@pytest.mark.parametrize("keys,args,expected", [
    ({"env_kwargs": {"start": 7}}, [], "return -7.0 ± 0.0 over 3 episodes"),
    ({"env_kwargs": {"start": 7}, "max_episode_steps": 3}, [], "return -3.0 ± 0.0"),
    ({"env_kwargs": {"start": 7}}, ["--env-kwargs", '{"start": 2}'], "return -2.0 ± 0.0"),
    ({"env_kwargs": {"start": 7}}, ["--max-episode-steps", "4"], "return -4.0 ± 0.0"),
])
def test_cli_rebuilds_a_custom_env_module_from_the_metadata(app_dir, keys, args, expected):
    policy = go_left(app_dir, "myenv:GoLeft-v0", **keys)
    proc = serve_cli(policy, "--episodes", "3", *args, cwd=app_dir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"myenv:GoLeft-v0: {expected}")


def test_cli_env_flag_replaces_a_factory_the_metadata_cannot_rebuild(app_dir):
    policy = go_left(app_dir, "<myenv.make_env>")
    assert_one_line_error(serve_cli(policy, cwd=app_dir), (
        "error: the policy was trained on a Python env factory <myenv.make_env>, which serve "
        f"cannot rebuild; {HINT}"))
    proc = serve_cli(policy, "--env", "myenv:GoLeft-v0", "--episodes", "2", cwd=app_dir)
    assert proc.returncode == 0 and proc.stdout.startswith("myenv:GoLeft-v0: return -5.0 ±")
    proc = serve_cli(policy, "--env", "myenv:GoLeft-v0", "--env-kwargs", '{"start": 3}',
                     "--episodes", "2", cwd=app_dir)
    assert proc.returncode == 0 and proc.stdout.startswith("myenv:GoLeft-v0: return -3.0 ±")


def cannot_create(env_id: str, reason: str, metadata: bool = True) -> str:
    where = " from the policy's metadata" if metadata else ""
    return f"error: cannot create env {env_id!r}{where}: {reason}; {HINT} and --env-kwargs JSON"


# gymnasium adds to the env's own message which creator raised it, with which kwargs.
BOGUS_KWARG = re.compile(re.escape(cannot_create(
    "myenv:GoLeft-v0", "TypeError: GoLeft.__init__() got an unexpected keyword argument 'bogus'"
)).replace(re.escape("'bogus';"), "'bogus'.*;"))


@pytest.mark.parametrize("env_id,keys,args,expected", [
    ("nomodule:GoLeft-v0", {}, [],
     cannot_create("nomodule:GoLeft-v0", "No module named 'nomodule'")),
    ("brokenenv:Broken-v0", {}, [], cannot_create("brokenenv:Broken-v0", "RuntimeError: boom")),
    ("myenv:GoLeft-v0", {"env_kwargs": {"bogus": 1}}, [], BOGUS_KWARG),
    ("myenv:GoLeft-v0", {}, ["--env-kwargs", '{"bogus": 1}'], BOGUS_KWARG),
    ("<myenv.make_env>", {}, ["--env", "nomodule:X-v0"],
     cannot_create("nomodule:X-v0", "No module named 'nomodule'", metadata=False)),
    ("myenv:GoLeft-v0", {}, ["--env-kwargs", "[1]"],
     """error: --env-kwargs must be a JSON object such as '{"is_slippery": false}', got '[1]'"""),
    ("myenv:GoLeft-v0", {}, ["--env-kwargs", "{start: 1}"],
     "error: --env-kwargs must be a JSON object, got '{start: 1}': Expecting property name "
     "enclosed in double quotes: line 1 column 2 (char 1)"),
    ("myenv:GoLeft-v0", {}, ["--max-episode-steps", "0"],
     "error: max_episode_steps must be a positive integer, got 0"),
])
def test_cli_unbuildable_envs_and_bad_env_flags_exit_2(app_dir, env_id, keys, args, expected):
    assert_one_line_error(serve_cli(go_left(app_dir, env_id, **keys), *args, cwd=app_dir),
                          expected)


def test_cli_unregistered_env_id_exits_2(app_dir):
    proc = serve_cli(go_left(app_dir, "NoSuchEnv-v0"), cwd=app_dir)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: cannot create env 'NoSuchEnv-v0' from the policy's metadata: ")
    assert line.endswith(f"; {HINT} and --env-kwargs JSON")


# -- packaging -------------------------------------------------------------------------------
def test_pip_wheel_of_serve_holds_serve_alone_without_tensorflow(tmp_path):
    # A copy, because setuptools builds in the source tree (build/, *.egg-info).
    source = tmp_path / "src" / "serve"
    shutil.copytree(ROOT / "serve", source,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "--no-build-isolation", "-w", str(tmp_path / "wheels"), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    [wheel] = (tmp_path / "wheels").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        files = {name: archive.read(name).decode() for name in archive.namelist()}
    info = next(name.split("/")[0] for name in files if name.endswith(".dist-info/METADATA"))
    assert {name.split("/")[0] for name in files} == {"serve", info}  # serve alone
    assert {f"serve/{p.name}" for p in (ROOT / "serve").glob("*.py")} <= set(files)
    assert "serve/contract.py" in files
    metadata, scripts = files[f"{info}/METADATA"], files[f"{info}/entry_points.txt"]
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines()
                if line.startswith("Requires-Dist:")]
    assert {"numpy>=1.26", "onnxruntime>=1.18"} <= set(requires)
    assert not [r for r in requires if r.lower().startswith(("tensorflow", "keras", "tf2onnx"))]
    assert "keras-pg-serve = serve.cli:main" in scripts


def test_serve_requirements_txt_lists_what_its_pyproject_requires():
    project = tomllib.loads((ROOT / "serve" / "pyproject.toml").read_text())["project"]
    declared = {*project["dependencies"], *(r for extra in project["optional-dependencies"]
                                            .values() for r in extra)}
    listed = {line.strip() for line in (ROOT / "serve" / "requirements.txt").read_text()
              .splitlines() if line.strip() and not line.startswith("#")}
    assert listed == declared
