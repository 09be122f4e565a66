"""`python -m export RUN_DIR [-o PATH] [--opset N]`: the command line of export/."""

import argparse
import sys
from pathlib import Path

import keras_pg  # noqa: F401  (quiets TensorFlow's start-up logging before it is imported)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description="Export a trained keras_pg policy to one verified ONNX file.")
    parser.add_argument("source", type=Path, help="a run directory or a model.keras file")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="output .onnx path (default: RUN_DIR/policy.onnx)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset, 13-18 (default: 17)")
    parser.add_argument("--env", default=None,
                        help="gymnasium env id, if the model has no config.json beside it")
    args = parser.parse_args(argv)
    if not args.source.exists():  # before importing TensorFlow: errors come back at once
        print(f"error: {args.source} not found; expected a run directory or a .keras file",
              file=sys.stderr)
        return 2

    from export import ExportError, VerificationError, to_onnx

    try:
        report = to_onnx(args.source, args.output, opset=args.opset, env_id=args.env)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except VerificationError as exc:
        print(f"error: verification failed, nothing written: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {report['path']} ({report['file_bytes']:,} bytes, opset {report['opset']}) "
          f"in {report['export_s']:.1f} s; max |Δ| {max(report['max_abs_diff'].values()):.1e} "
          f"on {sum(report['observations'].values()):,} observations, greedy agreement "
          f"{report['action_agreement']:.0%}")
    return 0

