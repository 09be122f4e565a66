"""Benchmark: a recurrent (GRU) policy beside a feed-forward one of the same widths -- export
time and `OnnxPolicy.act` latency (issue #25).

    python bench/recurrent_speed.py [--repeats 5] [--calls 20000]

Both policies act in keras_pg/envs/partial.py's CartPoleNoVel-v1 (2 floats observed, 2
actions): the GRU one is `network="gru"` with hidden (64,) and a GRU of 64 units (the
defaults of the benchmark's GRU runs but for the widths), the feed-forward one an MLP of
(64, 64): the same layer widths, the GRU's layer holding 3x the weights of a Dense one. The
GRU policy is first trained until a greedy evaluation of 10 episodes reaches 475 (seed 0,
its defaults otherwise), so that export verifies it on the 500-step episodes a solved policy
plays: a recurrent export steps onnxruntime and the Keras model through whole episodes.

In one run, alternating the two:
- export: `export.to_onnx(agent, path)` -- conversion, checks, verification, atomic write --
  `--repeats` times each; the medians (the target: the recurrent export verifies in < 2 s);
- act: `OnnxPolicy.act` on one observation, greedy, p50 and p99 over `--calls` calls each,
  called in turn (bench/serve_latency.py's alternation): the feed-forward `act(obs)`
  beside the recurrent `action, state = act(obs, state)` carrying its state; the target:
  recurrent p50 <= 2x feed-forward p50.
Writes bench/results/recurrent_speed.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENV = "keras_pg.envs.partial:CartPoleNoVel-v1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/recurrent_speed.json")
    args = parser.parse_args()

    import export
    import keras_pg
    import serve
    from bench.serve_latency import alternating_percentiles_us
    from bench.train_speed import machine

    settings: dict[str, Any] = {"seed": 0, "tensorboard": False, "eval_episodes": 0}
    agents = {
        "recurrent": keras_pg.REINFORCE(ENV, network="gru", hidden=(64,), recurrent_units=64,
                                        target_return=475, eval_every=10_000,
                                        eval_every_episodes=10, **settings),
        "feed_forward": keras_pg.REINFORCE(ENV, network="mlp", hidden=(64, 64), **settings),
    }
    trained = agents["recurrent"].learn()
    params = {kind: int(sum(np.prod(w.shape) for w in agent.model.trainable_weights))
              for kind, agent in agents.items()}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {kind: Path(tmp) / f"{kind}.onnx" for kind in agents}
        for kind, agent in agents.items():  # warm-up: TensorFlow's and tf2onnx's first calls
            export.to_onnx(agent, paths[kind])
        seconds: dict[str, list[float]] = {kind: [] for kind in agents}
        reports: dict[str, dict[str, Any]] = {}
        for _ in range(args.repeats):
            for kind, agent in agents.items():
                start = time.perf_counter()
                reports[kind] = export.to_onnx(agent, paths[kind])
                seconds[kind].append(time.perf_counter() - start)
        policies = {kind: serve.OnnxPolicy(path) for kind, path in paths.items()}
        obs = np.random.default_rng(0).uniform(-0.1, 0.1, 2).astype(np.float32)
        recurrent = policies["recurrent"]
        state = [recurrent.initial_state()]

        def act_recurrent() -> None:
            _, state[0] = recurrent.act(obs, state[0])

        latency = alternating_percentiles_us(
            {"feed_forward": lambda: policies["feed_forward"].act(obs),
             "recurrent": act_recurrent}, args.calls)
    export_median = {kind: round(float(np.median(s)), 3) for kind, s in seconds.items()}
    act_ratio = round(latency["recurrent"]["p50_us"] / latency["feed_forward"]["p50_us"], 3)
    verified = reports["recurrent"]
    result = {
        "benchmark": "recurrent_speed", "machine": machine(), "date": time.strftime("%Y-%m-%d"),
        "env": ENV, "parameters": params,
        "recurrent_training": {"env_steps": trained["env_steps"],
                               "solved": trained["solved"]},
        "recurrent_verification": {"observations": verified["observations"],
                                   "episodes": verified["episodes"],
                                   "max_abs_diff": verified["max_abs_diff"]},
        "export_s": {kind: [round(x, 3) for x in s] for kind, s in seconds.items()},
        "export_median_s": export_median,
        "act_us": latency, "act_p50_ratio_recurrent_to_feed_forward": act_ratio,
        "targets": {"export": "recurrent export median < 2 s",
                    "act": "p50 ratio <= 2"},
        "targets_met": {"export": export_median["recurrent"] < 2.0, "act": act_ratio <= 2.0},
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"export median s: {export_median}; act p50 us: feed-forward "
          f"{latency['feed_forward']['p50_us']}, recurrent {latency['recurrent']['p50_us']} "
          f"(ratio {act_ratio})")


if __name__ == "__main__":
    main()
