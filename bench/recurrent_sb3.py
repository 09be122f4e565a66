"""The RecurrentPPO peer (issue #25): sb3-contrib's RecurrentPPO on CartPoleNoVel-v1 with
rl-zoo3's tuned settings, stopped by greedy evaluations as keras_pg's runs are.

    bench/.venv-peers/bin/python bench/recurrent_sb3.py --seed S [--max-steps 1000000]
        [--threshold 475] [--eval-every 10000] [--eval-every-episodes 10]
        [--eval-confirm-episodes 100] [--eval-episodes 100] [--eval-seed 10000]
        [--threads 1] [--returns] [--out FILE]

Runs in the peer venv (bench/requirements-peers.txt: stable-baselines3, sb3-contrib, torch's
CPU build) and prints ONE JSON line on stdout, nothing else (or writes it to --out):
    {"peer": "sb3-contrib-recurrent-ppo", "env", "seed", "solved", "steps_to_solve",
     "env_steps", "train_wall_s", "total_wall_s", "eval_mean_return", "evaluations",
     "settings", "versions", ...}

The env is keras_pg's own CartPoleNoVel-v1 (keras_pg/envs/partial.py: CartPole-v1 observing
only (x, theta), 500-step limit), the same wrapper keras_pg trains on. This venv has no
TensorFlow, and importing keras_pg.envs.partial would import keras_pg's package (TensorFlow
first), so the file is loaded by its path with importlib under a module name of its own
(`load_partial`); partial.py imports only gymnasium and numpy and registers the id with a
function entry point (no "keras_pg..." string for gymnasium to import), for exactly this.
rl-zoo3's CartPoleNoVel-v1 (rl_zoo3/import_envs.py, MaskVelocityWrapper) multiplies the
velocities by zero and keeps 4 entries; this one drops them: the same information.

Settings: rl-zoo3's tuned hyperparameters, copied from rl_zoo3/hyperparams/ppo_lstm.yml
(rl-zoo3 2.9.2, read in the released wheel), entry `CartPoleNoVel-v1`:
    normalize: True, n_envs: 8, n_timesteps: 1e5, policy: 'MlpLstmPolicy', n_steps: 32,
    batch_size: 256, gae_lambda: 0.8, gamma: 0.98, n_epochs: 20, ent_coef: 0.0,
    learning_rate: lin_0.001, clip_range: lin_0.2,
    policy_kwargs: dict(ortho_init=False, activation_fn=nn.ReLU, lstm_hidden_size=64,
                        enable_critic_lstm=True, net_arch=dict(pi=[64], vf=[64]))
Everything else is sb3-contrib's RecurrentPPO default (vf_coef 0.5, max_grad_norm 0.5,
advantage normalization, one LSTM layer, separate actor and critic LSTMs). The envs are built
as rl-zoo3's ExperimentManager.create_envs builds them: `make_vec_env(env_id, n_envs=8,
seed=S)` (DummyVecEnv, a Monitor over each `gym.make`), then `normalize: True` is
VecNormalize(venv, gamma=0.98) (observations and rewards; the zoo passes the algorithm's gamma
to it). `lin_X` is the zoo's SimpleLinearSchedule: X * progress_remaining, from X to 0 over
the `total_timesteps` given to learn(); that is --max-steps here, as with rl-zoo3's
`python -m rl_zoo3.train --algo ppo_lstm --env CartPoleNoVel-v1 -n MAX_STEPS`, whose -n
replaces n_timesteps (1e5) for the budget and the schedules alike. Not taken from the zoo: its
EvalCallback and model saving; the evaluations below replace them.

Threads (--threads, default 1; 0 keeps torch's default): torch.set_num_threads(1), as in
bench/sb3_ppo.py (8 observations per step, 64-unit LSTMs: small calls, a 2-core machine).

Evaluations during training (keras_pg's `--eval-every 10000 --eval-every-episodes 10
--eval-confirm-episodes 100 --target-return 475`, the same rule; bench/sb3_common.py's
`evaluating_stop`, given this script's `evaluate`): when num_timesteps reaches a multiple of
--eval-every (after the vec-env step that reaches it; 10,000 is a multiple of the 8 steps of
one), a screen of --eval-every-episodes greedy episodes; when its mean return
reaches --threshold, a confirmation on --eval-confirm-episodes fresh greedy episodes decides
(0: the screen decides). The run is solved at the first deciding evaluation with a mean >=
--threshold (steps_to_solve: num_timesteps then; null if none), and learn() stops there
(mid-rollout, before that rollout's update), or at --max-steps unsolved. Greedy episodes
(`evaluate`): deterministic=True, each episode its own env, all stepped together; the LSTM
state is carried from step to step per episode and reset at its start (episode_start True
on its first step); observations normalized by the training VecNormalize's statistics at that
moment (not updated by evaluation), as the zoo syncs its eval env. Evaluation episodes are
seeded one after another from --eval-seed + --eval-episodes up (each evaluation's episodes
fresh, none of the final ones); training's envs are seeded S .. S+7 once.

Wall time: total_wall_s is time.perf_counter() around model.learn() (building the model and
the envs, and the imports, are outside it); eval_wall_s the evaluations' part of it;
train_wall_s = total_wall_s - eval_wall_s. (keras_pg's summary.json counts its evaluations in
its train_wall_s; bench/recurrent_cartpole.py reports both ways for both.)

Final evaluation: the policy at the stop, greedy, on --eval-episodes episodes, episode i reset
with seed eval_seed + i; mean and population std of the undiscounted returns.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import sb3_common  # bench/ is this script's directory (see there)

PARTIAL = Path(__file__).resolve().parents[1] / "keras_pg" / "envs" / "partial.py"
ZOO_VERSION = "2.9.2"
# rl-zoo3 2.9.2 hyperparams/ppo_lstm.yml, entry CartPoleNoVel-v1, verbatim (the schedules'
# "lin_" and the policy_kwargs string are built in main()).
ZOO_HYPERPARAMS = {
    "normalize": True,
    "n_envs": 8,
    "n_timesteps": 1e5,
    "policy": "MlpLstmPolicy",
    "n_steps": 32,
    "batch_size": 256,
    "gae_lambda": 0.8,
    "gamma": 0.98,
    "n_epochs": 20,
    "ent_coef": 0.0,
    "learning_rate": "lin_0.001",
    "clip_range": "lin_0.2",
    "policy_kwargs": "dict(ortho_init=False, activation_fn=nn.ReLU, lstm_hidden_size=64, "
                     "enable_critic_lstm=True, net_arch=dict(pi=[64], vf=[64]))",
}


def load_partial() -> ModuleType:
    """keras_pg/envs/partial.py loaded by its path (registers CartPoleNoVel-v1), without
    importing keras_pg's package and its TensorFlow."""
    spec = importlib.util.spec_from_file_location("keras_pg_envs_partial", PARTIAL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class SimpleLinearSchedule:
    """rl-zoo3's `lin_X` (rl_zoo3/utils.py): X * progress_remaining, X down to 0."""

    def __init__(self, initial_value: float) -> None:
        self.initial_value = initial_value

    def __call__(self, progress_remaining: float) -> float:
        return progress_remaining * self.initial_value

    def __repr__(self) -> str:
        return f"lin_{self.initial_value:g}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sb3_common.add_peer_arguments(
        parser, max_steps=1_000_000, threshold=475.0, evaluating=True,
        threshold_help="greedy mean return that solves (CartPole-v1's reward_threshold)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    import torch
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    sb3_common.set_threads(args.threads)
    env_id = load_partial().ENV_ID

    hyper = dict(ZOO_HYPERPARAMS)
    n_envs, policy = hyper.pop("n_envs"), hyper.pop("policy")
    zoo_timesteps, hyper_str = hyper.pop("n_timesteps"), dict(hyper)
    del hyper["normalize"]  # VecNormalize below
    for key in ("learning_rate", "clip_range"):
        hyper[key] = SimpleLinearSchedule(float(str(hyper[key]).split("_")[1]))
    hyper["policy_kwargs"] = {"ortho_init": False, "activation_fn": torch.nn.ReLU,
                              "lstm_hidden_size": 64, "enable_critic_lstm": True,
                              "net_arch": {"pi": [64], "vf": [64]}}

    env = VecNormalize(make_vec_env(env_id, n_envs=n_envs, seed=args.seed),
                       gamma=hyper["gamma"])
    model = RecurrentPPO(policy, env, seed=args.seed, device="cpu", verbose=0, **hyper)
    greedy = functools.partial(evaluate, vec_normalize=env, env_id=env_id)
    stop = sb3_common.evaluating_stop(args, greedy)
    total_wall_s = sb3_common.learn_timed(model, args.max_steps, stop)

    returns = greedy(model, args.eval_episodes, args.eval_seed)
    env.close()
    p = model.policy
    settings = {
        "source": f"rl-zoo3 {ZOO_VERSION} hyperparams/ppo_lstm.yml, CartPoleNoVel-v1; the rest "
                  "sb3-contrib RecurrentPPO defaults; schedules over max_steps",
        "zoo": {**hyper_str, "n_envs": n_envs, "policy": policy, "n_timesteps": zoo_timesteps},
        "vf_coef": model.vf_coef, "max_grad_norm": model.max_grad_norm,
        "normalize_advantage": model.normalize_advantage,
        "net_arch": str(p.net_arch), "activation_fn": p.activation_fn.__name__,
        "ortho_init": p.ortho_init, "lstm_hidden_size": p.lstm_hidden_state_shape[-1],
        "n_lstm_layers": p.lstm_hidden_state_shape[0], "shared_lstm": p.shared_lstm,
        "enable_critic_lstm": p.lstm_critic is not None,
        "vec_env": type(env.venv).__name__,
        "vec_normalize": {"norm_obs": env.norm_obs, "norm_reward": env.norm_reward,
                          "gamma": env.gamma, "clip_obs": env.clip_obs,
                          "clip_reward": env.clip_reward},
        **sb3_common.evaluation_settings(args),
    }
    result = {
        "peer": "sb3-contrib-recurrent-ppo", "env": env_id, "seed": args.seed,
        **sb3_common.evaluated_run_fields(model, stop, total_wall_s),
        **sb3_common.final_evaluation_fields(returns, args.eval_seed),
        "settings": settings, "versions": sb3_common.versions(contrib=True),
    }
    sb3_common.write_result(result, returns, with_returns=args.returns, out=args.out)


def evaluate(model: Any, episodes: int, first_seed: int, *, vec_normalize: Any,
             env_id: str) -> list[float]:
    """Greedy returns of `episodes` episodes, episode i reset with seed first_seed + i: one env
    each, stepped together; each episode's LSTM state carried, reset at its start;
    observations normalized by `vec_normalize`'s statistics (bound by functools.partial,
    this is a sb3_common.Evaluate)."""
    import numpy as np

    layers, _, hidden = model.policy.lstm_hidden_state_shape
    h, c = np.zeros((layers, episodes, hidden)), np.zeros((layers, episodes, hidden))
    starts = np.ones(episodes, dtype=bool)

    def act(idx: Any, observations: list[Any], infos: list[dict]) -> list[int]:
        actions, (h[:, idx], c[:, idx]) = model.predict(
            vec_normalize.normalize_obs(np.stack(observations)), state=(h[:, idx], c[:, idx]),
            episode_start=starts[idx], deterministic=True)
        starts[idx] = False
        return [int(action) for action in actions]

    return sb3_common.play_greedy(env_id, episodes, first_seed, act)


if __name__ == "__main__":
    main()
