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
--eval-confirm-episodes 100 --target-return 475`, the same rule): when num_timesteps reaches a
multiple of --eval-every (after the vec-env step that reaches it; 10,000 is a multiple of the
8 steps of one), a screen of --eval-every-episodes greedy episodes; when its mean return
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
import collections
import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--threshold", type=float, default=475.0,
                        help="greedy mean return that solves (CartPole-v1's reward_threshold)")
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--eval-every-episodes", type=int, default=10)
    parser.add_argument("--eval-confirm-episodes", type=int, default=100)
    parser.add_argument("--eval-episodes", type=int, default=100,
                        help="greedy episodes of the final evaluation")
    parser.add_argument("--eval-seed", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--returns", action="store_true",
                        help="also report the final greedy episodes' returns (eval_returns)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the JSON here instead of stdout")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    import gymnasium as gym
    import numpy as np
    import sb3_contrib
    import stable_baselines3
    import torch
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    if args.threads > 0:
        torch.set_num_threads(args.threads)
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
    stop = evaluating_stop(args, env_id, env)
    start = time.perf_counter()
    model.learn(total_timesteps=args.max_steps, callback=stop)
    total_wall_s = time.perf_counter() - start
    train_wall_s = total_wall_s - stop.eval_wall_s

    returns = evaluate(model, env, env_id, args.eval_episodes, args.eval_seed)
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
        "threshold": args.threshold, "max_steps": args.max_steps,
        "eval_every": args.eval_every, "eval_every_episodes": args.eval_every_episodes,
        "eval_confirm_episodes": args.eval_confirm_episodes,
        "torch_threads": torch.get_num_threads(),
    }
    result = {
        "peer": "sb3-contrib-recurrent-ppo", "env": env_id, "seed": args.seed,
        "solved": stop.steps_to_solve is not None, "steps_to_solve": stop.steps_to_solve,
        "env_steps": int(stop.steps_at_stop or model.num_timesteps),
        "train_wall_s": round(train_wall_s, 3), "total_wall_s": round(total_wall_s, 3),
        "eval_wall_s": round(stop.eval_wall_s, 3),
        "steps_per_s": round(model.num_timesteps / train_wall_s, 1),
        "updates": model._n_updates // model.n_epochs,
        "train_episodes": stop.episodes,
        "train_last100_mean_return": (round(float(np.mean(stop.window)), 3)
                                      if stop.window else None),
        "evaluations": stop.rows,
        "best_eval_mean_return": max((r["mean_return"] for r in stop.rows), default=None),
        "eval_mean_return": round(float(np.mean(returns)), 3) if returns else None,
        "eval_std_return": round(float(np.std(returns)), 3) if returns else None,
        "eval_episodes": len(returns), "eval_seed": args.eval_seed,
        "settings": settings,
        "versions": {"sb3": stable_baselines3.__version__, "sb3_contrib": sb3_contrib.__version__,
                     "torch": torch.__version__, "gymnasium": gym.__version__},
    }
    if args.returns:
        result["eval_returns"] = returns
    text = json.dumps(result)
    if args.out is not None:
        args.out.write_text(text + "\n")
    else:
        print(text, flush=True)


def evaluating_stop(args: argparse.Namespace, env_id: str, vec_normalize: Any) -> Any:
    """The callback of learn(): an EvaluatingStop (its class is defined after the lazy SB3
    import, as the module's other SB3 names are imported in main)."""
    from stable_baselines3.common.callbacks import BaseCallback

    class EvaluatingStop(BaseCallback):
        """Greedy screens every `eval_every` steps, confirmed on fresh episodes; stops learn()
        when one decides the run is solved, or at max_steps (see the module docstring)."""

        def __init__(self) -> None:
            super().__init__(verbose=0)
            self.window: collections.deque[float] = collections.deque(maxlen=100)
            self.episodes = 0
            self.rows: list[dict] = []
            self.eval_wall_s = 0.0
            self.next_seed = args.eval_seed + args.eval_episodes  # none of the final episodes'
            self.last_eval_steps = 0
            self.steps_to_solve: int | None = None
            self.steps_at_stop = 0

        def _on_step(self) -> bool:
            self.window.extend(float(info["episode"]["r"]) for info in self.locals["infos"]
                               if "episode" in info)  # the Monitor's raw returns
            self.episodes += sum("episode" in info for info in self.locals["infos"])
            every, steps = args.eval_every, self.num_timesteps
            if every and steps // every > self.last_eval_steps // every:
                self.last_eval_steps = steps
                start = time.perf_counter()
                mean = self._evaluation("screen", args.eval_every_episodes)
                confirm = args.eval_confirm_episodes
                if confirm and mean >= args.threshold:
                    mean = self._evaluation("confirm", confirm)
                self.eval_wall_s += time.perf_counter() - start
                if mean >= args.threshold:
                    self.steps_to_solve = steps
            if self.steps_to_solve is not None or steps >= args.max_steps:
                self.steps_at_stop = steps
                return False
            return True

        def _evaluation(self, kind: str, episodes: int) -> float:
            start = time.perf_counter()
            returns = evaluate(self.model, vec_normalize, env_id, episodes,
                               self.next_seed)
            self.next_seed += episodes
            mean = float(sum(returns) / len(returns))
            self.rows.append({"env_steps": self.num_timesteps, "kind": kind,
                              "episodes": episodes, "mean_return": round(mean, 3),
                              "wall_s": round(time.perf_counter() - start, 4)})
            return mean

    return EvaluatingStop()


def evaluate(model: Any, vec_normalize: Any, env_id: str, episodes: int,
             first_seed: int) -> list[float]:
    """Greedy returns of `episodes` episodes, episode i reset with seed first_seed + i: one env
    each, stepped together; each episode's LSTM state carried, reset at its start."""
    import gymnasium as gym
    import numpy as np

    if episodes <= 0:
        return []
    envs = [gym.make(env_id) for _ in range(episodes)]
    obs = np.stack([e.reset(seed=first_seed + i)[0] for i, e in enumerate(envs)])
    layers, _, hidden = model.policy.lstm_hidden_state_shape
    h, c = np.zeros((layers, episodes, hidden)), np.zeros((layers, episodes, hidden))
    starts = np.ones(episodes, dtype=bool)
    returns = np.zeros(episodes)
    active = np.ones(episodes, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        actions, (h[:, idx], c[:, idx]) = model.predict(
            vec_normalize.normalize_obs(obs[idx]), state=(h[:, idx], c[:, idx]),
            episode_start=starts[idx], deterministic=True)
        starts[idx] = False
        for i, action in zip(idx, actions, strict=True):
            o, r, terminated, truncated, _ = envs[i].step(int(action))
            obs[i] = o
            returns[i] += r
            if terminated or truncated:
                active[i] = False
    for e in envs:
        e.close()
    return returns.tolist()


if __name__ == "__main__":
    main()
