"""`python -m keras_pg tune`: the command line of keras_pg.tune."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from keras_pg.config import ConfigError
from keras_pg.flags import add_config_flags
from keras_pg.tuning.tune import OBJECTIVES

TUNE_FLAGS: dict[str, dict[str, Any]] = {
    "--trials": {"type": int, "default": 20, "help": "trials the study should have, completed "
                 "or pruned (default: %(default)s)"},
    "--storage": {"default": "sqlite:///runs/tune.db",
                  "help": "an Optuna database URL (default: %(default)s)"},
    "--study": {"default": "keras_pg", "help": "the study's name (default: %(default)s)"},
    "--out": {"type": Path, "default": None,
              "help": "trials, best_config.json and plots (default: runs/tune/STUDY)"},
    "--space": {"type": Path, "default": None, "metavar": "FILE",
                "help": "a JSON search space replacing the default one (see "
                        "keras_pg/tuning/search_space.py)"},
    "--objective": {"choices": OBJECTIVES, "default": "auc",
                    "help": "auc: area under the learning curve; eval: greedy evaluation "
                            "(default: %(default)s)"},
    "--seeds": {"type": int, "default": 1,
                "help": "seeds each trial trains on; it scores their mean (default: %(default)s)"},
    "--tune-preset": {"default": "none", "dest": "preset",
                      "help": "the preset under the sampled values (default: %(default)s)"},
    "--quiet": {"action": "store_true", "help": "print only the result"},
}
"""The tune command's own flags (argparse options by flag); every Config field is a flag too."""


def add_tune_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tune = commands.add_parser(
        "tune", help="search hyperparameters with Optuna",
        description="Search hyperparameters with Optuna (TPE, median pruning). The study "
                    "lives in --storage: run the same command again to continue it. Config "
                    "flags fix a setting for every trial.")
    for flag, options in TUNE_FLAGS.items():
        tune.add_argument(flag, **options)
    add_config_flags(tune)


def run_tune(args: argparse.Namespace, settings: dict[str, Any]) -> int:
    from keras_pg.tuning.tune import tune

    env = settings.pop("env_id", "CartPole-v1")
    seed = settings.pop("seed", 0)
    max_steps = settings.pop("max_steps", 100_000)
    if args.space is not None and not args.space.is_file():
        raise ConfigError(f"--space {args.space} not found; expected a JSON search space")
    result = tune(env, trials=args.trials, storage=args.storage, study=args.study,
                  max_steps=max_steps, out=args.out, space=args.space,
                  objective=args.objective, seed=seed, seeds=args.seeds, preset=args.preset,
                  verbose=0 if args.quiet else 1, **settings)
    counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(result["trials"].items()))
    if "best_trial" not in result:
        print(f"study {result['study']}: {counts}; no completed trial yet")
        return 0
    print(f"study {result['study']}: {counts}; best trial {result['best_trial']} "
          f"({result['objective']} {result['best_value']:.2f}): {result['best_params']}; "
          f"wrote {Path(result['out']) / 'best_config.json'}")
    return 0
