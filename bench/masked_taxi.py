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

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.solve_runs import Benchmark, StopRule, main  # noqa: E402

ENV = "Taxi-v4"
BENCHMARK = Benchmark(
    name="masked_taxi", env=ENV, rule=StopRule(target=7.0),
    flags={"masked": ["--env", ENV], "unmasked": ["--env", ENV, "--no-action-masks"]},
    peer="maskable_ppo", peer_script="masked_sb3.py", target_leg="masked",
    target="keras_pg with Taxi's masks solves (a confirmed greedy mean >= 7.0) on every seed "
           "within max_steps")

if __name__ == "__main__":
    sys.exit(main(BENCHMARK, __doc__.splitlines()[0]))
