"""Benchmark: what TensorBoard logging costs -- CartPole-v1 time to solve with and without
it, paired in one run.

    python bench/tensorboard_cost.py [--seeds 0,1,2,3,4] [--repeats 2]

For each seed, `python -m keras_pg train` (the CartPole-v1 preset, no export) with and without
`--no-tensorboard`, in turn (the order alternating), each in its own process. Both runs train
identically (the same env steps, checked); the trainer's time to solve includes writing the
events (flushed after every update). Writes bench/results/tensorboard_cost.json.
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


def run(seed: int, tensorboard: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        flags = [] if tensorboard else ["--no-tensorboard"]
        proc = subprocess.run([sys.executable, "-m", "keras_pg", "train", "--quiet",
                               "--seed", str(seed), "--run-dir", tmp, *flags],
                              cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        summary = json.loads((Path(tmp) / "summary.json").read_text())
        events = sum(p.stat().st_size for p in (Path(tmp) / "tb").glob("*")) if tensorboard \
            else 0
    return {"seed": seed, "env_steps": summary["env_steps"], "updates": summary["updates"],
            "train_wall_s": summary["train_wall_s"], "event_bytes": events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/tensorboard_cost.json")
    args = parser.parse_args()
    from bench.train_speed import machine

    pairs = []
    for repeat in range(args.repeats):
        for seed in (int(s) for s in args.seeds.split(",")):
            order = (True, False) if (seed + repeat) % 2 == 0 else (False, True)
            runs = {on: run(seed, on) for on in order}
            assert runs[True]["env_steps"] == runs[False]["env_steps"]  # the same training
            pairs.append({"with": runs[True], "without": runs[False]})
            print(f"seed {seed}: {runs[True]['train_wall_s']:.2f} s with, "
                  f"{runs[False]['train_wall_s']:.2f} s without", flush=True)
    ratios = [p["with"]["train_wall_s"] / p["without"]["train_wall_s"] for p in pairs]
    result = {
        "benchmark": "tensorboard_cost", "machine": machine(), "date": time.strftime("%Y-%m-%d"),
        "pairs": pairs,
        "median_train_wall_s": {
            side: round(float(np.median([p[side]["train_wall_s"] for p in pairs])), 3)
            for side in ("with", "without")},
        "with_over_without": {"median": round(float(np.median(ratios)), 3),
                              "min": round(min(ratios), 3), "max": round(max(ratios), 3)},
        "event_bytes_median": int(np.median([p["with"]["event_bytes"] for p in pairs])),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"time to solve, median: {result['median_train_wall_s']['with']} s with TensorBoard, "
          f"{result['median_train_wall_s']['without']} s without; ratio "
          f"{result['with_over_without']['median']}")


if __name__ == "__main__":
    main()
