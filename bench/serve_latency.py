"""Benchmark: serve.OnnxPolicy beside raw onnxruntime and Keras, on one CartPole policy.

    python bench/serve_latency.py [--run-dir RUN_DIR]

In one run: act() single-observation p50/p99 beside raw InferenceSession.run on the same model
and observation, the two called in turn (target: act p50 at most 1.3x raw's; the ratio is the
median over 3 rounds of 20,000 calls each); Keras
`model(obs)` and `model.predict` p50 on the same weights; batched throughput at batch 1,024;
cold `import serve` time and RSS after loading a policy, beside `import tensorflow` and a
loaded Keras model; HTTP requests/s and p50/p99 with 4 concurrent loopback clients for 10 s.
Writes bench/results/serve_latency.json.
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


def percentiles_us(fn, calls: int, warmup: int = 200) -> dict:
    """p50/p99 in microseconds of `fn()` over `calls` timed calls."""
    for _ in range(warmup):
        fn()
    times = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter_ns()
        fn()
        times[i] = time.perf_counter_ns() - start
    return {"p50_us": round(float(np.percentile(times, 50)) / 1000, 2),
            "p99_us": round(float(np.percentile(times, 99)) / 1000, 2), "calls": calls}


def alternating_percentiles_us(fns: dict, calls: int, rounds: int = 3,
                               warmup: int = 2000) -> dict:
    """p50/p99 (µs) of each of `fns` over `rounds` rounds of `calls` calls each, the
    functions called in turn, call by call (the order rotating every turn), so that a slow
    moment of the machine hits them alike: {name: {"p50_us", "p99_us" (medians over
    rounds), "calls", "rounds": [{"p50_us", "p99_us"}, ...]}}."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    names = list(fns)
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for _ in range(rounds):
        times = {name: np.empty(calls) for name in names}
        for i in range(calls):
            for name in names[i % len(names):] + names[:i % len(names)]:
                fn = fns[name]
                start = time.perf_counter_ns()
                fn()
                times[name][i] = time.perf_counter_ns() - start
        for name in names:
            runs[name].append({"p50_us": round(float(np.percentile(times[name], 50)) / 1000, 2),
                               "p99_us": round(float(np.percentile(times[name], 99)) / 1000, 2)})
    return {name: {"p50_us": round(float(np.median([r["p50_us"] for r in results])), 2),
                   "p99_us": round(float(np.median([r["p99_us"] for r in results])), 2),
                   "calls": calls, "rounds": results}
            for name, results in runs.items()}


def subprocess_stats(code: str, repeats: int = 5) -> dict:
    """Wall seconds (first and median of `repeats`) and peak RSS (MB) of `python -c code`."""
    walls, rss = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        out = subprocess.run(
            # VmHWM, not ru_maxrss: the latter survives exec and would report the parent's.
            [sys.executable, "-c", code + "\nfrom pathlib import Path; print(next(l.split()[1]"
             " for l in Path('/proc/self/status').read_text().splitlines()"
             " if l.startswith('VmHWM')))"],
            cwd=ROOT, capture_output=True, text=True, check=True,
            env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}).stdout
        walls.append(time.perf_counter() - start)
        rss.append(int(out.strip().splitlines()[-1]) / 1024)
    return {"first_s": round(walls[0], 3), "median_s": round(float(np.median(walls)), 3),
            "peak_rss_mb": round(float(np.median(rss)), 1)}


def http_stats(policy_path: Path) -> dict:
    from bench.http_load import run_load, server

    with server(policy_path) as port:
        body = b'{"obs": [0.01, -0.02, 0.03, 0.04]}'
        run_load("127.0.0.1", port, "/v1/act", body, clients=4, seconds=1.0)  # warm-up
        return run_load("127.0.0.1", port, "/v1/act", body, clients=4, seconds=10.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="a trained CartPole run (default: train one now, not timed); "
                             "exported first if it holds no policy.onnx")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/serve_latency.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir
        if run_dir is None:
            run_dir = Path(tmp) / "run"
            subprocess.run([sys.executable, "-m", "keras_pg", "train", "--quiet", "--run-dir",
                            str(run_dir)], cwd=ROOT, check=True, capture_output=True)
        if not (run_dir / "policy.onnx").is_file():  # training leaves the export to export
            subprocess.run([sys.executable, "-m", "export", str(run_dir)], cwd=ROOT, check=True,
                           capture_output=True)
        result = measure(run_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def measure(run_dir: Path) -> dict:
    import onnxruntime as ort

    import serve
    from bench.train_speed import machine

    policy_path = run_dir / "policy.onnx"
    policy = serve.OnnxPolicy(policy_path)
    obs = np.array([0.01, -0.02, 0.03, 0.04], dtype=np.float32)
    batch = np.random.default_rng(0).uniform(-1, 1, (1024, 4)).astype(np.float32)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    raw = ort.InferenceSession(str(policy_path), options, providers=["CPUExecutionProvider"])
    feed = {"obs": obs[None]}
    single = alternating_percentiles_us({"act": lambda: policy.act(obs),
                                         "raw": lambda: raw.run(["action"], feed)}, 20_000)
    act, raw_run = single["act"], single["raw"]
    ratios = [a["p50_us"] / r["p50_us"]
              for a, r in zip(act["rounds"], raw_run["rounds"], strict=True)]
    act_over_raw = round(float(np.median(ratios)), 2)
    batched = percentiles_us(lambda: policy.act(batch), 2_000)

    import keras

    model = keras.models.load_model(run_dir / "model.keras")
    keras_call = percentiles_us(lambda: model(obs[None]), 1_000, warmup=50)
    keras_predict = percentiles_us(lambda: model.predict(obs[None], verbose=0), 200, warmup=10)

    load = f"import serve; serve.OnnxPolicy({str(policy_path)!r}).act([0, 0, 0, 0])"
    load_keras = ("import keras_pg, keras, numpy as np; m = keras.models.load_model("
                  f"{str(run_dir / 'model.keras')!r}); m(np.zeros((1, 4), 'float32'))")
    return {
        "benchmark": "serve_latency", "machine": machine(), "date": time.strftime("%Y-%m-%d"),
        "policy_bytes": policy_path.stat().st_size,
        "act_single": act,
        "raw_session_run_single": raw_run,
        "act_over_raw_p50": act_over_raw,
        "act_over_raw_p50_by_round": [round(r, 2) for r in ratios],
        "act_over_raw_target": "<= 1.3x raw session.run (p50, one observation, same run)",
        "act_over_raw_target_met": act_over_raw <= 1.3,
        "keras_call_single": keras_call,
        "keras_predict_single": keras_predict,
        "speedup_vs_keras_call_p50": round(keras_call["p50_us"] / act["p50_us"], 1),
        "batched_1024": batched | {
            "obs_per_s": round(1024 / (batched["p50_us"] / 1e6))},
        "import_serve": subprocess_stats("import serve"),
        "import_tensorflow": subprocess_stats("import tensorflow"),
        "load_policy_serve": subprocess_stats(load),
        "load_policy_keras": subprocess_stats(load_keras),
        "http": http_stats(policy_path),
    }


if __name__ == "__main__":
    main()
