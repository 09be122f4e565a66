"""`python -m keras_pg train|evaluate`: the command line, generated from Config."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import types
import typing
from pathlib import Path
from typing import Any

from keras_pg.config import PRESETS, Config, ConfigError
from keras_pg.run_dir import RunDirError

FLAG_NAMES = {"env_id": "--env"}
EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


def _parser_for(annotation: Any):
    """A string -> value parser for a Config field's type annotation."""
    hint = typing.get_type_hints(Config)[annotation]
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if optional else hint

    def parse(text: str) -> Any:
        if optional and text.lower() == "none":
            return None
        if typing.get_origin(base) is tuple:
            return tuple(int(part) for part in text.split(","))
        return base(text)

    parse.__name__ = getattr(base, "__name__", str(base))  # argparse names it in errors
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m keras_pg",
        description="Train a Keras 3 policy with REINFORCE on a gymnasium environment.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a policy")
    train.add_argument("--preset", choices=sorted(PRESETS),
                       help="start from a named preset: seed (the article's settings) or an "
                            "env id (tuned settings); flags given here override it")
    for f in dataclasses.fields(Config):
        flag = FLAG_NAMES.get(f.name, "--" + f.name.replace("_", "-"))
        default = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
        help_text = f"{f.metadata['help']} (default: {default})"
        if isinstance(f.default, bool):
            train.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                               default=None, help=help_text)
        else:
            train.add_argument(flag, dest=f.name, type=_parser_for(f.name), default=None,
                               help=help_text)
    train.add_argument("--run-dir", type=Path, default=None,
                       help="where to write the run (default: runs/ENV-sSEED-TIME)")
    train.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                       help="continue the run in RUN_DIR from its checkpoint")
    train.add_argument("--checkpoint-every", type=float, default=10.0, metavar="SECONDS",
                       help="seconds of training between checkpoints (default: 10)")
    train.add_argument("--no-export", action="store_true",
                       help="skip writing RUN_DIR/policy.onnx at the end")
    train.add_argument("--quiet", action="store_true", help="print only errors and the summary")

    evaluate = commands.add_parser(
        "evaluate", help="greedy evaluation of a trained run",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    evaluate.add_argument("run_dir", type=Path, help="a run directory written by train")
    evaluate.add_argument("--episodes", type=int, default=100, help="episodes to run")
    evaluate.add_argument("--seed", type=int, default=12345, help="seeds the episodes")
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    """Defaults, then the preset, then the flags given; validated by Config."""
    values: dict[str, Any] = dict(PRESETS[args.preset]) if args.preset else {}
    for f in dataclasses.fields(Config):
        if getattr(args, f.name) is not None:
            values[f.name] = getattr(args, f.name)
    return Config(**values)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        return _evaluate(args)
    except (ConfigError, RunDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # outside training (which saves and exits on its own)
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _train(args: argparse.Namespace) -> int:
    from keras_pg import run_dir as rd
    from keras_pg.envs import check_env

    if args.resume is not None:
        given = [f.name for f in dataclasses.fields(Config) if getattr(args, f.name) is not None]
        if given or args.preset or args.run_dir:
            dropped = given or ["--preset/--run-dir"]
            raise ConfigError(f"--resume takes the run's own config; drop {dropped}")
        run_dir = rd.prepare(args.resume, resume=True)
        config = Config.from_dict(rd.read_json(run_dir / rd.CONFIG))
    else:
        config = config_from_args(args)
        check_env(config.env_id)
        if config.backend == "graph":
            from keras_pg.graph_envs import make_graph_env

            make_graph_env(config.env_id)
        run_dir = rd.prepare(args.run_dir or Path("runs") / (
            f"{config.env_id}-s{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"), resume=False)
    # TensorFlow is imported only once the arguments are known to be good: user errors
    # come back in a fraction of a second.
    from keras_pg.progress import Reporter
    from keras_pg.signals import stop_on_signals
    from keras_pg.train import Trainer
    from keras_pg.update import NonFiniteLossError

    with stop_on_signals() as signals, Reporter(config.max_steps, quiet=args.quiet) as reporter:
        trainer = Trainer(config, run_dir, reporter)
        try:
            if args.resume is not None:
                trainer.restore()
            else:
                rd.write_json(run_dir / rd.CONFIG, config.to_dict())
            trainer.run(signals, checkpoint_every_s=args.checkpoint_every)
        except NonFiniteLossError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            trainer.close()
    if signals:
        print(f"interrupted: checkpoint saved; continue with "
              f"python -m keras_pg train --resume {run_dir}", file=sys.stderr)
        return EXIT_INTERRUPTED
    summary = trainer.finish()
    _print_summary(summary, run_dir)
    return 0 if args.no_export else _export(run_dir)


def _export(run_dir: Path) -> int:
    """Write RUN_DIR/policy.onnx (export/ verifies it against the Keras model)."""
    from export import ExportError, VerificationError, to_onnx

    try:
        report = to_onnx(run_dir)
    except (ExportError, VerificationError) as exc:
        print(f"error: training finished but the ONNX export failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"exported {report['path']} ({report['file_bytes']:,} bytes); max |Δ| vs Keras "
          f"{max(report['max_abs_diff'].values()):.1e}, greedy agreement "
          f"{report['action_agreement']:.0%}")
    return 0


def _print_summary(summary: dict[str, Any], run_dir: Path) -> None:
    state = "solved" if summary["solved"] else "not solved"
    print(f"{summary['env_id']}: {state} after {summary['episodes']:,} episodes, "
          f"{summary['env_steps']:,} steps in {summary['train_wall_s']:.1f} s "
          f"({summary['steps_per_s']:,.0f} steps/s); greedy eval "
          f"{summary['eval_mean_return']:.1f} ± {summary['eval_std_return']:.1f} over "
          f"{summary['eval_episodes']} episodes; run dir {run_dir}")


def _evaluate(args: argparse.Namespace) -> int:
    import keras

    from keras_pg import run_dir as rd
    from keras_pg.evaluate import evaluate_policy

    if args.episodes <= 0:
        raise ConfigError(f"--episodes must be a positive integer, got {args.episodes}")
    config = Config.from_dict(rd.read_json(args.run_dir / rd.CONFIG))
    model_path = args.run_dir / rd.MODEL
    if not model_path.exists():
        raise RunDirError(f"{model_path} not found; train the run first")
    model = keras.models.load_model(model_path)
    result = evaluate_policy(model, config.env_id, args.episodes, seed=args.seed)
    print(f"{config.env_id}: greedy return {result.mean_return:.1f} ± {result.std_return:.1f} "
          f"over {result.episodes} episodes")
    return 0
