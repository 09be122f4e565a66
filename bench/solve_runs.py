"""Runs to a target return, stopped by greedy evaluations: keras_pg's command line and a peer
script side by side, per seed, summarized the same way (bench/recurrent_cartpole.py,
bench/masked_taxi.py).

A run trains until a greedy screen of `screen` episodes, every `every` env steps, reaches
the target and a confirmation on `confirm` fresh episodes holds it (the confirmation
decides), or until its budget. Reported per run: steps_to_solve (env steps at the deciding
evaluation; null if unsolved), train_wall_s (training seconds without the evaluations during
training), total_wall_s (with them: keras_pg's summary.json `train_wall_s`, which counts
them; a peer's time around its learn()), the evaluations during training and the best of
them, and eval_mean_return: the policy at the stop, greedy on `final` episodes with seeds
training never used.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class StopRule:
    """Evaluations during training that decide when a run is solved."""

    target: float
    every: int = 10_000
    screen: int = 10
    confirm: int = 100
    final: int = 100

    def flags(self) -> list[str]:
        """The rule as keras_pg train's flags (and the peers' own, which take the same)."""
        return ["--eval-every", str(self.every), "--eval-every-episodes", str(self.screen),
                "--eval-confirm-episodes", str(self.confirm)]

    def text(self) -> str:
        return (f"greedy screens of {self.screen} episodes every {self.every:,} steps, "
                f"confirmed on {self.confirm} fresh ones when they reach {self.target:g}; the "
                f"confirmation decides")


def keras_pg_run(label: str, flags: list[str], seed: int, max_steps: int,
                 rule: StopRule) -> dict:
    """`python -m keras_pg train` with `flags`, the seed, the budget and the stop rule, in a
    temporary run dir; its summary and evals.csv, summarized."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "keras_pg", "train", "--quiet", "--no-tensorboard",
                   *flags, "--seed", str(seed), "--max-steps", str(max_steps),
                   "--target-return", str(rule.target), *rule.flags(),
                   "--eval-episodes", str(rule.final), "--run-dir", tmp]
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"keras_pg {label} seed {seed}: {proc.stderr[-2000:]}")
        summary = json.loads((Path(tmp) / "summary.json").read_text())
        with open(Path(tmp) / "evals.csv") as f:
            evals = list(csv.DictReader(f))
    rows = [{"env_steps": int(r["env_steps"]), "episodes": int(r["episodes"]),
             "mean_return": round(float(r["mean_return"]), 3), "wall_s": float(r["wall_s"])}
            for r in evals]
    eval_wall_s = sum(r["wall_s"] for r in rows)
    return {"seed": seed, "leg": label, "solved": summary["solved"],
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


def peer_run(label: str, script: str, seed: int, max_steps: int, rule: StopRule,
             python: str) -> dict:
    """bench/`script` on `seed` in the peer venv (`python`), with the same stop rule; the
    JSON line it prints."""
    proc = subprocess.run(
        [python, str(ROOT / "bench" / script), "--seed", str(seed), "--max-steps",
         str(max_steps), "--threshold", str(rule.target), *rule.flags(), "--eval-episodes",
         str(rule.final)], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{label} seed {seed}: {proc.stderr[-2000:]}")
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


def run_legs(runners: dict[str, Callable[[int], dict]], seeds: list[int],
             written: Callable[[dict[str, list[dict]]], None]) -> tuple[dict[str, list[dict]], int]:
    """Per seed, every leg one after another, their order reversed on every other seed;
    `written(runs so far)` after each run. Returns the runs per leg and how many failed (a
    failed run is kept as {"seed", "error"})."""
    runs: dict[str, list[dict]] = {leg: [] for leg in runners}
    failed = 0
    legs = list(runners)
    for i, seed in enumerate(seeds):
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
            written(runs)
    return runs, failed


@dataclass(frozen=True)
class Benchmark:
    """keras_pg's command line in some settings (legs) beside one peer script, to a target."""

    name: str
    """The results' "benchmark" and bench/results/NAME.json."""
    env: str
    rule: StopRule
    flags: dict[str, list[str]]
    """keras_pg's legs: their train flags (the env included)."""
    peer: str
    """The peer's leg."""
    peer_script: str
    """Its script in bench/, run in the peer venv."""
    target_leg: str
    """The leg the target is about: it must solve every seed."""
    target: str
    """The target, in words."""

    @property
    def legs(self) -> tuple[str, ...]:
        return (*self.flags, self.peer)


def main(bench: Benchmark, description: str) -> int:
    """The command line of a benchmark: --seeds, --max-steps, --legs, --peer-python, --out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--legs", default=",".join(bench.legs),
                        help=f"a subset of {','.join(bench.legs)}")
    parser.add_argument("--peer-python", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / f"bench/results/{bench.name}.json")
    args = parser.parse_args()
    if unknown := set(args.legs.split(",")) - set(bench.legs):
        parser.error(f"--legs: unknown {sorted(unknown)}; choose from {','.join(bench.legs)}")
    legs = [leg for leg in bench.legs if leg in args.legs.split(",")]
    from bench.peers import peer_python
    from bench.train_speed import machine

    python = peer_python(args.peer_python) if bench.peer in legs else ""
    runners: dict[str, Callable[[int], dict]] = {
        leg: (lambda s, leg=leg: keras_pg_run(leg, bench.flags[leg], s, args.max_steps,
                                              bench.rule)) for leg in bench.flags}
    runners[bench.peer] = lambda s: peer_run(bench.peer, bench.peer_script, s, args.max_steps,
                                             bench.rule, python)
    runs, failed = run_legs({leg: runners[leg] for leg in legs},
                            [int(s) for s in args.seeds.split(",")],
                            lambda runs: write(bench, args, runs, machine(), complete=False))
    result = write(bench, args, runs, machine(), complete=True)
    for leg in legs:
        print(f"{leg}: {result['legs'][leg]['median']}")
    if bench.target_leg in runs:
        print(f"target met: {result['target_met']}")
    return 1 if failed else 0


def write(bench: Benchmark, args: argparse.Namespace, runs: dict[str, list[dict]],
          host: dict, complete: bool) -> dict:
    """The results so far, written to args.out; returned."""
    legs: dict[str, dict] = {}
    for leg, done in runs.items():
        legs[leg] = {"runs": done, "median": medians(done)}
        if leg == bench.peer and any("settings" in r for r in done):
            first = next(r for r in done if "settings" in r)
            legs[leg].update(settings=first["settings"], versions=first["versions"])
        elif leg != bench.peer:
            legs[leg]["command"] = (f"python -m keras_pg train {' '.join(bench.flags[leg])} "
                                    f"--seed S --max-steps {args.max_steps} --target-return "
                                    f"{bench.rule.target:g} {' '.join(bench.rule.flags())}")
    target_runs = runs.get(bench.target_leg, [])
    result = {
        "benchmark": bench.name, "complete": complete, "machine": host,
        "date": time.strftime("%Y-%m-%d"), "env": bench.env, "max_steps": args.max_steps,
        "seeds": [int(s) for s in args.seeds.split(",")], "target_return": bench.rule.target,
        "stop_rule": bench.rule.text(), "legs": legs, "target": bench.target,
        "target_met": (bool(target_runs) and all(r.get("steps_to_solve") is not None
                                                 for r in target_runs)
                       if bench.target_leg in runs else None),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result
