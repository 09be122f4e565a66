"""Benchmark: CartPole without its velocities (CartPoleNoVel-v1), keras_pg's GRU policy beside
its MLP and sb3-contrib's RecurrentPPO (issue #25).

    python bench/recurrent_cartpole.py [--seeds 0,1,2] [--max-steps 1000000]
        [--legs gru,mlp,recurrent_ppo] [--peer-python PY] [--out bench/results/recurrent.json]

The env is keras_pg/envs/partial.py's CartPoleNoVel-v1: CartPole-v1 observing only the cart
position and the pole angle, so that velocities must be inferred from successive observations
(500-step episodes, solved at 475). Per seed, in the same run, the legs one after another,
their order reversed on every other seed (as bench/minigrid_sb3.py alternates):
- gru: `python -m keras_pg train --env keras_pg.envs.partial:CartPoleNoVel-v1 --network gru
  --seed S --max-steps 1000000 --target-return 475 --eval-every 10000 --eval-every-episodes
  10 --eval-confirm-episodes 100` (plus --eval-episodes 100, and --quiet --no-tensorboard,
  which change nothing in training) in a temporary run dir: keras_pg's generic defaults with
  a GRU cell, and a stop rule: a greedy screen of 10 episodes every 10k steps, confirmed on 100
  fresh ones when it reaches 475; the confirmation decides.
- mlp: the same command with `--network mlp`: a feed-forward policy, one observation at a
  time; expected to run the whole budget unsolved. Its best greedy evaluation is reported.
- recurrent_ppo: bench/recurrent_sb3.py in the peer venv (bench/peers.py finds its python):
  sb3-contrib's RecurrentPPO with rl-zoo3's ppo_lstm settings for CartPoleNoVel-v1, on the
  same env file, with the same stop rule and budget (see there).
Reported per run: steps_to_solve (env steps at the deciding evaluation; null if unsolved),
train_wall_s (training seconds without the evaluations during training), total_wall_s (with
them: keras_pg's summary.json `train_wall_s`, which counts them; the peer's time around
learn()), the evaluations during training and the best of them, and eval_mean_return: the
policy at the stop, greedy on 100 episodes with seeds training never used (keras_pg's own
evaluation after training; the peer's, seeded 10000 + i). Writes --out (default
bench/results/recurrent.json) after every run, "complete": false until the last.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENV = "keras_pg.envs.partial:CartPoleNoVel-v1"
LEGS = ("gru", "mlp", "recurrent_ppo")
TARGET = 475.0
EVAL_EVERY, SCREEN_EPISODES, CONFIRM_EPISODES, EVAL_EPISODES = 10_000, 10, 100, 100
STOP_RULE = ["--eval-every", str(EVAL_EVERY), "--eval-every-episodes", str(SCREEN_EPISODES),
             "--eval-confirm-episodes", str(CONFIRM_EPISODES)]


def keras_pg_run(network: str, seed: int, max_steps: int) -> dict:
    """`keras_pg train` with `network` and the stop rule; its summary and evals.csv."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "keras_pg", "train", "--quiet", "--no-tensorboard",
                   "--env", ENV, "--network", network, "--seed", str(seed),
                   "--max-steps", str(max_steps), "--target-return", str(TARGET), *STOP_RULE,
                   "--eval-episodes", str(EVAL_EPISODES), "--run-dir", tmp]
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"keras_pg {network} seed {seed}: {proc.stderr[-2000:]}")
        summary = json.loads((Path(tmp) / "summary.json").read_text())
        with open(Path(tmp) / "evals.csv") as f:
            evals = list(csv.DictReader(f))
    rows = [{"env_steps": int(r["env_steps"]), "episodes": int(r["episodes"]),
             "mean_return": round(float(r["mean_return"]), 3), "wall_s": float(r["wall_s"])}
            for r in evals]
    eval_wall_s = sum(r["wall_s"] for r in rows)
    return {"seed": seed, "network": network, "solved": summary["solved"],
            "steps_to_solve": summary["env_steps"] if summary["solved"] else None,
            "env_steps": summary["env_steps"],
            "train_wall_s": round(summary["train_wall_s"] - eval_wall_s, 3),
            "total_wall_s": summary["train_wall_s"], "eval_wall_s": round(eval_wall_s, 3),
            "steps_per_s": round(summary["env_steps"]
                                 / max(summary["train_wall_s"] - eval_wall_s, 1e-9), 1),
            "evaluations": rows, "best_eval": best(rows),
            "eval_mean_return": round(summary["eval_mean_return"], 3),
            "eval_std_return": round(summary["eval_std_return"], 3),
            "eval_episodes": summary["eval_episodes"], "actor": summary.get("actor")}


def peer_run(seed: int, max_steps: int, python: str) -> dict:
    """bench/recurrent_sb3.py on `seed` in the peer venv, with the same stop rule."""
    proc = subprocess.run(
        [python, str(ROOT / "bench" / "recurrent_sb3.py"), "--seed", str(seed),
         "--max-steps", str(max_steps), "--threshold", str(TARGET), *STOP_RULE,
         "--eval-episodes", str(EVAL_EPISODES)],
        cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"recurrent_ppo seed {seed}: {proc.stderr[-2000:]}")
    out: dict = json.loads(proc.stdout.strip().splitlines()[-1])
    out["best_eval"] = best(out["evaluations"])
    return out


def best(rows: list[dict]) -> dict | None:
    """The evaluation during training with the highest mean return (None: there was none)."""
    return max(rows, key=lambda r: r["mean_return"], default=None)


def medians(runs: list[dict]) -> dict:
    """Per leg: how many solved, and medians (steps_to_solve over the solved runs only)."""
    done = [r for r in runs if "error" not in r]
    solved = [r["steps_to_solve"] for r in done if r["steps_to_solve"] is not None]

    def median(values: list) -> float | None:
        return round(float(np.median(values)), 3) if values else None

    return {"runs": len(done), "solved": len(solved), "steps_to_solve": median(solved),
            "train_wall_s": median([r["train_wall_s"] for r in done]),
            "total_wall_s": median([r["total_wall_s"] for r in done]),
            "eval_mean_return": median([r["eval_mean_return"] for r in done]),
            "best_eval_mean_return": median([r["best_eval"]["mean_return"] for r in done
                                             if r["best_eval"]])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--legs", default=",".join(LEGS),
                        help=f"a subset of {','.join(LEGS)}")
    parser.add_argument("--peer-python", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/recurrent.json")
    args = parser.parse_args()
    if unknown := set(args.legs.split(",")) - set(LEGS):
        parser.error(f"--legs: unknown {sorted(unknown)}; choose from {','.join(LEGS)}")
    legs = [leg for leg in LEGS if leg in args.legs.split(",")]
    from bench.peers import peer_python
    from bench.train_speed import machine

    python = peer_python(args.peer_python) if "recurrent_ppo" in legs else ""
    runners = {"gru": lambda s: keras_pg_run("gru", s, args.max_steps),
               "mlp": lambda s: keras_pg_run("mlp", s, args.max_steps),
               "recurrent_ppo": lambda s: peer_run(s, args.max_steps, python)}
    runs: dict[str, list[dict]] = {leg: [] for leg in legs}
    failed = 0
    for i, seed in enumerate(int(s) for s in args.seeds.split(",")):
        for leg in legs if i % 2 == 0 else legs[::-1]:
            try:
                result = runners[leg](seed)
            except RuntimeError as e:
                failed += 1
                runs[leg].append({"seed": seed, "error": str(e)})
                print(f"{leg} seed {seed}: FAILED: {e}", flush=True)
                continue
            runs[leg].append(result)
            print(f"{leg} seed {seed}: steps to solve {result['steps_to_solve']}, "
                  f"{result['env_steps']:,} steps, {result['train_wall_s']:.1f} s training "
                  f"({result['total_wall_s']:.1f} s with evaluations), best greedy "
                  f"{(result['best_eval'] or {}).get('mean_return')}, final greedy "
                  f"{result['eval_mean_return']}", flush=True)
            write(args, runs, machine(), complete=False)
    result = write(args, runs, machine(), complete=True)
    for leg in legs:
        print(f"{leg}: {result['legs'][leg]['median']}")
    if "gru" in runs:
        print(f"target met: {result['target_met']}")
    return 1 if failed else 0


def write(args: argparse.Namespace, runs: dict[str, list[dict]], host: dict,
          complete: bool) -> dict:
    """The results so far, written to args.out; returned."""
    legs: dict[str, dict] = {}
    for leg, done in runs.items():
        legs[leg] = {"runs": done, "median": medians(done)}
        if leg == "recurrent_ppo" and any("settings" in r for r in done):
            first = next(r for r in done if "settings" in r)
            legs[leg].update(settings=first["settings"], versions=first["versions"])
        elif leg != "recurrent_ppo":
            legs[leg]["command"] = (f"python -m keras_pg train --env {ENV} --network {leg} "
                                    f"--seed S --max-steps {args.max_steps} --target-return "
                                    f"{TARGET:g} {' '.join(STOP_RULE)}")
    gru = runs.get("gru", [])
    result = {
        "benchmark": "recurrent", "complete": complete, "machine": host,
        "date": time.strftime("%Y-%m-%d"), "env": ENV, "max_steps": args.max_steps,
        "seeds": [int(s) for s in args.seeds.split(",")], "target_return": TARGET,
        "stop_rule": f"greedy screens of {SCREEN_EPISODES} episodes every {EVAL_EVERY:,} "
                     f"steps, confirmed on {CONFIRM_EPISODES} fresh ones when they reach "
                     f"{TARGET:g}; the confirmation decides",
        "legs": legs,
        "target": "keras_pg's GRU policy solves (a confirmed greedy mean >= 475) on every seed "
                  "within max_steps",
        "target_met": (bool(gru) and all(r.get("steps_to_solve") is not None for r in gru)
                       if "gru" in runs else None),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    sys.exit(main())
