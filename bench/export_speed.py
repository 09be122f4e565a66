"""Benchmark: `export.to_onnx` (conversion + verification) beside a bare tf2onnx conversion.

    python bench/export_speed.py [--repeats 5]

Trains a CartPole-v1 policy with the defaults (not timed), then in one run times
(a) export.to_onnx on the run directory: load, convert, check, 2,000-observation parity,
    batch 1 and 1,024, atomic write;
(b) the baseline: tf2onnx.convert.from_function on the same model, nothing else;
(c) `python -m export RUN_DIR` end to end, TensorFlow import included.
Writes bench/results/export.json.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/export.json")
    args = parser.parse_args()

    import keras
    import tf2onnx

    import export
    from bench.train_speed import machine
    from export.convert import policy_function
    from keras_pg.cli import main as keras_pg_main
    from keras_pg.policy import CategoricalHead

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        assert keras_pg_main(["train", "--run-dir", str(run_dir), "--quiet"]) == 0
        reports = [export.to_onnx(run_dir) for _ in range(args.repeats)]
        model = keras.models.load_model(run_dir / "model.keras")
        bare = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn = policy_function(model, CategoricalHead(2))
            tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=17)
            bare.append(time.perf_counter() - start)
        cli = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "export", str(run_dir)], cwd=ROOT, check=True,
                           capture_output=True)
            cli.append(time.perf_counter() - start)

    export_s = [r["export_s"] for r in reports]
    result = {
        "benchmark": "export", "env_id": "CartPole-v1", "machine": machine(),
        "date": time.strftime("%Y-%m-%d"), "repeats": args.repeats,
        "to_onnx_s_median": round(float(np.median(export_s)), 3),
        "to_onnx_s_max": round(float(np.max(export_s)), 3),
        "bare_tf2onnx_s_median": round(float(np.median(bare)), 3),
        "cli_wall_s_median": round(float(np.median(cli)), 3),
        "file_bytes": reports[-1]["file_bytes"],
        "max_abs_diff_probs": max(r["max_abs_diff"]["probs"] for r in reports),
        "action_agreement_min": min(r["action_agreement"] for r in reports),
        "observations_checked": sum(reports[-1]["observations"].values()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
