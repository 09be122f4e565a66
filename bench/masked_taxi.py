"""Benchmark: Taxi-v4 with its invalid-action masks, keras_pg beside itself without them and
beside sb3-contrib's MaskablePPO (issue #27).

    python bench/masked_taxi.py [--seeds 0,1,2] [--max-steps 1000000]
        [--legs masked,unmasked,maskable_ppo] [--peer-python PY]
        [--out bench/results/masked_taxi.json]

gymnasium's Taxi-v4 says in `info["action_mask"]`, after every reset and step, which of its 6
actions change the state (a move into a wall, a pick-up where no passenger waits, a drop-off
away from the destination do not, and the last two cost -10). Per seed, in the same run, the
legs one after another, their order reversed on every other seed (bench/solve_runs.py):
- masked: `python -m keras_pg train --env Taxi-v4 --seed S` with the stop rule below: the
  env's tuned preset (keras_pg/presets.py "Taxi-v4"), which reads the masks from the info
  (action_masks is on by default; keras_pg finds them).
- unmasked: the same command with `--no-action-masks`: the same settings, the masks ignored.
- maskable_ppo: bench/masked_sb3.py in the peer venv (bench/peers.py finds its python):
  sb3-contrib's MaskablePPO with its defaults (rl-zoo3 has no settings for it), the same
  masks, budget and stop rule (see there).
Stop rule: a greedy screen of 10 episodes every 10k steps, confirmed on 100 fresh ones when
it reaches 7.0 (optimal is about 8); the confirmation decides; greedy episodes act under
their masks. Reported as bench/solve_runs.py says; writes --out after every run, "complete":
false until the last.
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

ENV = "Taxi-v4"
LEGS = ("masked", "unmasked", "maskable_ppo")
RULE = StopRule(target=7.0)
FLAGS = {"masked": ["--env", ENV], "unmasked": ["--env", ENV, "--no-action-masks"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--legs", default=",".join(LEGS), help=f"a subset of {','.join(LEGS)}")
    parser.add_argument("--peer-python", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/masked_taxi.json")
    args = parser.parse_args()
    if unknown := set(args.legs.split(",")) - set(LEGS):
        parser.error(f"--legs: unknown {sorted(unknown)}; choose from {','.join(LEGS)}")
    legs = [leg for leg in LEGS if leg in args.legs.split(",")]
    from bench.peers import peer_python
    from bench.train_speed import machine

    python = peer_python(args.peer_python) if "maskable_ppo" in legs else ""
    runners = {leg: (lambda s, leg=leg: keras_pg_run(leg, FLAGS[leg], s, args.max_steps, RULE))
               for leg in FLAGS}
    runners["maskable_ppo"] = lambda s: peer_run("maskable_ppo", "masked_sb3.py", s,
                                                 args.max_steps, RULE, python)
    runs, failed = run_legs({leg: runners[leg] for leg in legs},
                            [int(s) for s in args.seeds.split(",")],
                            lambda runs: write(args, runs, machine(), complete=False))
    result = write(args, runs, machine(), complete=True)
    for leg in legs:
        print(f"{leg}: {result['legs'][leg]['median']}")
    if "masked" in runs:
        print(f"target met: {result['target_met']}")
    return 1 if failed else 0


def write(args: argparse.Namespace, runs: dict[str, list[dict]], host: dict,
          complete: bool) -> dict:
    """The results so far, written to args.out; returned."""
    legs: dict[str, dict] = {}
    for leg, done in runs.items():
        legs[leg] = {"runs": done, "median": medians(done)}
        if leg == "maskable_ppo" and any("settings" in r for r in done):
            first = next(r for r in done if "settings" in r)
            legs[leg].update(settings=first["settings"], versions=first["versions"])
        elif leg != "maskable_ppo":
            legs[leg]["command"] = (f"python -m keras_pg train {' '.join(FLAGS[leg])} --seed S "
                                    f"--max-steps {args.max_steps} --target-return "
                                    f"{RULE.target:g} {' '.join(RULE.flags())}")
    masked = runs.get("masked", [])
    result = {
        "benchmark": "masked_taxi", "complete": complete, "machine": host,
        "date": time.strftime("%Y-%m-%d"), "env": ENV, "max_steps": args.max_steps,
        "seeds": [int(s) for s in args.seeds.split(",")], "target_return": RULE.target,
        "stop_rule": RULE.text(), "legs": legs,
        "target": "keras_pg with Taxi's masks solves (a confirmed greedy mean >= 7.0) on every "
                  "seed within max_steps",
        "target_met": (bool(masked) and all(r.get("steps_to_solve") is not None
                                            for r in masked) if "masked" in runs else None),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    sys.exit(main())
