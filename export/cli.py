"""`python -m export RUN_DIR [-o PATH] [--opset N]`: the command line of export/."""

import argparse
import sys
from pathlib import Path

from export.checks import (
    DEFAULT_OPSET,
    MAX_OPSET,
    MIN_OPSET,
    check_opset,
    check_source,
    check_writable,
    default_output,
)
from export.errors import ExportError, VerificationError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description="Export a trained keras_pg policy to one verified ONNX file.")
    parser.add_argument("source", type=Path, help="a run directory or a model.keras file")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="output .onnx path (default: RUN_DIR/policy.onnx)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                        help=f"ONNX opset, {MIN_OPSET}-{MAX_OPSET} (default: {DEFAULT_OPSET})")
    parser.add_argument("--env", default=None,
                        help="gymnasium env id, if the model has no config.json beside it")
    args = parser.parse_args(argv)
    try:
        # Before importing TensorFlow (seconds): a mistake in the arguments comes back at once.
        check_source(args.source)
        check_opset(args.opset)
        check_writable(args.output or default_output(args.source))
        import keras_pg  # noqa: F401  (quiets TensorFlow's start-up logging before it loads)
        from export.export import to_onnx

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
