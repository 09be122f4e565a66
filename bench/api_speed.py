"""Benchmark: CartPole-v1 trained through the Python API beside the command line, paired.

    python bench/api_speed.py [--seeds 0,1,2,3,4] [--repeats 2]

For each seed, `python -m keras_pg train` and a script calling `keras_pg.REINFORCE(...).learn()`
run in turn (A B A B ..., each in its own process, the same settings: the tuned CartPole-v1
preset, no export), so a drifting machine affects both alike. Reports, per interface, the
trainer's time to solve (TensorFlow's import excluded, tracing included) and the whole
process's wall time, their medians, and the API/CLI ratio of each pair (target: within 10%).
Writes bench/results/api_speed.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

API_SCRIPT = """
import sys
import keras_pg
agent = keras_pg.REINFORCE("CartPole-v1", seed=int(sys.argv[1]), run_dir=sys.argv[2])
agent.learn()
"""


def run(interface: str, seed: int) -> dict:
    """One training process; its summary plus the process's wall time in seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = str(Path(tmp) / "run")
        command = ([sys.executable, "-m", "keras_pg", "train", "--quiet",
                    "--seed", str(seed), "--run-dir", run_dir] if interface == "cli"
                   else [sys.executable, "-c", API_SCRIPT, str(seed), run_dir])
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{interface} seed {seed}: {proc.stderr[-2000:]}")
        summary = json.loads((Path(run_dir) / "summary.json").read_text())
    return {"seed": seed, "process_wall_s": round(wall, 3), **{
        k: summary[k] for k in ("solved", "env_steps", "train_wall_s", "steps_per_s",
                                "eval_mean_return")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--repeats", type=int, default=2, help="pairs per seed")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/api_speed.json")
    args = parser.parse_args()
    from bench.train_speed import machine

    pairs = []
    for repeat in range(args.repeats):
        for seed in (int(s) for s in args.seeds.split(",")):
            order = ("cli", "api") if (repeat + seed) % 2 == 0 else ("api", "cli")
            runs = {interface: run(interface, seed) for interface in order}
            assert runs["cli"]["env_steps"] == runs["api"]["env_steps"], runs  # same training
            pairs.append(runs)
            print(f"seed {seed}: cli {runs['cli']['train_wall_s']:.2f} s / "
                  f"{runs['cli']['process_wall_s']:.1f} s, api {runs['api']['train_wall_s']:.2f}"
                  f" s / {runs['api']['process_wall_s']:.1f} s", flush=True)

    def median(interface: str, key: str) -> float:
        return round(float(np.median([p[interface][key] for p in pairs])), 3)

    ratios = {key: [round(p["api"][key] / p["cli"][key], 3) for p in pairs]
              for key in ("train_wall_s", "process_wall_s")}
    result = {
        "benchmark": "api_speed", "machine": machine(), "date": time.strftime("%Y-%m-%d"),
        "env_id": "CartPole-v1", "pairs": pairs,
        "median": {i: {k: median(i, k) for k in ("train_wall_s", "process_wall_s",
                                                  "steps_per_s")} for i in ("cli", "api")},
        "api_over_cli": {key: {"median": round(float(np.median(r)), 3), "min": min(r),
                               "max": max(r)} for key, r in ratios.items()},
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for key, r in result["api_over_cli"].items():
        print(f"API/CLI {key}: median {r['median']}, range {r['min']}-{r['max']}")


if __name__ == "__main__":
    main()
