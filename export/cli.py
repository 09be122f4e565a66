"""`python -m export RUN_DIR [-o PATH] [--opset N] [--quantize int8]
[--triton-repo DIR [--model-name NAME]]`: the command line of export/."""

import argparse
import sys
from pathlib import Path
from typing import Any

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

QUANTIZE_DTYPES = ("int8",)  # export.quantize.DTYPES, not imported: it loads onnxruntime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description="Export a trained keras_pg policy to one verified ONNX file.")
    parser.add_argument("source", type=Path,
                        help="a run directory or a model.keras file (or, with --triton-repo, "
                             "an exported .onnx)")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="output .onnx path (default: RUN_DIR/policy.onnx)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                        help=f"ONNX opset, {MIN_OPSET}-{MAX_OPSET} (default: {DEFAULT_OPSET})")
    parser.add_argument("--env", default=None,
                        help="gymnasium env id, if the model has no config.json beside it")
    parser.add_argument("--quantize", choices=QUANTIZE_DTYPES, default=None,
                        help="write an int8 model instead (default path: "
                             "RUN_DIR/policy.int8.onnx), refused below 99%% greedy agreement "
                             "with the float model")
    parser.add_argument("--triton-repo", type=Path, default=None, metavar="DIR",
                        help="write a Triton model repository instead: DIR/NAME/1/model.onnx "
                             "and DIR/NAME/config.pbtxt")
    parser.add_argument("--model-name", default="policy", metavar="NAME",
                        help="the model's name in the Triton repository (default: policy)")
    args = parser.parse_args(argv)
    try:
        if args.triton_repo is not None:
            return _triton(args)
        # Before importing TensorFlow (seconds): a mistake in the arguments comes back at once.
        check_source(args.source)
        check_opset(args.opset)
        check_writable(args.output or default_output(args.source))
        report = _export(args, args.output)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except VerificationError as exc:
        print(f"error: verification failed, nothing written: {exc}", file=sys.stderr)
        return 1
    _print_report(report)
    return 0


def _export(args: argparse.Namespace, output: Path | None) -> dict[str, Any]:
    import keras_pg  # noqa: F401  (quiets TensorFlow's start-up logging before it loads)
    from export.export import to_onnx

    return to_onnx(args.source, output, opset=args.opset, env_id=args.env,
                   quantize=args.quantize)


def _print_report(report: dict[str, Any]) -> None:
    print(f"wrote {report['path']} ({report['file_bytes']:,} bytes, opset {report['opset']}) "
          f"in {report['export_s']:.1f} s; max |Δ| {max(report['max_abs_diff'].values()):.1e} "
          f"on {sum(report['observations'].values()):,} observations, greedy agreement "
          f"{report['action_agreement']:.0%}")
    if "quantization" in report:
        q = report["quantization"]
        diffs = ", ".join(f"|Δ{name}| {value:.1e}" for name, value in q["max_abs_diff"].items())
        print(f"{q['dtype']} ({q['method']}) against the float model: greedy agreement "
              f"{q['action_agreement']:.1%}, max {diffs}; {q['float_file_bytes']:,} -> "
              f"{report['file_bytes']:,} bytes")


def _triton(args: argparse.Namespace) -> int:
    """--triton-repo: export (or take an exported .onnx) into DIR/NAME/1/model.onnx, then
    write DIR/NAME/config.pbtxt. A failed export leaves no directory it created."""
    from export import triton

    if args.output is not None:
        raise ExportError("give -o or --triton-repo, not both (the repository names the file)")
    triton.check_repository(args.triton_repo, args.model_name)
    if args.source.suffix == ".onnx":
        if args.quantize is not None:
            raise ExportError("--quantize needs a run directory or a .keras file (the int8 "
                              "model is checked against the float one on its observations), "
                              f"not the exported {args.source}")
        if not args.source.is_file():
            raise ExportError(f"{args.source} not found; expected an exported .onnx file")
        model, config = triton.package(args.source, args.triton_repo, args.model_name)
        print(f"wrote {model} and {config}")
        return 0
    check_source(args.source)
    check_opset(args.opset)
    target = triton.model_path(args.triton_repo, args.model_name)
    existing = triton.make_version_dir(args.triton_repo, args.model_name)
    try:
        report = _export(args, target)
        config = triton.write_config(args.triton_repo, args.model_name)
    except BaseException:
        triton.remove_empty(target.parent, existing)
        raise
    _print_report(report)
    print(f"wrote {config}")
    return 0
