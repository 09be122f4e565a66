"""Benchmark: training throughput on image observations, the CNN path beside the MLP path.

    python bench/image_speed.py [--steps 40000] [--carracing-steps 8000] [--baseline-tree DIR]

(a) tests/image_envs.py SquareSideEnv, 84x84x1 uint8 frames whose answer is where a square
    is: keras_pg with its default network for images (the Nature-DQN CNN), the same CNN with
    `precision="bfloat16"`, and `network="mlp"` (the frame flattened into Dense(128)),
    64 envs, a fixed step budget.
(b) CarRacing-v3, 96x96x3 uint8 frames: the same three, 8 envs, episodes capped at 250
    steps, beside the env alone (the same vector env stepped with random actions: the
    ceiling that the env's own rendering sets).
(c) with --baseline-tree DIR (a checkout of an earlier commit, e.g. `git worktree add DIR
    REV`): (a)'s float32 CNN run by this checkout and by DIR in turn, 3 times each, and the
    ratio of their median steps/s, so a change is measured against its baseline in one run.
Env steps per second are reported over the whole run and after the first round (which
includes tracing), each configuration in its own process. Target: >= 5,000 steps/s on (a)
with the CNN. Writes bench/results/image_speed.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRAIN = """
import json, sys
sys.path.insert(0, sys.argv[3])  # the checkout whose keras_pg runs
import keras_pg
from tests.image_envs import SquareSideEnv
env, settings = sys.argv[1], json.loads(sys.argv[2])
agent = keras_pg.REINFORCE(SquareSideEnv if env == "SquareSide" else env, preset="none",
                           eval_episodes=0, target_return=1e9, **settings)
summary = agent.learn()
rows = agent.updates
summary["steps_per_s_after_first"] = round(
    (rows[-1].env_steps - rows[0].env_steps) / (rows[-1].wall_s - rows[0].wall_s), 1)
summary["parameters"] = agent.model.count_params()
print(json.dumps(summary))
"""

ENV_ONLY = """
import json, sys, time
import numpy as np
from keras_pg.config import Config
from keras_pg.envs.source import EnvSource
env_id, num_envs, steps, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
env = EnvSource(env_id, {}, limit).make_vector(num_envs)
env.reset(seed=0)
start, done = time.perf_counter(), 0
while done < steps:
    env.step(env.action_space.sample())
    done += num_envs
print(json.dumps({"steps_per_s": round(done / (time.perf_counter() - start), 1)}))
"""

NETWORKS = {"cnn": {"network": "cnn"},
            "cnn_bfloat16": {"network": "cnn", "precision": "bfloat16"},
            "mlp": {"network": "mlp"}}


def subprocess_json(code: str, *args: str, tree: Path = ROOT) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=tree, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def train(env: str, tree: Path = ROOT, **settings) -> dict:
    result = subprocess_json(TRAIN, env, json.dumps(settings), str(tree), tree=tree)
    keep = ("env_steps", "train_wall_s", "steps_per_s", "steps_per_s_after_first",
            "first_iteration_s", "final_mean_return", "parameters", "actor")
    return {"settings": settings, **{k: result[k] for k in keep if k in result}}


def against_baseline(baseline_tree: Path, square: dict, repeats: int = 3) -> dict:
    """(c): the float32 CNN on SquareSide by this checkout and by `baseline_tree`, in turn."""
    runs: dict[str, list[dict]] = {"this": [], "baseline": []}
    for _ in range(repeats):
        for name, tree in (("this", ROOT), ("baseline", baseline_tree)):
            runs[name].append(train("SquareSide", tree=tree, network="cnn", **square))
    medians = {name: float(np.median([r["steps_per_s"] for r in rs])) for name, rs in runs.items()}
    result = {"baseline_tree_commit": subprocess.run(
                  ["git", "-C", str(baseline_tree), "rev-parse", "--short", "HEAD"],
                  capture_output=True, text=True).stdout.strip(),
              "steps_per_s_median": medians,
              "ratio": round(medians["this"] / medians["baseline"], 2),
              "target": ">= 1.5x the baseline's steps/s (float32 CNN, SquareSide 84x84x1)",
              "runs": runs}
    print(f"CNN float32 against {result['baseline_tree_commit']}: {medians['this']:,.0f} vs "
          f"{medians['baseline']:,.0f} steps/s ({result['ratio']}x)", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40_000)
    parser.add_argument("--carracing-steps", type=int, default=8_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/image_speed.json")
    parser.add_argument("--baseline-tree", type=Path, default=None,
                        help="a checkout of an earlier commit to measure the CNN against")
    args = parser.parse_args()
    from bench.train_speed import machine

    results = {"benchmark": "image_speed", "machine": machine(),
               "date": time.strftime("%Y-%m-%d"), "square_side_84x84x1": {},
               "carracing_96x96x3": {}}
    square = {"seed": 0, "num_envs": 64, "episodes_per_update": 64, "max_episode_steps": 10,
              "max_steps": args.steps}
    for name, network in NETWORKS.items():
        r = results["square_side_84x84x1"][name] = train("SquareSide", **network, **square)
        print(f"SquareSide 84x84x1 {name}: {r['steps_per_s']:,.0f} steps/s "
              f"({r['steps_per_s_after_first']:,.0f} after the first round), mean return "
              f"{r['final_mean_return']:.2f}", flush=True)
    if args.baseline_tree is not None:
        results["cnn_against_baseline"] = against_baseline(args.baseline_tree, square)
    racing = {"seed": 0, "num_envs": 8, "episodes_per_update": 8, "max_episode_steps": 250,
              "max_steps": args.carracing_steps}
    env_only = subprocess_json(ENV_ONLY, "CarRacing-v3", "8", str(args.carracing_steps), "250")
    results["carracing_96x96x3"]["env_only"] = env_only
    print(f"CarRacing-v3 env alone: {env_only['steps_per_s']:,.0f} steps/s", flush=True)
    for name, network in NETWORKS.items():
        r = results["carracing_96x96x3"][name] = train("CarRacing-v3", **network, **racing)
        print(f"CarRacing-v3 {name}: {r['steps_per_s']:,.0f} steps/s "
              f"({r['steps_per_s_after_first']:,.0f} after the first round)", flush=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
