"""Benchmark: keras_pg's LunarLander-v3 preset beside SB3 PPO with rl-zoo3's settings.

    python bench/lunar_sb3.py [--seeds 0,1,2,3,4] [--max-steps 2000000] [--peer-python PY]
                              [--jobs 2]

Per seed, in the same run and alternating which goes first: `python -m keras_pg train
--preset LunarLander-v3 --seed S` and bench/sb3_ppo.py (in the peer venv of
bench/requirements-peers.txt, one torch thread) on the same seed. Both are greedy-evaluated
on 100 episodes with seeds training never used. With --jobs 2, two seeds run at a time (each
seed's two runs one after the other), so both libraries share the machine alike.

Reported per seed and as medians:
- `time_to_200_s`: training wall seconds until the mean return of the last 100 training
  episodes first reaches 200 (SB3's stop rule; keras_pg's preset stops when a greedy
  screen of 20 episodes and its confirmation on 100 fresh ones reach 220, evaluations
  included in its `train_wall_s`);
- `train_wall_s`, `env_steps`: the whole training run, to its own stop;
- `eval_mean_return`: the greedy evaluation of the policy it stopped with.
The issue's target: keras_pg lands (greedy >= 200) on 5/5 seeds within 2M steps, and its
median `train_wall_s` (the whole run, not only to 200) is below a third of SB3's median
`time_to_200_s`. Writes bench/results/lunar_sb3.json and a learning-curve figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENV, THRESHOLD = "LunarLander-v3", 200.0


def keras_pg_run(seed: int, max_steps: int) -> dict:
    """The preset's run on `seed`: its summary, time to a training mean of 200, and curve."""
    from bench.keras_pg_run import train
    from keras_pg.run.plots import moving_average

    summary, metrics = train(["--preset", ENV, "--seed", str(seed), "--max-steps",
                              str(max_steps), "--no-tensorboard"], f"keras_pg seed {seed}")
    steps, returns, walls = metrics["env_steps"], metrics["return"], metrics["wall_s"]
    means = moving_average(returns, 100)
    crossed = np.flatnonzero((np.arange(len(returns)) >= 99) & (means >= THRESHOLD))
    time_to, steps_to = None, None
    if len(crossed):
        i = crossed[0]
        # wall_s is the clock before the episode's round: the round ends at the next value.
        later = walls[walls > walls[i]]
        time_to = float(later[0]) if len(later) else summary["train_wall_s"]
        steps_to = int(steps[i])
    return {"seed": seed, "env_steps": summary["env_steps"],
            "train_wall_s": summary["train_wall_s"], "time_to_200_s": time_to,
            "steps_to_200": steps_to, "solved": summary["solved"],
            "eval_mean_return": summary["eval_mean_return"],
            "eval_std_return": summary["eval_std_return"],
            "curve": {"steps": steps[::10].tolist(),
                      "mean_return": np.round(means[::10], 2).tolist()}}


def sb3_run(seed: int, max_steps: int, python: str) -> dict:
    proc = subprocess.run(
        [python, str(ROOT / "bench" / "sb3_ppo.py"), "--env", ENV, "--seed", str(seed),
         "--max-steps", str(max_steps), "--threshold", str(THRESHOLD)],
        cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"sb3 seed {seed}: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["time_to_200_s"] = out["train_wall_s"] if out["solved"] else None
    out["steps_to_200"] = out["env_steps"] if out["solved"] else None
    return out


def median(values: list) -> float | None:
    """Median, with an unsolved seed (None) counted as infinitely slow."""
    finite = [np.inf if v is None else v for v in values]
    m = float(np.median(finite))
    return None if not np.isfinite(m) else round(m, 2)


def plot(runs: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for run in runs:
        curve = run["curve"]
        ax.plot(curve["steps"], curve["mean_return"], lw=1.2, label=f"seed {run['seed']}")
    ax.axhline(THRESHOLD, color="black", ls="--", lw=1, label="200")
    ax.set(xlabel="env steps", ylabel="return (100-episode mean)",
           title=f"keras_pg {ENV} preset")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--max-steps", type=int, default=2_000_000)
    parser.add_argument("--peer-python", default=None)
    parser.add_argument("--jobs", type=int, default=1, help="seeds run in parallel")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/lunar_sb3.json")
    args = parser.parse_args()
    from bench.peers import peer_python
    from bench.train_speed import machine

    python = peer_python(args.peer_python)

    def pair(i: int, seed: int) -> tuple[dict, dict]:
        """keras_pg's and SB3's runs on `seed`; which goes first alternates with `i`."""
        order = [("keras_pg", keras_pg_run, ()), ("sb3", sb3_run, (python,))]
        results = {}
        for name, fn, extra in order if i % 2 == 0 else order[::-1]:
            result = results[name] = fn(seed, args.max_steps, *extra)
            print(f"{name} seed {seed}: {result['env_steps']:,} steps, "
                  f"{result['train_wall_s']:.1f} s (to 200: {result['time_to_200_s']}), "
                  f"greedy {result['eval_mean_return']:.1f}", flush=True)
        return results["keras_pg"], results["sb3"]

    seeds = [int(s) for s in args.seeds.split(",")]
    with ThreadPoolExecutor(args.jobs) as pool:
        pairs = list(pool.map(pair, range(len(seeds)), seeds))
    ours, peers = [p[0] for p in pairs], [p[1] for p in pairs]
    ours.sort(key=lambda r: r["seed"])
    peers.sort(key=lambda r: r["seed"])
    landed = sum(r["eval_mean_return"] >= THRESHOLD and r["env_steps"] <= args.max_steps
                 for r in ours)
    ours_time = median([r["train_wall_s"] if r["eval_mean_return"] >= THRESHOLD else None
                        for r in ours])
    peer_time = median([r["time_to_200_s"] for r in peers])
    ratio = round(ours_time / peer_time, 3) if ours_time and peer_time else None
    curves = args.out.parent / "curves"
    curves.mkdir(parents=True, exist_ok=True)
    figure = curves / "LunarLander-v3_against_sb3.png"
    plot(ours, figure)
    result = {
        "benchmark": "lunar_sb3", "machine": machine(), "date": time.strftime("%Y-%m-%d"),
        "env": ENV, "max_steps": args.max_steps, "jobs": args.jobs,
        "keras_pg": {"preset": ENV, "runs": ours, "landed": landed,
                     "train_wall_median_s": ours_time,
                     "time_to_200_median_s": median([r["time_to_200_s"] for r in ours]),
                     "steps_median": median([r["env_steps"] for r in ours])},
        "sb3_ppo": {"runs": peers, "time_to_200_median_s": peer_time,
                    "steps_to_200_median": median([r["steps_to_200"] for r in peers]),
                    "landed": sum(r["eval_mean_return"] >= THRESHOLD for r in peers),
                    "settings": peers[0]["settings"], "versions": peers[0]["versions"]},
        "ratio_train_wall_to_sb3_time_to_200": ratio,
        "target": "keras_pg lands 5/5 within max_steps and the ratio is below 1/3",
        "target_met": landed == len(ours) and ratio is not None and ratio < 1 / 3,
        "figure": str(figure.relative_to(ROOT)) if figure.is_relative_to(ROOT) else str(figure),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"keras_pg landed {landed}/{len(ours)}, median {ours_time} s; SB3 PPO median time to "
          f"200 {peer_time} s; ratio {ratio} (target met: {result['target_met']})")


if __name__ == "__main__":
    main()
