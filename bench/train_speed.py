"""Benchmark: keras_pg's trainer beside the article's loop in Keras, in one run.

    python bench/train_speed.py [--seeds 0,1,2,3,4] [--graph-seeds 0,...,9] [--baseline-s S]

(a) keras_pg with its defaults on CartPole-v1 (gymnasium backend), one subprocess per seed:
    time to solve (training wall time as the trainer measures it: TensorFlow import
    excluded, tracing and compilation included), env steps/s, the greedy 100-episode
    evaluation, peak RSS.
(b) the seed-faithful baseline (bench/seed_baseline.py) for the same wall budget: the total
    training time of (a), so both loops get the same seconds.
(c) `--backend graph` (CartPole in TensorFlow ops, one compiled function per iteration):
    time to solve with and without the first iteration (tracing and compilation), env
    steps/s after it; plus Acrobot-v1 with the Acrobot-v1-graph preset.
Writes bench/results/train_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_trainer(seed: int, extra: list[str]) -> dict:
    """One `python -m keras_pg train` in a subprocess: its summary plus peak RSS in MB."""
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "keras_pg", "train", "--quiet", "--seed", str(seed),
             "--run-dir", tmp, *extra], cwd=ROOT, stdout=log, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            log.seek(0)
            raise RuntimeError(f"seed {seed} failed:\n{log.read().decode()[-2000:]}")
        summary = json.loads((Path(tmp) / "summary.json").read_text())
    summary["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux reports KiB
    return summary


THRESHOLDS = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0}  # the envs' reward_threshold


def graph_backend(seeds: list[int]) -> dict:
    """(c): the graph backend on CartPole-v1 (defaults) and Acrobot-v1 (its preset)."""
    result = {}
    for name, flags in (("CartPole-v1", ["--preset", "CartPole-v1-graph"]),
                        ("Acrobot-v1", ["--preset", "Acrobot-v1-graph"])):
        runs = [run_trainer(seed, flags) for seed in seeds]
        total = np.array([r["train_wall_s"] for r in runs])
        first = np.array([r["first_iteration_s"] for r in runs])
        after = np.array([r["env_steps"] for r in runs]) / np.maximum(total - first, 1e-9)
        result[name] = {
            "seeds": seeds, "flags": flags,
            "solved": int(sum(r["solved"] and r["eval_solved"] for r in runs)),
            "eval_at_env_threshold": int(sum(
                r["eval_mean_return"] >= THRESHOLDS[name] for r in runs)),
            "eval_mean_return": [r["eval_mean_return"] for r in runs],
            "train_wall_s": [r["train_wall_s"] for r in runs],
            "time_to_solve_median_s": round(float(np.median(total)), 2),
            "time_to_solve_max_s": round(float(total.max()), 2),
            "first_iteration_median_s": round(float(np.median(first)), 2),
            "time_to_solve_without_first_median_s": round(float(np.median(total - first)), 2),
            "steps_per_s_after_first_median": round(float(np.median(after)), 1),
            "env_steps": [r["env_steps"] for r in runs],
        }
        r = result[name]
        print(f"graph {name}: solved {r['solved']}/{len(seeds)}, median "
              f"{r['time_to_solve_median_s']} s (first iteration {r['first_iteration_median_s']}"
              f" s, after it {r['time_to_solve_without_first_median_s']} s), "
              f"{r['steps_per_s_after_first_median']:,.0f} steps/s", flush=True)
    return result


def machine() -> dict:
    return {"cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "processor": _cpu_model()}


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if "model name" in line)
    except (OSError, StopIteration):
        return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--baseline-s", type=float, default=None,
                        help="wall budget of the seed-faithful baseline (default: the total "
                             "training time of the keras_pg runs, the same budget)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/train_speed.json")
    parser.add_argument("train_flags", nargs="*", help="extra flags for keras_pg train")
    parser.add_argument("--graph-seeds", default="0,1,2,3,4,5,6,7,8,9")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    graph = graph_backend([int(s) for s in args.graph_seeds.split(",")])

    runs = []
    for seed in seeds:
        r = run_trainer(seed, args.train_flags)
        runs.append(r)
        print(f"keras_pg seed {seed}: solved={r['solved']} in {r['train_wall_s']:.2f} s, "
              f"{r['env_steps']:,} steps, {r['steps_per_s']:,.0f} steps/s, "
              f"eval {r['eval_mean_return']:.1f}, peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)

    from bench.seed_baseline import run_seed_baseline

    budget = args.baseline_s or sum(r["train_wall_s"] for r in runs)
    start = time.perf_counter()
    baseline = run_seed_baseline("CartPole-v1", budget)
    print(f"seed-faithful baseline: {baseline['steps_per_s']:,.0f} steps/s over "
          f"{time.perf_counter() - start:.1f} s", flush=True)

    times = np.array([r["train_wall_s"] for r in runs])
    throughput = float(np.median([r["steps_per_s"] for r in runs]))
    result = {
        "benchmark": "train_speed", "env_id": "CartPole-v1", "machine": machine(),
        "date": time.strftime("%Y-%m-%d"), "train_flags": args.train_flags,
        "keras_pg": {
            "seeds": seeds,
            "solved": int(sum(r["solved"] and r["eval_mean_return"] >= 475 for r in runs)),
            "time_to_solve_median_s": round(float(np.median(times)), 2),
            "time_to_solve_max_s": round(float(times.max()), 2),
            "steps_per_s_median": round(throughput, 1),
            "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs),
            "runs": runs,
        },
        "seed_baseline": baseline,
        "graph_backend": graph,
        "throughput_ratio": round(throughput / baseline["steps_per_s"], 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    k = result["keras_pg"]
    print(f"solved {k['solved']}/{len(seeds)}; time to solve median "
          f"{k['time_to_solve_median_s']} s, max {k['time_to_solve_max_s']} s; "
          f"{k['steps_per_s_median']:,.0f} steps/s = "
          f"{result['throughput_ratio']}x the baseline; peak RSS {k['peak_rss_mb_max']} MB")


if __name__ == "__main__":
    main()
