"""`python -m keras_pg train|evaluate`: the command line over `keras_pg.REINFORCE`.

Every flag of `train` is a field of `Config` (generated from it); the command builds a
REINFORCE agent and learns, exactly as a Python script would; `python -m export RUN_DIR`
then writes policy.onnx.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from keras_pg.config import Config, ConfigError, KerasPGWarning
from keras_pg.flags import add_config_flags, given_settings
from keras_pg.presets import AUTO, NONE, PRESETS
from keras_pg.run.files import RunDirError, read_json

EXIT_FAILED, EXIT_USAGE, EXIT_IO, EXIT_INTERRUPTED = 1, 2, 74, 130  # 74: sysexits EX_IOERR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m keras_pg",
        description="Train a Keras 3 policy with REINFORCE on a gymnasium environment.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a policy")
    train.add_argument("--preset", default=AUTO, choices=[AUTO, NONE, *sorted(PRESETS)],
                       help="auto: the env's tuned settings when it has a preset (none with "
                            "--config); none: the generic defaults; seed: the article's "
                            "settings; or a preset name. Flags given here override it "
                            "(default: auto)")
    train.add_argument("--config", type=Path, default=None, metavar="FILE",
                       help="start from a config.json (of a run) or best_config.json (of a "
                            "tune); flags given here override it")
    add_config_flags(train)
    train.add_argument("--run-dir", type=Path, default=None,
                       help="where to write the run (default: runs/ENV-sSEED-TIME)")
    train.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                       help="continue the run in RUN_DIR from its checkpoint")
    train.add_argument("--checkpoint-every", type=float, default=10.0, metavar="SECONDS",
                       help="seconds of training between checkpoints (default: 10)")
    train.add_argument("--quiet", action="store_true", help="print only errors and the summary")

    evaluate = commands.add_parser(
        "evaluate", help="greedy evaluation of a trained run",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    evaluate.add_argument("run_dir", type=Path, help="a run directory written by train")
    evaluate.add_argument("--episodes", type=int, default=100, help="episodes to run")
    evaluate.add_argument("--seed", type=int, default=12345, help="seeds the episodes")
    from keras_pg.tuning.cli import add_tune_parser

    add_tune_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", KerasPGWarning)
            try:
                return COMMANDS[args.command](args)
            finally:
                for warning in caught:
                    if issubclass(warning.category, KerasPGWarning):
                        print(f"warning: {warning.message}", file=sys.stderr)
    except (ConfigError, RunDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # disk full, permission denied, ...: every file is written atomically
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: cannot write the run: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_IO
    except KeyboardInterrupt:  # outside training (which saves and exits on its own)
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _train(args: argparse.Namespace) -> int:
    if not (args.checkpoint_every > 0 and math.isfinite(args.checkpoint_every)):
        raise ConfigError(f"--checkpoint-every must be a positive number of seconds, got "
                          f"{args.checkpoint_every}")
    from keras_pg import REINFORCE
    from keras_pg.algorithm.update import NonFiniteLossError
    from keras_pg.backends.rollout import EnvFailure, EnvOutputError
    from keras_pg.envs.masks import ActionMaskError
    from keras_pg.signals import stop_on_signals
    from keras_pg.train import INTERRUPTED

    verbose = 0 if args.quiet else 1
    if args.resume is not None:
        given = [f"--{name.replace('_', '-')}" for name in given_settings(args)]
        if given or args.preset != AUTO or args.run_dir or args.config:
            raise ConfigError(f"--resume takes the run's own config; drop "
                              f"{given or ['--preset/--run-dir/--config']}")
        agent = REINFORCE.load(args.resume, verbose=verbose)
    else:
        settings = {**config_file(args.config), **given_settings(args)}
        preset = NONE if args.config and args.preset == AUTO else args.preset
        env = settings.pop("env_id", None) or PRESETS.get(preset, {}).get(
            "env_id", Config.env_id)
        run_dir = args.run_dir or Path("runs") / (
            f"{env.replace(':', '_')}-s{settings.get('seed', 0)}-{time.strftime('%Y%m%d-%H%M%S')}")
        agent = REINFORCE(env, run_dir=run_dir, preset=preset, verbose=verbose, **settings)
        if agent.preset and not args.quiet:
            print(f"using the tuned preset {agent.preset} (--preset none for the generic "
                  f"defaults)", flush=True)
    with agent, stop_on_signals() as signals:
        try:
            summary = agent.learn(checkpoint_every_s=args.checkpoint_every,
                                  should_stop=lambda: bool(signals))
        except (NonFiniteLossError, EnvOutputError, EnvFailure, ActionMaskError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
    if summary["stop_reason"] == INTERRUPTED:
        print(f"interrupted: checkpoint saved; continue with "
              f"python -m keras_pg train --resume {agent.run_dir}", file=sys.stderr)
        return EXIT_INTERRUPTED
    _print_summary(summary, agent.run_dir)
    if not args.quiet:
        print(f"next: python -m export {agent.run_dir}   # writes policy.onnx, verified")
    return 0


def config_file(path: Path | None) -> dict[str, Any]:
    """The settings of a config.json or best_config.json (none without a path); a one-line
    error naming the file for anything that is not a keras_pg config."""
    if path is None:
        return {}
    try:
        config = Config.from_dict(read_json(path))
    except ConfigError as exc:
        raise ConfigError(f"{path} is not a keras_pg config: {exc}") from None
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(Config)}


def _print_summary(summary: dict[str, Any], run_dir: Path | None) -> None:
    state = "solved" if summary["solved"] else "not solved"
    evaluation = (f"greedy eval {summary['eval_mean_return']:.1f} ± "
                  f"{summary['eval_std_return']:.1f} over {summary['eval_episodes']} episodes"
                  if summary["eval_episodes"] else "no evaluation")
    print(f"{summary['env_id']}: {state} after {summary['episodes']:,} episodes, "
          f"{summary['env_steps']:,} steps (budget {summary['step_budget']:,}) in "
          f"{summary['train_wall_s']:.1f} s "
          f"({summary['steps_per_s']:,.0f} steps/s); {evaluation}; run dir {run_dir}")


def _evaluate(args: argparse.Namespace) -> int:
    from keras_pg import REINFORCE

    if args.episodes <= 0:
        raise ConfigError(f"--episodes must be a positive integer, got {args.episodes}")
    with REINFORCE.load(args.run_dir) as agent:
        result = agent.evaluate(args.episodes, seed=args.seed)
    print(f"{agent.config.env_id}: greedy return {result['mean_return']:.1f} ± "
          f"{result['std_return']:.1f} over {result['episodes']} episodes")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from keras_pg.tuning.cli import run_tune

    return run_tune(args, given_settings(args))


COMMANDS = {"train": _train, "evaluate": _evaluate, "tune": _tune}
