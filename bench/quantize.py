"""Benchmark: the int8 model (`python -m export RUN --quantize int8`) beside the float32 one.

    python bench/quantize.py [--lunar-steps 300000] [--image-steps 20000] [--calls 3000]

Three policies, each trained here in a subprocess: CartPole-v1 (its preset, trained to the
solve criterion), LunarLander-v3 (its preset, a bounded step budget) and the image policy
(tests/image_envs.py SquareSideEnv, 84x84x1 uint8 frames, the default CNN, a short training).
For each, side by side in the same process: file size; `serve.OnnxPolicy.act` latency on one
observation (1 onnxruntime thread; float and int8 calls interleaved, so that the machine's
noise falls on both alike), p50/p99; batched throughput (`act` on 256 observations,
interleaved too); and, from the int8 export's report, the quantization method, greedy
agreement with the float model and max |Δprobs| on the verification observations. Target:
agreement >= 99% on each. Writes bench/results/quantize.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRAIN_IMAGE = """
import sys
import export
import keras_pg
from tests.image_envs import SquareSideEnv
agent = keras_pg.REINFORCE(SquareSideEnv, preset="none", run_dir=sys.argv[1], seed=0,
                           num_envs=16, episodes_per_update=16, max_episode_steps=10,
                           max_steps=int(sys.argv[2]), eval_episodes=0, target_return=1e9)
agent.learn()
export.to_onnx(agent)
"""
BATCH = 256


def run(*args: str) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return proc.stdout


def train(name: str, run_dir: Path, lunar_steps: int, image_steps: int) -> float:
    """Train (the float policy.onnx is exported at the end); returns the wall seconds."""
    start = time.perf_counter()
    if name == "CartPole-v1":
        run("-m", "keras_pg", "train", "--env", name, "--run-dir", str(run_dir), "--quiet")
    elif name == "LunarLander-v3":
        run("-m", "keras_pg", "train", "--env", name, "--run-dir", str(run_dir), "--quiet",
            "--max-steps", str(lunar_steps))
    else:
        run("-c", TRAIN_IMAGE, str(run_dir), str(image_steps))
    return round(time.perf_counter() - start, 1)


def interleaved_us(calls: dict[str, Callable[[], object]], count: int, warmup: int = 200) -> dict:
    """p50/p99 in microseconds of each call, the calls alternating A, B, A, B, ..."""
    for fn in calls.values():
        for _ in range(warmup):
            fn()
    times = {name: np.empty(count) for name in calls}
    for i in range(count):
        for name, fn in calls.items():
            start = time.perf_counter_ns()
            fn()
            times[name][i] = time.perf_counter_ns() - start
    return {name: {"p50_us": round(float(np.percentile(t, 50)) / 1000, 1),
                   "p99_us": round(float(np.percentile(t, 99)) / 1000, 1)}
            for name, t in times.items()}


def compare(run_dir: Path, calls: int) -> dict:
    from serve import OnnxPolicy

    paths = {"float32": run_dir / "policy.onnx", "int8": run_dir / "policy.int8.onnx"}
    policies = {name: OnnxPolicy(path, intra_op_threads=1) for name, path in paths.items()}
    observations = np.load(run_dir / "observations.npy")
    one, batch = observations[0], np.resize(observations, (BATCH, *observations.shape[1:]))
    latency = interleaved_us({n: (lambda p=p: p.act(one)) for n, p in policies.items()}, calls)
    rounds = max(10, calls // 100)
    batched = interleaved_us({n: (lambda p=p: p.act(batch)) for n, p in policies.items()},
                             rounds, warmup=3)
    report = json.loads((run_dir / "export_report.int8.json").read_text())
    return {
        "method": report["quantization"]["method"],
        "greedy_agreement": report["quantization"]["action_agreement"],
        "max_abs_diff": report["quantization"]["max_abs_diff"],
        "verification_observations": report["observations"],
        **{name: {"file_bytes": path.stat().st_size,
                  "act_one_observation": latency[name],
                  f"batch_{BATCH}_obs_per_s": round(BATCH / batched[name]["p50_us"] * 1e6)}
           for name, path in paths.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lunar-steps", type=int, default=300_000)
    parser.add_argument("--image-steps", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/quantize.json")
    args = parser.parse_args()
    from bench.train_speed import machine

    results = {"benchmark": "quantize", "machine": machine(), "date": time.strftime("%Y-%m-%d"),
               "onnxruntime_threads": 1, "policies": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("CartPole-v1", "LunarLander-v3", "SquareSide-84x84x1"):
            run_dir = Path(tmp) / name
            train_s = train(name, run_dir, args.lunar_steps, args.image_steps)
            start = time.perf_counter()
            line = run("-m", "export", str(run_dir), "--quantize", "int8").strip()
            export_s = round(time.perf_counter() - start, 1)
            summary = json.loads((run_dir / "summary.json").read_text())
            r = results["policies"][name] = {
                "env_steps": summary["env_steps"], "train_wall_s": train_s,
                "final_mean_return": summary.get("final_mean_return"),
                "int8_export_wall_s": export_s, "export_output": line.splitlines(),
                **compare(run_dir, args.calls)}
            print(f"{name}: {r['method']}, agreement {r['greedy_agreement']:.2%}, max |Δ| "
                  f"{max(r['max_abs_diff'].values()):.1e}; bytes {r['float32']['file_bytes']:,}"
                  f" -> {r['int8']['file_bytes']:,}; act p50 "
                  f"{r['float32']['act_one_observation']['p50_us']} -> "
                  f"{r['int8']['act_one_observation']['p50_us']} µs; batch {BATCH} "
                  f"{r['float32'][f'batch_{BATCH}_obs_per_s']:,} -> "
                  f"{r['int8'][f'batch_{BATCH}_obs_per_s']:,} obs/s", flush=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
