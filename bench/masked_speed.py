"""Benchmark: what invalid-action masks cost, in training throughput and in `act` (issue #27).

    python bench/masked_speed.py [--steps 200000] [--pairs 3] [--calls 20000]
        [--out bench/results/masked_speed.json]

Training: `python -m keras_pg train --env Taxi-v4 --seed 0 --max-steps STEPS` (Taxi's tuned
preset, no evaluations) twice per pair, in alternating order: with masks, given by
`--action-mask-fn bench.masked_speed:all_legal` (every action legal: the masks are read,
checked, carried in the batch, applied by the actor and the update, yet change nothing), and
with `--no-action-masks`. Both runs therefore make the same episodes, actions and updates --
the script checks that their metrics are identical -- and the difference of their training
seconds (summary.json train_wall_s) is what masking costs. Reported: each pair's seconds and
env steps per second, and the median ratio masked / unmasked (target: <= 1.10).

act: a Taxi policy trained with its masks and exported (export.to_onnx), then
`serve.OnnxPolicy.act` on one observation at a time, the same observations, with a mask (the
env's, recorded) and without (the runtime feeds all legal): `calls` calls each, interleaved
in blocks, p50 and p90 per call. Target: with <= 1.2x without.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENV = "Taxi-v4"
MASKED = ["--action-mask-fn", "bench.masked_speed:all_legal"]
UNMASKED = ["--no-action-masks"]


def all_legal(env: gym.Env) -> np.ndarray:
    """An action_mask_fn that allows every action of a Discrete env (one array, made once:
    what the benchmark measures is keras_pg's work, not a user function's)."""
    return _ones(int(env.action_space.n))  # type: ignore[attr-defined]


@functools.cache
def _ones(size: int) -> np.ndarray:
    return np.ones(size, bool)


def train(flags: list[str], steps: int) -> dict:
    """One training run; its summary and metrics.csv rows (without the wall seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "keras_pg", "train", "--quiet", "--no-tensorboard",
                   "--env", ENV, "--seed", "0", "--max-steps", str(steps), "--eval-episodes",
                   "0", "--eval-every", "0", "--eval-confirm-episodes", "0", *flags,
                   "--run-dir", tmp]
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        summary = json.loads((Path(tmp) / "summary.json").read_text())
        rows = [line.rsplit(",", 1)[0] for line in
                (Path(tmp) / "metrics.csv").read_text().splitlines()[1:]]
    return {"train_wall_s": summary["train_wall_s"], "env_steps": summary["env_steps"],
            "rows": rows}


def training_pairs(steps: int, pairs: int) -> dict:
    results = []
    for i in range(pairs):
        order = [("masked", MASKED), ("unmasked", UNMASKED)]
        runs = dict((label, train(flags, steps)) for label, flags in
                    (order if i % 2 == 0 else order[::-1]))
        if runs["masked"]["rows"] != runs["unmasked"]["rows"]:
            raise RuntimeError("the all-legal masked run made other episodes than the "
                               "unmasked one")
        pair = {label: {"train_wall_s": run["train_wall_s"], "env_steps": run["env_steps"],
                        "steps_per_s": round(run["env_steps"] / run["train_wall_s"], 1)}
                for label, run in runs.items()}
        pair["ratio"] = round(runs["masked"]["train_wall_s"]
                              / runs["unmasked"]["train_wall_s"], 4)
        results.append(pair)
        print(f"pair {i}: {pair}", flush=True)
    return {"pairs": results, "episodes_identical": True,
            "median_ratio": float(np.median([p["ratio"] for p in results]))}


def act_latency(calls: int) -> dict:
    """OnnxPolicy.act with and without a mask on the same observations, p50/p90 in µs."""
    import export
    import keras_pg
    import serve

    with tempfile.TemporaryDirectory() as tmp:
        agent = keras_pg.REINFORCE(ENV, seed=0, eval_episodes=0, max_steps=20_000)
        agent.learn()
        export.to_onnx(agent, Path(tmp) / "taxi.onnx")
        policy = serve.OnnxPolicy(Path(tmp) / "taxi.onnx")
        agent.close()
    env = gym.make(ENV)
    obs, info = env.reset(seed=0)
    recorded = []
    rng = np.random.default_rng(0)
    for _ in range(1000):
        recorded.append((obs, info["action_mask"]))
        obs, _, terminated, truncated, info = env.step(int(rng.integers(6)))
        if terminated or truncated:
            obs, info = env.reset()
    times: dict[str, list[float]] = {"with_mask": [], "without_mask": []}
    for block in range(calls // 1000):
        order = ["with_mask", "without_mask"] if block % 2 == 0 else ["without_mask",
                                                                      "with_mask"]
        for label in order:
            for obs, mask in recorded:
                start = time.perf_counter()
                if label == "with_mask":
                    policy.act(obs, action_mask=mask)
                else:
                    policy.act(obs)
                times[label].append(time.perf_counter() - start)
    stats = {label: {"p50_us": round(float(np.percentile(t, 50)) * 1e6, 2),
                     "p90_us": round(float(np.percentile(t, 90)) * 1e6, 2), "calls": len(t)}
             for label, t in times.items()}
    return {**stats, "ratio_p50": round(stats["with_mask"]["p50_us"]
                                        / stats["without_mask"]["p50_us"], 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/masked_speed.json")
    args = parser.parse_args()
    from bench.train_speed import machine

    training = training_pairs(args.steps, args.pairs)
    act = act_latency(args.calls)
    result = {
        "benchmark": "masked_speed", "machine": machine(), "date": time.strftime("%Y-%m-%d"),
        "env": ENV, "training": {**training, "steps": args.steps,
                                 "masked_flags": " ".join(MASKED),
                                 "unmasked_flags": " ".join(UNMASKED)},
        "act": act,
        "targets": {"training_ratio_at_most": 1.10, "act_ratio_at_most": 1.2},
        "targets_met": {"training": training["median_ratio"] <= 1.10,
                        "act": act["ratio_p50"] <= 1.2},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"training_ratio": training["median_ratio"], "act": act}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
