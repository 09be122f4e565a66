import subprocess
import sys

import numpy as np
import pytest
from gymnasium import spaces

import keras_pg
from keras_pg.cli import build_parser
from keras_pg.config import Config, ConfigError
from keras_pg.envs.source import EnvSource, check_env_id, check_spaces, inspect_env
from keras_pg.flags import given_settings
from keras_pg.presets import PRESETS, resolve_config


def config_from_args(args):
    return resolve_config(args.preset, given_settings(args))[0]


@pytest.mark.parametrize("kwargs,message", [
    ({"gamma": 1.5}, "gamma must be in [0, 1], got 1.5"),
    ({"gamma": -0.1}, "gamma must be in [0, 1]"),
    ({"lr": 0.0}, "lr must be a positive number"),
    ({"lr": -1e-3}, "lr must be a positive number"),
    ({"num_envs": 0}, "num_envs must be a positive integer"),
    ({"episodes_per_update": -2}, "episodes_per_update must be a positive integer"),
    ({"max_steps": 0}, "max_steps must be a positive integer"),
    ({"hidden": (128, 0)}, "hidden must be positive layer widths"),
    ({"hidden": ()}, "hidden must be positive layer widths"),
    ({"max_grad_norm": 0.0}, "max_grad_norm must be positive or none"),
    ({"bootstrap_truncated": True}, "bootstrap_truncated needs a value estimate"),
    ({"precision": "float16"}, "precision must be one of float32, bfloat16; got 'float16'"),
    ({"precision": "bfloat16", "network": "custom"},
     "precision bfloat16 applies to the built-in networks"),
    ({"bootstrap_truncated": True, "baseline": "value", "backend": "graph"},
     "baseline value with backend gym or ray"),
])
def test_invalid_settings_are_one_line_errors(kwargs, message):
    with pytest.raises(ConfigError) as info:
        Config(**kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_env_suggests_close_ids():
    with pytest.raises(ConfigError, match="did you mean CartPole-v1"):
        check_env_id("CartPole-v7")


BOX = spaces.Box(-1.0, 1.0, (3,), np.float32)
UNSUPPORTED_OBSERVATIONS = [  # Dict, Tuple, MultiDiscrete, MultiBinary: tests/test_structured*
    spaces.Dict({"a": spaces.Dict({"b": BOX})}), spaces.Tuple((BOX, spaces.Text(5))),
    spaces.MultiDiscrete([[2, 3]]), spaces.MultiBinary((2, 2)), spaces.Text(5),
    spaces.Graph(BOX, None), spaces.Sequence(BOX), spaces.Box(0, 1, (2,), np.bool_),
]
UNSUPPORTED_ACTIONS = [
    spaces.MultiDiscrete([[2, 3]]), spaces.MultiBinary((2, 1)), spaces.Tuple((spaces.Discrete(2),)),
    spaces.Dict({"a": spaces.Discrete(2)}), spaces.Box(-1, 1, (2, 2), np.float32),
    spaces.Box(-np.inf, np.inf, (2,), np.float32), spaces.Text(3),
]


@pytest.mark.parametrize("space", UNSUPPORTED_OBSERVATIONS, ids=lambda s: type(s).__name__)
def test_unsupported_observation_spaces_are_named(space):
    with pytest.raises(ConfigError) as info:
        check_spaces("Env-v0", space, spaces.Discrete(2))
    assert str(info.value).startswith(f"Env-v0 has observation space {space}; keras_pg supports")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("space", UNSUPPORTED_ACTIONS, ids=lambda s: type(s).__name__)
def test_unsupported_action_spaces_are_named(space):
    with pytest.raises(ConfigError) as info:
        check_spaces("Env-v0", BOX, space)
    assert str(info.value).startswith(f"Env-v0 has action space {space}; keras_pg supports")


@pytest.mark.parametrize("observation,action", [
    (BOX, spaces.Discrete(3)), (spaces.Discrete(16), spaces.Discrete(4)),
    (spaces.Box(0, 255, (8, 8, 3), np.uint8), spaces.Box(-2.0, 2.0, (1,), np.float32)),
])
def test_supported_spaces_pass(observation, action):
    check_spaces("Env-v0", observation, action)


def test_a_real_env_with_tuple_observations_is_taken():
    """Blackjack-v1 observes Tuple(Discrete(32), Discrete(11), Discrete(2)): one input each."""
    info = inspect_env(EnvSource("Blackjack-v1", {}, None))
    assert isinstance(info.observation_space, spaces.Tuple)
    agent = keras_pg.REINFORCE("Blackjack-v1", preset="none", seed=0, max_episode_steps=20)
    assert sorted(agent.model.input) == ["0", "1", "2"]
    assert agent.predict((14, 10, 0)) in (0, 1)


def test_config_round_trips_through_json_dict():
    config = Config(hidden=(64, 32), max_grad_norm=0.5)
    assert Config.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown config keys"):
        Config.from_dict({"gama": 0.9})


def test_seed_preset_is_the_article_and_flags_override_it():
    args = build_parser().parse_args(["train", "--preset", "seed", "--seed", "3"])
    config = config_from_args(args)
    assert (config.env_id, config.num_envs, config.episodes_per_update) == ("CartPole-v0", 1, 1)
    assert (config.gamma, config.lr, config.hidden, config.seed) == (0.9, 3e-4, (128,), 3)
    assert set(PRESETS["seed"]) <= {f for f in Config.__dataclass_fields__}


def test_cli_parses_hidden_and_none():
    args = build_parser().parse_args(["train", "--hidden", "64,64", "--max-grad-norm", "none"])
    config = config_from_args(args)
    assert config.hidden == (64, 64) and config.max_grad_norm is None


@pytest.mark.parametrize("argv,message", [
    (["--gamma", "2"], "error: gamma must be in [0, 1], got 2.0"),
    (["--env", "CartPol-v1"], "error: unknown gymnasium env id 'CartPol-v1'; did you mean"),
    (["--env", "tests.structured_envs:Mission-v0"],
     "error: tests.structured_envs:Mission-v0 has observation space Dict('direction': "
     "Discrete(4), 'mission': Text("),
    (["--resume", "/nonexistent/run"], "error: cannot resume: /nonexistent/run/checkpoint.npz"),
])
def test_cli_errors_exit_2_with_one_line_and_no_run_dir(tmp_path, argv, message):
    run_dir = tmp_path / "run"
    extra = [] if "--resume" in argv else ["--run-dir", str(run_dir)]
    proc = subprocess.run([sys.executable, "-m", "keras_pg", "train", *argv, *extra],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not run_dir.exists()
