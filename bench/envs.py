"""Benchmark: the per-environment presets, 5 seeds each, greedy evaluation.

    python bench/envs.py [--envs CartPole-v1,...] [--seeds 0,1,2,3,4] [--jobs 2]

Each run is `python -m keras_pg train --preset ENV --seed S` in a subprocess (CartPole-v1
also with `--baseline value`). Reports per environment: greedy evaluation mean ± std (100
episodes; 1,000 for FrozenLake), env steps, training wall time, and whether the issue's target
was reached. Writes bench/results/envs.json and a learning-curve figure per environment in
bench/results/curves/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (name, preset, extra flags, target on the greedy evaluation, seeds that must reach it).
# The step budgets are the presets' max_steps (CartPole 1M, Acrobot 300k, LunarLander 2M,
# Pendulum 1M, FrozenLake 1M).
SUITES = [
    ("CartPole-v1", "CartPole-v1", [], 475.0, 5),
    ("CartPole-v1 + value baseline", "CartPole-v1", ["--baseline", "value"], 475.0, 5),
    ("Acrobot-v1", "Acrobot-v1", [], -100.0, 5),
    ("LunarLander-v3", "LunarLander-v3", [], 200.0, 5),
    ("Pendulum-v1", "Pendulum-v1", [], -200.0, None),  # the median
    ("FrozenLake-v1", "FrozenLake-v1", [], 0.70, 3),
]
# Median env steps a suite must stay within (issue #23: CartPole keeps <= 100k).
STEP_TARGETS = {"CartPole-v1": 100_000}
THRESHOLDS = {"CartPole": 475.0, "Acrobot": -100.0, "LunarLander": 200.0, "Pendulum": -200.0,
              "FrozenLake": 0.70}  # the level whose first crossing in training is reported


def run(preset: str, extra: list[str], seed: int, curves: Path, name: str) -> dict:
    from bench.keras_pg_run import train

    summary, metrics = train(["--preset", preset, "--seed", str(seed), *extra],
                             f"{name} seed {seed}")
    steps, returns = metrics["env_steps"], metrics["return"]
    np.savez(curves / f"{name.replace(' ', '_')}-seed{seed}.npz", steps=steps, returns=returns)
    from keras_pg.run.plots import moving_average

    threshold = THRESHOLDS[name.split("-v")[0]]
    crossed = np.flatnonzero((np.arange(len(returns)) >= 99)
                             & (moving_average(returns, 100) >= threshold))
    summary["steps_to_threshold"] = int(steps[crossed[0]]) if len(crossed) else None
    return summary


def plot(name: str, curves: Path, target: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_pg.run.plots import moving_average

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for path in sorted(curves.glob(f"{name.replace(' ', '_')}-seed*.npz")):
        data = np.load(path)
        ax.plot(data["steps"], moving_average(data["returns"], 100), lw=1.2,
                label=path.stem.rsplit("-", 1)[1])
    ax.axhline(target, color="black", ls="--", lw=1, label=f"target {target:g}")
    ax.set(xlabel="env steps", ylabel="return (100-episode mean)", title=name)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = curves / f"{name.replace(' ', '_').replace('+', 'plus')}.png"
    fig.savefig(out)
    plt.close(fig)
    return out


def summarize(name: str, runs: list[dict], target: float, needed: int | None) -> dict:
    evals = np.array([r["eval_mean_return"] for r in runs])
    reached = int((evals >= target).sum())
    ok = bool(np.median(evals) >= target) if needed is None else reached >= needed
    return {
        "env": name, "target": target,
        "target_rule": "median" if needed is None else f"{needed}/{len(runs)} seeds",
        "target_met": ok, "seeds_reaching_target": reached,
        "eval_mean": [round(float(e), 3) for e in evals],
        "eval_std": [round(r["eval_std_return"], 3) for r in runs],
        "eval_episodes": runs[0]["eval_episodes"],
        "eval_median": round(float(np.median(evals)), 3),
        "env_steps": [r["env_steps"] for r in runs],
        "train_wall_s": [r["train_wall_s"] for r in runs],
        "solved_in_training": [r["solved"] for r in runs],
        "steps_to_threshold_in_training": [r["steps_to_threshold"] for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default=None, help="comma-separated suite names (default: all)")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/envs.json")
    args = parser.parse_args()
    from bench.train_speed import machine

    seeds = [int(s) for s in args.seeds.split(",")]
    wanted = args.envs.split(",") if args.envs else [s[0] for s in SUITES]
    curves = args.out.parent / "curves"
    curves.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.out.read_text())["results"] if args.out.exists() else []
    results = {r["env"]: r for r in previous}
    for name, preset, extra, target, needed in SUITES:
        if name not in wanted:
            continue
        start = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(run, [preset] * len(seeds), [extra] * len(seeds), seeds,
                                 [curves] * len(seeds), [name] * len(seeds)))
        results[name] = summarize(name, runs, target, needed) | {
            "preset": preset, "extra_flags": extra, "seeds": seeds,
            "figure": str(plot(name, curves, target).relative_to(ROOT))}
        r = results[name]
        if name in STEP_TARGETS:
            r["steps_median"] = float(np.median(r["env_steps"]))
            r["steps_target"] = STEP_TARGETS[name]
            r["target_met"] = r["target_met"] and r["steps_median"] <= STEP_TARGETS[name]
            print(f"{name}: median {r['steps_median']:,.0f} env steps (target "
                  f"<= {STEP_TARGETS[name]:,})", flush=True)
        print(f"{name}: eval median {r['eval_median']}, {r['seeds_reaching_target']}/"
              f"{len(seeds)} >= {target} (target met: {r['target_met']}), "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    ordered = [results[s[0]] for s in SUITES if s[0] in results]
    args.out.write_text(json.dumps({"benchmark": "envs", "machine": machine(),
                                    "date": time.strftime("%Y-%m-%d"),
                                    "results": ordered}, indent=2) + "\n")


if __name__ == "__main__":
    main()
