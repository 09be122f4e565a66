"""Benchmark: CartPole without its velocities (CartPoleNoVel-v1), keras_pg's GRU policy beside
its MLP and sb3-contrib's RecurrentPPO (issue #25).

    python bench/recurrent_cartpole.py [--seeds 0,1,2] [--max-steps 1000000]
        [--legs gru,mlp,recurrent_ppo] [--peer-python PY] [--out bench/results/recurrent.json]

The env is keras_pg/envs/partial.py's CartPoleNoVel-v1: CartPole-v1 observing only the cart
position and the pole angle, so that velocities must be inferred from successive observations
(500-step episodes, solved at 475). Per seed, in the same run, the legs one after another,
their order reversed on every other seed (as bench/minigrid_sb3.py alternates):
- gru: `python -m keras_pg train --env keras_pg.envs.partial:CartPoleNoVel-v1 --network gru
  --seed S --max-steps 1000000 --target-return 475 --eval-every 10000 --eval-every-episodes
  10 --eval-confirm-episodes 100` (plus --eval-episodes 100, and --quiet --no-tensorboard,
  which change nothing in training) in a temporary run dir: keras_pg's generic defaults with
  a GRU cell, and a stop rule: a greedy screen of 10 episodes every 10k steps, confirmed on 100
  fresh ones when it reaches 475; the confirmation decides.
- mlp: the same command with `--network mlp`: a feed-forward policy, one observation at a
  time; expected to run the whole budget unsolved. Its best greedy evaluation is reported.
- recurrent_ppo: bench/recurrent_sb3.py in the peer venv (bench/peers.py finds its python):
  sb3-contrib's RecurrentPPO with rl-zoo3's ppo_lstm settings for CartPoleNoVel-v1, on the
  same env file, with the same stop rule and budget (see there).
Reported per run: steps_to_solve (env steps at the deciding evaluation; null if unsolved),
train_wall_s (training seconds without the evaluations during training), total_wall_s (with
them: keras_pg's summary.json `train_wall_s`, which counts them; the peer's time around
learn()), the evaluations during training and the best of them, and eval_mean_return: the
policy at the stop, greedy on 100 episodes with seeds training never used (keras_pg's own
evaluation after training; the peer's, seeded 10000 + i). Writes --out (default
bench/results/recurrent.json) after every run, "complete": false until the last.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.solve_runs import StopRule, keras_pg_run, medians, peer_run, run_legs  # noqa: E402

ENV = "keras_pg.envs.partial:CartPoleNoVel-v1"
LEGS = ("gru", "mlp", "recurrent_ppo")
RULE = StopRule(target=475.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--legs", default=",".join(LEGS),
                        help=f"a subset of {','.join(LEGS)}")
    parser.add_argument("--peer-python", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/recurrent.json")
    args = parser.parse_args()
    if unknown := set(args.legs.split(",")) - set(LEGS):
        parser.error(f"--legs: unknown {sorted(unknown)}; choose from {','.join(LEGS)}")
    legs = [leg for leg in LEGS if leg in args.legs.split(",")]
    from bench.peers import peer_python
    from bench.train_speed import machine

    python = peer_python(args.peer_python) if "recurrent_ppo" in legs else ""
    runners = {
        "gru": lambda s: keras_pg_run("gru", ["--env", ENV, "--network", "gru"], s,
                                      args.max_steps, RULE),
        "mlp": lambda s: keras_pg_run("mlp", ["--env", ENV, "--network", "mlp"], s,
                                      args.max_steps, RULE),
        "recurrent_ppo": lambda s: peer_run("recurrent_ppo", "recurrent_sb3.py", s,
                                            args.max_steps, RULE, python)}
    runs, failed = run_legs({leg: runners[leg] for leg in legs},
                            [int(s) for s in args.seeds.split(",")],
                            lambda runs: write(args, runs, machine(), complete=False))
    result = write(args, runs, machine(), complete=True)
    for leg in legs:
        print(f"{leg}: {result['legs'][leg]['median']}")
    if "gru" in runs:
        print(f"target met: {result['target_met']}")
    return 1 if failed else 0


def write(args: argparse.Namespace, runs: dict[str, list[dict]], host: dict,
          complete: bool) -> dict:
    """The results so far, written to args.out; returned."""
    legs: dict[str, dict] = {}
    for leg, done in runs.items():
        legs[leg] = {"runs": done, "median": medians(done)}
        if leg == "recurrent_ppo" and any("settings" in r for r in done):
            first = next(r for r in done if "settings" in r)
            legs[leg].update(settings=first["settings"], versions=first["versions"])
        elif leg != "recurrent_ppo":
            legs[leg]["command"] = (f"python -m keras_pg train --env {ENV} --network {leg} "
                                    f"--seed S --max-steps {args.max_steps} --target-return "
                                    f"{RULE.target:g} {' '.join(RULE.flags())}")
    gru = runs.get("gru", [])
    result = {
        "benchmark": "recurrent", "complete": complete, "machine": host,
        "date": time.strftime("%Y-%m-%d"), "env": ENV, "max_steps": args.max_steps,
        "seeds": [int(s) for s in args.seeds.split(",")], "target_return": RULE.target,
        "stop_rule": RULE.text(),
        "legs": legs,
        "target": "keras_pg's GRU policy solves (a confirmed greedy mean >= 475) on every seed "
                  "within max_steps",
        "target_met": (bool(gru) and all(r.get("steps_to_solve") is not None for r in gru)
                       if "gru" in runs else None),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    sys.exit(main())
