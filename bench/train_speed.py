"""Benchmark: keras_pg's trainer beside JAX+gymnax and the article's loop, in one run.

    python bench/train_speed.py [--seeds 0,1,2,3,4] [--graph-seeds 0,...,9] [--baseline-s S]
                                [--peer-python bench/.venv-peers/bin/python]

(a) keras_pg with its defaults on CartPole-v1 (gymnasium backend), one subprocess per seed:
    time to solve (training wall time as the trainer measures it: TensorFlow import
    excluded, tracing and compilation included), env steps/s, the greedy 100-episode
    evaluation, peak RSS. Beside it, the same seeds with the configuration of 2026-12-06
    (`TODAY_FLAGS`: 16 envs, 16 episodes, Adam 0.02, actions from one TensorFlow call per
    step): the steps/s and time to solve this issue's targets are ratios to.
(b) the rollout alone at 16 CartPole envs (gymnasium's vectorized CartPole, as training
    makes it), in one process, alternating: the env stepped with fixed actions, and
    complete-episode rounds with the numpy and the TensorFlow actor: env steps/s of each,
    and the microseconds per vector step of acting beside the env's.
(c) the JAX+gymnax peer (bench/jax_reinforce.py, in the venv of
    bench/requirements-peers.txt): the same REINFORCE, 256 envs in one jit, the same seeds;
    as it is, and with --fast-compile (XLA's backend optimizations off: a third of its
    compilation time, its updates about as fast).
(d) the seed-faithful baseline (bench/seed_baseline.py) for the same wall budget: the total
    training time of (a), so both loops get the same seconds.
(e) `--backend graph` (CartPole in TensorFlow ops, one compiled function per iteration):
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
TODAY_FLAGS = ["--preset", "CartPole-v1", "--num-envs", "16", "--episodes-per-update", "16",
               "--lr", "0.02", "--actor", "tensorflow"]
"""The CartPole-v1 preset and acting of 2026-12-06, before the numpy actor (the preset's
settings are the same today: only the actor differs)."""

ROLLOUT = """
import json, sys, time
import numpy as np
from keras_pg.backends.rollout import collect_episodes
from keras_pg.envs.source import EnvSource
from keras_pg.policy import build_policy, make_actor, make_head, mlp

num_envs, rounds = int(sys.argv[1]), int(sys.argv[2])
env = EnvSource("CartPole-v1", {}, None).make_vector(num_envs)  # as training makes it
head = make_head(env.single_action_space)
model = build_policy(env.single_observation_space, env.single_action_space, mlp((4,), (128,)))
actors = {name: make_actor(model, head, name) for name in ("numpy", "tensorflow")}
obs, _ = env.reset(seed=0)
fixed = np.zeros(num_envs, dtype=np.int64)
steps = {name: 0 for name in actors}
seconds = {name: 0.0 for name in actors}
per_call = {"env_step": [], **{f"act_{name}": [] for name in actors}}

def time_calls(fn, calls=2000):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6

for r in range(rounds):
    for name, actor in actors.items():
        with actor.round(r) as act:
            start = time.perf_counter()
            batch = collect_episodes(env, act, 4 * num_envs, 0.95, seed=r)
            seconds[name] += time.perf_counter() - start
            steps[name] += int(batch.episode_lengths.sum())
            per_call[f"act_{name}"].append(time_calls(lambda: act(obs)))
    per_call["env_step"].append(time_calls(lambda: env.step(fixed)))
result = {f"{name}_steps_per_s": round(steps[name] / seconds[name], 1) for name in actors}
result.update({f"{k}_us": round(float(np.median(v)), 1) for k, v in per_call.items()})
print(json.dumps(result))
"""


def rollout_speed(num_envs: int = 16, rounds: int = 10) -> dict:
    """(b): the rollout at `num_envs` CartPole envs, numpy and TensorFlow actors alternating."""
    proc = subprocess.run([sys.executable, "-c", ROLLOUT, str(num_envs), str(rounds)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r["num_envs"] = num_envs
    r["numpy_over_tensorflow"] = round(r["numpy_steps_per_s"] / r["tensorflow_steps_per_s"], 2)
    r["acting_share_numpy"] = round(r["act_numpy_us"] / r["env_step_us"], 2)
    r["acting_share_tensorflow"] = round(r["act_tensorflow_us"] / r["env_step_us"], 2)
    r["targets"] = ("numpy_over_tensorflow >= 3 (steps/s at 16 envs, 3x today's); "
                    "acting_share_numpy <= 1 (acting costs at most the env's own step)")
    print(f"rollout at {num_envs} envs: numpy {r['numpy_steps_per_s']:,.0f} steps/s, "
          f"tensorflow {r['tensorflow_steps_per_s']:,.0f} ({r['numpy_over_tensorflow']}x); "
          f"act {r['act_numpy_us']} µs (numpy) / {r['act_tensorflow_us']} µs (tensorflow) "
          f"beside the env's step {r['env_step_us']} µs", flush=True)
    return r


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


def trainer_runs(label: str, seeds: list[int], flags: list[str]) -> dict:
    """(a): `keras_pg train` with `flags`, one subprocess per seed, summarized."""
    runs = []
    for seed in seeds:
        r = run_trainer(seed, flags)
        runs.append(r)
        print(f"{label} seed {seed}: solved={r['solved']} in {r['train_wall_s']:.2f} s, "
              f"{r['env_steps']:,} steps, {r['steps_per_s']:,.0f} steps/s, "
              f"eval {r['eval_mean_return']:.1f}, peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    times = np.array([r["train_wall_s"] for r in runs])
    return {
        "seeds": seeds, "flags": flags,
        "solved": int(sum(r["solved"] and r["eval_mean_return"] >= 475 for r in runs)),
        "time_to_solve_median_s": round(float(np.median(times)), 2),
        "time_to_solve_max_s": round(float(times.max()), 2),
        "env_steps_median": int(np.median([r["env_steps"] for r in runs])),
        "steps_per_s_median": round(float(np.median([r["steps_per_s"] for r in runs])), 1),
        "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--baseline-s", type=float, default=None,
                        help="wall budget of the seed-faithful baseline (default: the total "
                             "training time of the keras_pg runs, the same budget)")
    parser.add_argument("--peer-python", default=None,
                        help="the interpreter of the JAX+gymnax venv (default: "
                             "$KERAS_PG_PEER_PYTHON or bench/.venv-peers/bin/python)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/train_speed.json")
    parser.add_argument("train_flags", nargs="*", help="extra flags for keras_pg train")
    parser.add_argument("--graph-seeds", default="0,1,2,3,4,5,6,7,8,9")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    from bench.peers import peer_python, run_jax_peer

    python = peer_python(args.peer_python)  # fails here, not after the keras_pg runs
    rollout = rollout_speed()
    keras_pg = trainer_runs("keras_pg", seeds, args.train_flags)
    today = trainer_runs("today's configuration", seeds, TODAY_FLAGS)
    jax = run_jax_peer(seeds, python)
    jax_fast = run_jax_peer(seeds, python, ["--fast-compile"])
    for name, peer in (("JAX+gymnax", jax), ("JAX+gymnax --fast-compile", jax_fast)):
        print(f"{name}: solved {peer['solved']}/{len(seeds)}, median "
              f"{peer['time_to_solve_median_s']} s", flush=True)
    graph = graph_backend([int(s) for s in args.graph_seeds.split(",")])

    from bench.seed_baseline import run_seed_baseline

    budget = args.baseline_s or sum(r["train_wall_s"] for r in keras_pg["runs"])
    start = time.perf_counter()
    baseline = run_seed_baseline("CartPole-v1", budget)
    print(f"seed-faithful baseline: {baseline['steps_per_s']:,.0f} steps/s over "
          f"{time.perf_counter() - start:.1f} s", flush=True)

    jax_s = jax["time_to_solve_median_s"]
    result = {
        "benchmark": "train_speed", "env_id": "CartPole-v1", "machine": machine(),
        "date": time.strftime("%Y-%m-%d"), "train_flags": args.train_flags,
        "keras_pg": keras_pg,
        "todays_configuration": today,
        "rollout": rollout,
        "jax_gymnax": jax,
        "jax_gymnax_fast_compile": jax_fast,
        "seed_baseline": baseline,
        "graph_backend": graph,
        "ratios": {
            "steps_per_s_over_today": round(
                keras_pg["steps_per_s_median"] / today["steps_per_s_median"], 2),
            "time_to_solve_over_today": round(
                keras_pg["time_to_solve_median_s"] / today["time_to_solve_median_s"], 2),
            "time_to_solve_over_jax": round(keras_pg["time_to_solve_median_s"] / jax_s, 2),
            "time_to_solve_over_jax_fast_compile": round(
                keras_pg["time_to_solve_median_s"] / jax_fast["time_to_solve_median_s"], 2),
            "graph_time_to_solve_over_jax": round(
                graph["CartPole-v1"]["time_to_solve_median_s"] / jax_s, 2),
            "throughput_over_seed_baseline": round(
                keras_pg["steps_per_s_median"] / baseline["steps_per_s"], 1),
        },
        "targets": ("steps_per_s_over_today >= 3 and rollout.acting_share_numpy <= 1; "
                    "time_to_solve_over_jax <= 0.5 with keras_pg.env_steps_median <= 100k and "
                    "5/5 solved; graph_time_to_solve_over_jax <= 0.25"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"keras_pg solved {keras_pg['solved']}/{len(seeds)}, median "
          f"{keras_pg['time_to_solve_median_s']} s, {keras_pg['env_steps_median']:,} steps; "
          f"ratios {result['ratios']}")


if __name__ == "__main__":
    main()
