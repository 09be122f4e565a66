"""Benchmark: a Dict-observation policy beside a Box one of the same size -- export time and
`OnnxPolicy.act` latency (issue #24).

    python bench/structured_speed.py [--repeats 7] [--calls 20000]

The two policies have the same network: the Box one observes 20 floats, the Dict one
{"a": 12 floats, "b": 8 floats}, which its built-in network flattens and concatenates into
the same 20 inputs of the same MLP (64, 64) and 4-action head (the same trainable
parameters, checked). Both are fresh agents (seed 0) of registered envs, so export verifies each on
1,000 sampled and 1,000 rollout observations, as it would a trained one.

In one run, alternating Box and Dict:
- export: `export.to_onnx(agent, path)` -- conversion, checks, verification, atomic write --
  `--repeats` times each; the medians compared (the target: Dict within +-20% of Box);
- act: `OnnxPolicy.act` on one observation (a float32 array; a dict of two), greedy, p50 and
  p99 over `--calls` calls each, called in turn (bench/serve_latency.py's alternation);
  the target: Dict p50 within 1.5x of Box p50.
Writes bench/results/structured_speed.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PARTS = {"a": 12, "b": 8}
SIZE = sum(PARTS.values())


class Floats(gym.Env):
    """SIZE random floats a step, observed as a Box of SIZE or as a Dict of PARTS (split in
    order: the same draws, the same cost); 4 actions, 10 steps."""

    def __init__(self, structured: bool = False) -> None:
        self.structured = structured
        self.observation_space = (
            gym.spaces.Dict({k: gym.spaces.Box(-1, 1, (n,), np.float32) for k, n in PARTS.items()})
            if structured else gym.spaces.Box(-1, 1, (SIZE,), np.float32))
        self.action_space = gym.spaces.Discrete(4)
        self.bounds = np.cumsum([0, *PARTS.values()])

    def _observe(self) -> np.ndarray | dict[str, np.ndarray]:
        floats = self.np_random.uniform(-1, 1, SIZE).astype(np.float32)
        if not self.structured:
            return floats
        return {key: floats[a:b] for key, a, b in zip(PARTS, self.bounds[:-1], self.bounds[1:],
                                                      strict=True)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._observe(), {}

    def step(self, action):
        return self._observe(), 0.0, False, False, {}


for _id, _structured in (("BoxFloats-v0", False), ("DictFloats-v0", True)):
    if _id not in gym.registry:  # run as a script, this module is imported a second time
        gym.register(_id, entry_point=Floats, kwargs={"structured": _structured},
                     max_episode_steps=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/structured_speed.json")
    args = parser.parse_args()

    import export
    import keras_pg
    import serve
    from bench.serve_latency import alternating_percentiles_us
    from bench.train_speed import machine

    agents = {kind: keras_pg.REINFORCE(f"bench.structured_speed:{kind.capitalize()}Floats-v0",
                                       seed=0, hidden=(64, 64), preset="none")
              for kind in ("box", "dict")}
    params = {kind: int(sum(np.prod(w.shape) for w in agent.model.trainable_weights))
              for kind, agent in agents.items()}  # the normalizers: one count more for Dict
    assert params["box"] == params["dict"], params
    with tempfile.TemporaryDirectory() as tmp:
        paths = {kind: Path(tmp) / f"{kind}.onnx" for kind in agents}
        for kind, agent in agents.items():  # warm-up: TensorFlow's and tf2onnx's first calls
            export.to_onnx(agent, paths[kind])
        seconds: dict[str, list[float]] = {kind: [] for kind in agents}
        for _ in range(args.repeats):
            for kind, agent in agents.items():
                start = time.perf_counter()
                export.to_onnx(agent, paths[kind])
                seconds[kind].append(time.perf_counter() - start)
        policies = {kind: serve.OnnxPolicy(path) for kind, path in paths.items()}
        rng = np.random.default_rng(0)
        box = rng.uniform(-1, 1, SIZE).astype(np.float32)
        parts = {k: rng.uniform(-1, 1, n).astype(np.float32) for k, n in PARTS.items()}
        latency = alternating_percentiles_us(
            {"box": lambda: policies["box"].act(box), "dict": lambda: policies["dict"].act(parts)},
            args.calls)
    export_median = {kind: round(float(np.median(s)), 3) for kind, s in seconds.items()}
    export_ratio = round(export_median["dict"] / export_median["box"], 3)
    act_ratio = round(latency["dict"]["p50_us"] / latency["box"]["p50_us"], 3)
    result = {
        "benchmark": "structured_speed", "machine": machine(), "date": time.strftime("%Y-%m-%d"),
        "parameters": params["box"], "parts": PARTS,
        "export_s": {kind: [round(x, 3) for x in s] for kind, s in seconds.items()},
        "export_median_s": export_median, "export_ratio_dict_to_box": export_ratio,
        "act_us": latency, "act_p50_ratio_dict_to_box": act_ratio,
        "targets": {"export": "ratio within [0.8, 1.2]", "act": "p50 ratio <= 1.5"},
        "targets_met": {"export": 0.8 <= export_ratio <= 1.2, "act": act_ratio <= 1.5},
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"export median s: {export_median} (ratio {export_ratio}); act p50 us: box "
          f"{latency['box']['p50_us']}, dict {latency['dict']['p50_us']} (ratio {act_ratio})")


if __name__ == "__main__":
    main()
