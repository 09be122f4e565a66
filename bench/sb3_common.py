"""What the SB3 peers share: bench/sb3_ppo.py, bench/recurrent_sb3.py, bench/masked_sb3.py.

Peer venv only (bench/requirements-peers.txt: stable-baselines3, sb3-contrib, torch's CPU
build, gymnasium), and never keras_pg or anything else that imports TensorFlow. At import this
module needs only the standard library; SB3, torch, gymnasium and numpy are imported inside the
functions, as the peers import them in their main(). The peers run as scripts, so bench/ is
their sys.path[0] and they `import sb3_common`.

Here: the command-line flags they have in common (`add_peer_arguments`), torch's thread count,
the timing of learn(), greedy episodes played together (`play_greedy`), the stop by greedy
evaluations of recurrent_sb3 and masked_sb3 (`evaluating_stop`), the result fields computed
alike, and the one JSON line of output. Each peer keeps its env, its settings and its greedy
`evaluate`, which chooses the actions (with masks, an LSTM state, Dict observations) for
`play_greedy`.

The stop by evaluations (keras_pg's `--eval-every`, `--eval-every-episodes`,
`--eval-confirm-episodes`, `--target-return` rule): when num_timesteps reaches a multiple of
--eval-every (after the vec-env step that reaches it), a screen of --eval-every-episodes
greedy episodes; when its mean return reaches --threshold, a confirmation on
--eval-confirm-episodes fresh greedy episodes decides (0: the screen decides). The run is
solved at the first deciding evaluation with a mean >= --threshold (steps_to_solve:
num_timesteps then), and learn() stops there (mid-rollout, before that rollout's update), or
at --max-steps unsolved. Evaluation episodes are seeded one after another from --eval-seed +
--eval-episodes up: each evaluation's episodes fresh, none of the final evaluation's.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Evaluate = Callable[[Any, int, int], list[float]]
"""A peer's greedy evaluation: evaluate(model, episodes, first_seed) -> the undiscounted
returns of `episodes` episodes, episode i reset with seed first_seed + i."""
Act = Callable[[Any, list[Any], list[dict]], Any]
"""A peer's greedy choice: act(idx, observations, infos) -> one action per episode still
running (an int array idx, their latest observations and infos, in idx order)."""


def add_peer_arguments(parser: argparse.ArgumentParser, *, max_steps: int, threshold: float,
                       threshold_help: str, evaluating: bool) -> None:
    """Adds the flags the peers share, in this order: --seed, --max-steps, --threshold (with
    the peer's default and meaning), the evaluations' flags if `evaluating` (--eval-every,
    --eval-every-episodes, --eval-confirm-episodes), --eval-episodes, --eval-seed, --threads,
    --returns, and --out if `evaluating` (a peer stopped by evaluations also writes a file)."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=max_steps)
    parser.add_argument("--threshold", type=float, default=threshold, help=threshold_help)
    if evaluating:
        parser.add_argument("--eval-every", type=int, default=10_000)
        parser.add_argument("--eval-every-episodes", type=int, default=10)
        parser.add_argument("--eval-confirm-episodes", type=int, default=100)
    parser.add_argument("--eval-episodes", type=int, default=100,
                        help="greedy episodes of the final evaluation" if evaluating else None)
    parser.add_argument("--eval-seed", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--returns", action="store_true",
                        help="also report the final greedy episodes' returns (eval_returns)"
                        if evaluating else "also print the greedy episodes' returns (eval_returns)")
    if evaluating:
        parser.add_argument("--out", type=Path, default=None,
                            help="write the JSON here instead of stdout")


def set_threads(threads: int) -> None:
    """torch.set_num_threads(threads); 0 (or less) keeps torch's default."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)


def ended_returns(infos: list[dict]) -> list[float]:
    """The raw returns of the episodes that ended in a vec-env step, in env order: the records
    SB3's Monitor puts in their infos (read there because SB3 calls a callback before it
    updates model.ep_info_buffer)."""
    return [float(info["episode"]["r"]) for info in infos if "episode" in info]


def learn_timed(model: Any, max_steps: int, callback: Any) -> float:
    """model.learn(total_timesteps=max_steps, callback=callback); its time.perf_counter()
    seconds, and nothing else's (building the model and the envs are outside it)."""
    start = time.perf_counter()
    model.learn(total_timesteps=max_steps, callback=callback)
    return time.perf_counter() - start


def play_greedy(env_id: str, episodes: int, first_seed: int, act: Act) -> list[float]:
    """The undiscounted returns of `episodes` episodes of `env_id`, episode i its own env reset
    with seed first_seed + i, all stepped together with the actions of `act` until each ends
    (terminated or truncated)."""
    import gymnasium as gym
    import numpy as np

    if episodes <= 0:
        return []
    envs = [gym.make(env_id) for _ in range(episodes)]
    latest = [e.reset(seed=first_seed + i) for i, e in enumerate(envs)]  # (observation, info)
    returns = np.zeros(episodes)
    active = np.ones(episodes, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        actions = act(idx, [latest[i][0] for i in idx], [latest[i][1] for i in idx])
        for i, action in zip(idx, actions, strict=True):
            o, r, terminated, truncated, info = envs[i].step(action)
            latest[i] = (o, info)
            returns[i] += r
            if terminated or truncated:
                active[i] = False
    for e in envs:
        e.close()
    return returns.tolist()


def evaluating_stop(args: argparse.Namespace, evaluate: Evaluate) -> Any:
    """The callback of learn() for the stop by evaluations (see the module docstring): an
    EvaluatingStop reading the flags of `add_peer_arguments(..., evaluating=True)` and playing
    greedy episodes with `evaluate`. Its class is defined after the lazy SB3 import."""
    from stable_baselines3.common.callbacks import BaseCallback

    class EvaluatingStop(BaseCallback):
        """Greedy screens every `eval_every` steps, confirmed on fresh episodes; stops learn()
        when one decides the run is solved, or at max_steps.

        Keeps: window (the last 100 training episodes' raw returns), episodes (their count),
        rows (one per evaluation), eval_wall_s, steps_to_solve (None if unsolved),
        steps_at_stop."""

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
            ended = ended_returns(self.locals["infos"])
            self.window.extend(ended)
            self.episodes += len(ended)
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
            returns = evaluate(self.model, episodes, self.next_seed)
            self.next_seed += episodes
            mean = float(sum(returns) / len(returns))
            self.rows.append({"env_steps": self.num_timesteps, "kind": kind,
                              "episodes": episodes, "mean_return": round(mean, 3),
                              "wall_s": round(time.perf_counter() - start, 4)})
            return mean

    return EvaluatingStop()


def evaluated_run_fields(model: Any, stop: Any, total_wall_s: float) -> dict:
    """The result fields of a run that an EvaluatingStop ended, "solved" to
    "best_eval_mean_return"; train_wall_s is total_wall_s (learn()'s) less the evaluations'."""
    train_wall_s = total_wall_s - stop.eval_wall_s
    return {
        "solved": stop.steps_to_solve is not None, "steps_to_solve": stop.steps_to_solve,
        "env_steps": int(stop.steps_at_stop or model.num_timesteps),
        "train_wall_s": round(train_wall_s, 3), "total_wall_s": round(total_wall_s, 3),
        "eval_wall_s": round(stop.eval_wall_s, 3),
        **training_fields(model, stop, train_wall_s),
        "evaluations": stop.rows,
        "best_eval_mean_return": max((r["mean_return"] for r in stop.rows), default=None),
    }


def training_fields(model: Any, stop: Any, train_wall_s: float) -> dict:
    """steps_per_s, updates (rollouts trained on), train_episodes and
    train_last100_mean_return, from the model and a stop callback's `window` and `episodes`."""
    import numpy as np

    return {
        "steps_per_s": round(model.num_timesteps / train_wall_s, 1),
        "updates": model._n_updates // model.n_epochs,
        "train_episodes": stop.episodes,
        "train_last100_mean_return": (round(float(np.mean(stop.window)), 3)
                                      if stop.window else None),
    }


def evaluation_settings(args: argparse.Namespace) -> dict:
    """The stop by evaluations' settings (the flags of `add_peer_arguments(...,
    evaluating=True)`) and torch's thread count, for a result's "settings"."""
    import torch

    return {
        "threshold": args.threshold, "max_steps": args.max_steps,
        "eval_every": args.eval_every, "eval_every_episodes": args.eval_every_episodes,
        "eval_confirm_episodes": args.eval_confirm_episodes,
        "torch_threads": torch.get_num_threads(),
    }


def final_evaluation_fields(returns: list[float], eval_seed: int) -> dict:
    """The final greedy evaluation's fields: mean and population std of the undiscounted
    returns (None without episodes), their count, and the first episode's seed."""
    import numpy as np

    return {
        "eval_mean_return": round(float(np.mean(returns)), 3) if returns else None,
        "eval_std_return": round(float(np.std(returns)), 3) if returns else None,
        "eval_episodes": len(returns), "eval_seed": eval_seed,
    }


def versions(*, contrib: bool) -> dict[str, str]:
    """The versions of SB3, sb3-contrib (if `contrib`), torch and gymnasium."""
    import gymnasium as gym
    import stable_baselines3
    import torch

    found = {"sb3": stable_baselines3.__version__}
    if contrib:
        import sb3_contrib

        found["sb3_contrib"] = sb3_contrib.__version__
    return {**found, "torch": torch.__version__, "gymnasium": gym.__version__}


def write_result(result: dict, returns: list[float], *, with_returns: bool,
                 out: Path | None = None) -> None:
    """The result as ONE JSON line, with the final returns as "eval_returns" if
    `with_returns`: written to `out`, or printed on stdout (and nothing else is)."""
    if with_returns:
        result["eval_returns"] = returns
    text = json.dumps(result)
    if out is not None:
        out.write_text(text + "\n")
    else:
        print(text, flush=True)
