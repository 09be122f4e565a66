"""Benchmark: MiniGrid-Empty-5x5 from its raw Dict observation, keras_pg's defaults beside SB3
PPO's MultiInputPolicy (issue #24).

    pip install --no-deps -r bench/requirements.txt   # MiniGrid, in both venvs
    python bench/minigrid_sb3.py [--seeds 0,1,2] [--max-steps 300000] [--peer-python PY]

The env is bench/minigrid_envs.py's MiniGridDict-Empty-5x5-v0: MiniGrid-Empty-5x5-v0
observing {"direction": Discrete(4), "image": uint8 (7, 7, 3)} (gymnasium's FilterObservation
drops the mission text, which no policy takes). Per seed, in the same run and alternating
which goes first:
- keras_pg: `python -m keras_pg train --env bench.minigrid_envs:MiniGridDict-Empty-5x5-v0
  --seed S --max-steps 300000 --target-return 0.9 --eval-every 10000 --eval-every-episodes
  10` -- its defaults (no preset covers the env: the generic ones) with a stop rule: a greedy
  evaluation of 10 episodes every 10k steps, solved when one reaches a mean return of 0.9.
  (Stopping at a training mean of 0.9 instead, seed 1 stopped at 75k steps with a sampling
  policy that succeeds but a greedy one that turns in place: success 0.) Then
  `python -m export` of the run (the Dict policy: one ONNX input per part), and
  `serve.run_episodes` of the exported file, greedy, on 100 episodes with unseen seeds.
- SB3 PPO: bench/sb3_ppo.py in the peer venv (rl-zoo3's MiniGrid settings, MultiInputPolicy,
  a CNN that fits 7x7: see there), the same stop rule and budget, greedy on 100 episodes.
Success: an episode reaching the goal (return > 0). The issue's target: keras_pg reaches a
greedy success >= 0.9 on 3/3 seeds within 300k steps. Reported per seed: env steps and
training seconds to the stop, greedy success and mean return, and keras_pg's export seconds.
Writes bench/results/minigrid_sb3.json.
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

ENV = "MiniGridDict-Empty-5x5-v0"
TARGET, SUCCESS = 0.9, 0.9
EVAL_EPISODES, EVAL_SEED = 100, 10_000


def keras_pg_run(seed: int, max_steps: int) -> dict:
    """Train with keras_pg's defaults, export, and play the ONNX file greedily with serve."""
    import serve

    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "keras_pg", "train", "--quiet", "--no-tensorboard",
                   "--env", f"bench.minigrid_envs:{ENV}", "--seed", str(seed),
                   "--max-steps", str(max_steps), "--target-return", str(TARGET),
                   "--eval-every", "10000", "--eval-every-episodes", "10", "--run-dir", tmp]
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"keras_pg seed {seed}: {proc.stderr[-2000:]}")
        summary = json.loads((Path(tmp) / "summary.json").read_text())
        proc = subprocess.run([sys.executable, "-m", "export", tmp], cwd=ROOT,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"export seed {seed}: {proc.stderr[-2000:]}")
        report = json.loads((Path(tmp) / "export_report.json").read_text())
        import bench.minigrid_envs  # noqa: F401 (registers the env for serve's episode loop)

        policy = serve.OnnxPolicy(Path(tmp) / "policy.onnx")
        played = serve.run_episodes(policy, env_id=f"bench.minigrid_envs:{ENV}",
                                    episodes=EVAL_EPISODES, seed=EVAL_SEED)
    returns = np.asarray(played["returns"])
    return {"seed": seed, "solved": summary["solved"], "env_steps": summary["env_steps"],
            "train_wall_s": summary["train_wall_s"],
            "greedy_success": float(np.mean(returns > 0)),
            "eval_mean_return": round(float(returns.mean()), 3),
            "export_s": report["export_s"], "actor": summary.get("actor"),
            "onnx_inputs": list(policy.observation_parts or {})}


def sb3_run(seed: int, max_steps: int, python: str) -> dict:
    proc = subprocess.run(
        [python, str(ROOT / "bench" / "sb3_ppo.py"), "--env", ENV, "--seed", str(seed),
         "--max-steps", str(max_steps), "--threshold", str(TARGET),
         "--eval-episodes", str(EVAL_EPISODES), "--eval-seed", str(EVAL_SEED),
         "--returns"],
        cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"sb3 seed {seed}: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["greedy_success"] = float(np.mean(np.asarray(out.pop("eval_returns")) > 0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--max-steps", type=int, default=300_000)
    parser.add_argument("--peer-python", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/minigrid_sb3.json")
    args = parser.parse_args()
    from bench.peers import peer_python
    from bench.train_speed import machine

    python = peer_python(args.peer_python)
    ours, peers = [], []
    for i, seed in enumerate(int(s) for s in args.seeds.split(",")):
        order = [("keras_pg", lambda s=seed: keras_pg_run(s, args.max_steps), ours),
                 ("sb3", lambda s=seed: sb3_run(s, args.max_steps, python), peers)]
        for name, run, into in order if i % 2 == 0 else order[::-1]:
            result = run()
            into.append(result)
            print(f"{name} seed {seed}: {result['env_steps']:,} steps, "
                  f"{result['train_wall_s']:.1f} s, solved {result['solved']}, greedy success "
                  f"{result['greedy_success']:.2f}", flush=True)
    landed = sum(r["greedy_success"] >= SUCCESS and r["env_steps"] <= args.max_steps
                 for r in ours)

    def medians(runs: list[dict]) -> dict:
        return {"env_steps": float(np.median([r["env_steps"] for r in runs])),
                "train_wall_s": round(float(np.median([r["train_wall_s"] for r in runs])), 2),
                "landed": sum(r["greedy_success"] >= SUCCESS for r in runs)}

    result = {
        "benchmark": "minigrid_sb3", "machine": machine(), "date": time.strftime("%Y-%m-%d"),
        "env": ENV, "max_steps": args.max_steps, "target_return": TARGET,
        "keras_pg": {"settings": "defaults (generic: no preset covers the env); stop rule: "
                                 "greedy evaluations of 10 episodes every 10k steps reaching "
                                 "0.9", "runs": ours, "median": medians(ours)},
        "sb3_ppo": {"runs": peers, "median": medians(peers),
                    "settings": peers[0]["settings"], "versions": peers[0]["versions"]},
        "target": f"keras_pg greedy success >= {SUCCESS} on every seed within max_steps",
        "target_met": landed == len(ours),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"keras_pg landed {landed}/{len(ours)}: median {result['keras_pg']['median']}; "
          f"SB3 PPO median {result['sb3_ppo']['median']} (target met: {result['target_met']})")


if __name__ == "__main__":
    main()
