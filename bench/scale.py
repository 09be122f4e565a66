"""Benchmark: rollouts that scale -- the sync gymnasium backend, its async vector env, and
the Ray backend with 1, 2, 4 and 8 workers, on an env that costs 2 ms a step.

    python bench/scale.py [--steps 6000] [--workers 1,2,4,8]

(a) bench.slow_env:SlowCartPole-v1 (CartPole-v1 plus 2 ms of waiting per step, standing for a
    remote simulator), 32 episodes per update, the same budget for every configuration: env
    steps per second after the first round (which includes starting the actors or
    subprocesses), and the peak memory of the whole process tree (the trainer, Ray's
    processes and actors, or the async env's subprocesses). Scaling efficiency at 4 workers
    = steps/s(4) / (4 x steps/s(1)); target >= 0.85.
(b) the cheap case: CartPole-v1 (its tuned preset) on Ray with 2 workers against the
    gymnasium backend, time to solve as a ratio.
Each configuration runs in its own process. Writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SLOW = ["--env", "bench.slow_env:SlowCartPole-v1", "--preset", "none", "--num-envs", "32",
        "--episodes-per-update", "32", "--target-return", "1e9", "--eval-episodes", "1",
        "--no-tensorboard"]


def tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and all its descendants, MB (from /proc)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        children = [p for p, ppid in parents.items() if ppid in frontier and p not in tree]
        tree.update(children)
        frontier = children
    total = 0
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines()
                                 if line.startswith("VmRSS")))
        except (OSError, StopIteration):
            continue
    return total / 1024


def train(flags: list[str]) -> dict:
    """One `python -m keras_pg train` run: its summary, steps/s after the first round, and
    the peak memory of its process tree."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
        proc = subprocess.Popen([sys.executable, "-m", "keras_pg", "train", "--quiet",
                                 "--run-dir", tmp, *flags], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, tree_rss_mb(proc.pid))
            time.sleep(0.2)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        summary = json.loads((Path(tmp) / "summary.json").read_text())
        updates = (Path(tmp) / "updates.csv").read_text().splitlines()[1:]
    first, last = updates[0].split(","), updates[-1].split(",")
    after_first = (int(last[2]) - int(first[2])) / (float(last[-1]) - float(first[-1]))
    return {"env_steps": summary["env_steps"], "train_wall_s": summary["train_wall_s"],
            "steps_per_s": summary["steps_per_s"], "steps_per_s_after_first": round(after_first, 1),
            "solved": summary["solved"], "peak_rss_mb": round(peak, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/scale.json")
    args = parser.parse_args()
    from bench.train_speed import machine

    budget = ["--max-steps", str(args.steps)]
    configs = {"sync (32 envs)": [*SLOW, *budget],
               "async (32 envs, one subprocess each)": [*SLOW, *budget, "--vector-mode", "async"]}
    for n in (int(w) for w in args.workers.split(",")):
        configs[f"ray, {n} workers"] = [*SLOW, *budget, "--backend", "ray", "--num-workers",
                                        str(n)]
    slow = {}
    for name, flags in configs.items():
        slow[name] = train(flags)
        print(f"{name}: {slow[name]['steps_per_s_after_first']:,.0f} steps/s after the first "
              f"round, peak {slow[name]['peak_rss_mb']:,.0f} MB", flush=True)
    one, four = slow.get("ray, 1 workers"), slow.get("ray, 4 workers")
    efficiency = (four["steps_per_s_after_first"] / (4 * one["steps_per_s_after_first"])
                  if one and four else None)
    cheap = {"gym": train(["--seed", "0"]),
             "ray, 2 workers": train(["--seed", "0", "--backend", "ray", "--num-workers", "2"])}
    ratio = cheap["ray, 2 workers"]["train_wall_s"] / cheap["gym"]["train_wall_s"]
    print(f"scaling efficiency at 4 workers: {efficiency:.2f}; CartPole on Ray (2 workers) "
          f"takes {ratio:.1f}x the gymnasium backend's time to solve", flush=True)
    args.out.write_text(json.dumps({
        "benchmark": "scale", "machine": machine(), "date": time.strftime("%Y-%m-%d"),
        "step_cost_s": 0.002, "slow_env": slow, "scaling_efficiency_4_workers":
        round(efficiency, 3) if efficiency else None, "cheap_cartpole": cheap,
        "ray_over_gym_time_to_solve": round(ratio, 2)}, indent=2) + "\n")


if __name__ == "__main__":
    main()
