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

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.solve_runs import Benchmark, StopRule, main  # noqa: E402

ENV = "keras_pg.envs.partial:CartPoleNoVel-v1"
BENCHMARK = Benchmark(
    name="recurrent", env=ENV, rule=StopRule(target=475.0),
    flags={"gru": ["--env", ENV, "--network", "gru"], "mlp": ["--env", ENV, "--network", "mlp"]},
    peer="recurrent_ppo", peer_script="recurrent_sb3.py", target_leg="gru",
    target="keras_pg's GRU policy solves (a confirmed greedy mean >= 475) on every seed within "
           "max_steps")

if __name__ == "__main__":
    sys.exit(main(BENCHMARK, __doc__.splitlines()[0]))
