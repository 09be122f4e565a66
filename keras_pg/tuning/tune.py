"""Hyperparameter search with Optuna: `keras_pg.tune(...)` and `python -m keras_pg tune`.

A study lives in a database (`storage`, e.g. sqlite:///runs/tune.db): killed and started
again with the same command, the tuner continues it with every finished trial kept (a trial
that was running when the process died is marked failed by Optuna's heartbeat and tried
again once), and several tuner processes on one storage share the study. `trials` is the
size of the study to reach: completed and pruned trials count.

Each trial trains a REINFORCE agent with the base settings plus one draw from the search
space (keras_pg/tuning/search_space.py; TPE sampler, seeded) for `max_steps` env steps, in its own
run directory OUT/trials/NNNN (TensorBoard events included, to compare them).

Objective ("auc", the default): the area under the learning curve -- the mean of the
training mean return (last `solve_window` episodes) at CHECKPOINTS evenly spaced points of
the step budget, a run that solves early counting its final level for the points it skips.
It rewards what a preset is for: learning fast and reliably within a budget; a final greedy
evaluation alone is noisy and blind to speed. "eval" maximizes the greedy evaluation instead.
The same checkpoint values feed Optuna's MedianPruner, which stops trials clearly worse than
the median of earlier ones at the same point of the budget.

A study records what it tunes when it is created (keras_pg.tuning.study_record: env, search space,
objective, budget, seeds, preset and fixed settings) and refuses to be continued with other
ones: trials of different settings are not comparable, and its best config would lie.

Writes OUT/best_config.json (loadable with `train --config`), OUT/optimization_history.png and
OUT/param_importances.png.
"""

from __future__ import annotations

import math
import random
import re
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import keras

from keras_pg.config import ConfigError, is_positive_int
from keras_pg.tuning.search_space import read_space, suggest
from keras_pg.tuning.study_record import DIRECTION, check_record, study_record

if TYPE_CHECKING:  # for their names only: optuna is imported when a study runs
    import gymnasium as gym
    import optuna

CHECKPOINTS = 20
STORAGE_ATTEMPTS = 5
OBJECTIVES = ("auc", "eval")
STORAGE_URL = re.compile(r"^(sqlite|postgresql|mysql)(\+\w+)?://")
IN_MEMORY = re.compile(r"^sqlite(\+\w+)?://(/(:memory:)?)?(\?|$)")  # SQLAlchemy's in-memory


class TrialReport(keras.callbacks.Callback):
    """Reports the training mean return at CHECKPOINTS points of the step budget to an
    Optuna trial, stops training when the pruner says so, and keeps the curve for the AUC."""

    def __init__(self, trial: optuna.Trial, max_steps: int, first_step: int = 0) -> None:
        super().__init__()
        self.trial, self.max_steps, self.first_step = trial, max_steps, first_step
        self.curve: list[float] = []
        self.pruned = False

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        assert logs is not None  # training passes every update's logs (callbacks.LOG_KEYS)
        while (len(self.curve) < CHECKPOINTS
               and logs["env_steps"] >= (len(self.curve) + 1) * self.max_steps / CHECKPOINTS):
            self.curve.append(float(logs["mean_return"]))
            self.trial.report(self.curve[-1], self.first_step + len(self.curve))
            if self.trial.should_prune():
                self.pruned = True
                self.model.stop_training = True
                return

    def auc(self, final_mean_return: float) -> float:
        """The mean of the checkpoint values; points after an early stop take the final."""
        points = self.curve + [final_mean_return] * (CHECKPOINTS - len(self.curve))
        return float(sum(points) / len(points))


def tune(env: str | Callable[..., gym.Env] = "CartPole-v1", *, trials: int = 20,
         storage: str = "sqlite:///runs/tune.db", study: str = "keras_pg",
         max_steps: int = 100_000, out: str | Path | None = None,
         space: str | Path | None = None, objective: str = "auc", seed: int = 0,
         seeds: int = 1, preset: str = "none", verbose: int = 0,
         **settings: Any) -> dict[str, Any]:
    """Run (or continue) a study; returns its summary (best config, value, trial counts).

    Args:
        env: as for REINFORCE.
        trials: the study's size to reach (completed + pruned trials).
        storage: an Optuna database URL (sqlite:///PATH, postgresql://..., mysql://...).
        study: the study's name in the storage.
        max_steps: env steps per trial.
        out: where trials, best_config.json and the plots go (default runs/tune/STUDY).
        space: a JSON file replacing the default search space (search_space.DEFAULT_SPACE).
        objective: "auc" (area under the learning curve) or "eval" (greedy evaluation).
        seed: the seed of every trial's training and of the sampler.
        seeds: trials train on seeds seed..seed+seeds-1, one after the other, and score the
            mean of their objectives (more robust settings, at that many times the cost).
        preset: the preset under the sampled values ("none": the generic defaults).
        verbose: 1 prints a line per trial and the table of the best trials.
        **settings: Config fields fixed for every trial.

    Raises:
        ConfigError: bad input, or a study recorded with other settings (before any trial).
        OSError: `out` is not a directory this process can write (before any trial).
    """
    import optuna

    out = Path(out) if out is not None else Path("runs") / "tune" / study
    search = _check_arguments(trials, storage, study, max_steps, objective, space)
    if not is_positive_int(seeds):
        raise ConfigError(f"seeds must be a positive integer, got {seeds!r}")
    settings.setdefault("eval_episodes", 100 if objective == "eval" else 10)
    record = study_record(env, search=search, objective=objective, max_steps=max_steps,
                          seed=seed, seeds=seeds, preset=preset, settings=settings)
    _check_writable(out)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
    try:
        the_study = open_study(optuna, storage, study, seed)
        check_record(the_study, storage, record)
        run = _objective(env, the_study, search, out, max_steps, objective, seed, seeds,
                         preset, settings)
        done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        if len(the_study.get_trials(deepcopy=False, states=done)) < trials:
            the_study.optimize(run, callbacks=[optuna.study.MaxTrialsCallback(trials, done)],
                               catch=(ConfigError,))
    finally:
        optuna.logging.set_verbosity(verbosity)
    from keras_pg.tuning.report import write_report

    return write_report(the_study, out, objective, verbose)


def _check_arguments(trials: int, storage: str, study: str, max_steps: int, objective: str,
                     space: str | Path | None) -> dict[str, dict[str, Any]]:
    if not is_positive_int(trials):
        raise ConfigError(f"trials must be a positive integer, got {trials!r}")
    if not is_positive_int(max_steps):
        raise ConfigError(f"max_steps must be a positive integer, got {max_steps!r}")
    if not STORAGE_URL.match(storage):
        raise ConfigError(f"storage must be a database URL such as sqlite:///runs/tune.db, "
                          f"got {storage!r}")
    if IN_MEMORY.match(storage):
        raise ConfigError(f"storage {storage} is an in-memory database: nothing would persist, "
                          f"and the study could not be continued or shared; give a file, e.g. "
                          f"sqlite:///runs/tune.db")
    if not study or not isinstance(study, str):
        raise ConfigError(f"study must be a name, got {study!r}")
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, got "
                          f"{objective!r}")
    return read_space(Path(space) if space is not None else None)


def _check_writable(out: Path) -> None:
    """Create `out` and write a file in it, so that a place the trials cannot write fails
    before the study starts, not as a failed trial: an OSError naming `out` (one line and
    exit 74 on the command line, as any I/O error)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as exc:
        raise OSError(exc.errno, f"{exc.strerror or exc}; give --out a writable directory",
                      str(out)) from None


def open_study(optuna: ModuleType, storage: str, name: str, seed: int) -> optuna.Study:
    """The study `name` in `storage` (created if new; its sqlite folder too), with TPE sampling
    seeded by `seed`, median pruning, and heartbeats that retry a trial whose process died;
    a ConfigError in one line when the storage cannot be opened."""
    if storage.startswith("sqlite:///"):
        folder = Path(storage.removeprefix("sqlite:///")).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot open the storage {storage}: cannot create the folder "
                              f"{folder}: {exc.strerror or exc}") from None
    backend = None
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # the heartbeat is "experimental" since Optuna 2.8
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                backend = optuna.storages.RDBStorage(
                    storage, heartbeat_interval=5, grace_period=15,
                    heartbeat_stale_trial_callback=(
                        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)))
            break
        except Exception as exc:  # SQLAlchemy and the drivers raise many types
            # Two tuners creating one new database race to create its tables and first rows:
            # the loser finds them half made; a moment later they are whole.
            racing = type(exc).__name__ in ("OperationalError", "IntegrityError")
            if racing and attempt + 1 < STORAGE_ATTEMPTS:
                time.sleep(0.2 + random.random() * 0.3)
                continue
            raise ConfigError(f"cannot open the storage {storage}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:160]}") from None
    return optuna.create_study(
        study_name=name, storage=backend, direction=DIRECTION, load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=CHECKPOINTS // 4))


def _objective(env: str | Callable[..., gym.Env], study: optuna.Study,
               search: dict[str, dict[str, Any]], out: Path, max_steps: int, objective: str,
               seed: int, seeds: int, preset: str,
               settings: dict[str, Any]) -> Callable[[optuna.Trial], float]:
    """The function Optuna calls per trial: train, report, and return the objective."""
    import optuna

    from keras_pg.agent import REINFORCE

    def run(trial: optuna.Trial) -> float:
        values = {**settings, **suggest(trial, search), "max_steps": max_steps}
        if values.get("backend") == "graph":
            values["num_envs"] = values.get("episodes_per_update", values.get("num_envs", 16))
        scores = []
        for k in range(seeds):  # one after the other; the pruner sees them as one curve
            agent = REINFORCE(env, run_dir=out / "trials" / f"{trial.number:04d}-s{seed + k}",
                              preset=preset, seed=seed + k, **values)
            report = TrialReport(trial, max_steps, first_step=k * CHECKPOINTS)
            with agent:
                summary = agent.learn(callbacks=[report])
            trial.set_user_attr("config", {**agent.config.to_dict(), "seed": seed})
            trial.set_user_attr(f"summary_seed{seed + k}", {key: summary[key] for key in (
                "env_steps", "train_wall_s", "final_mean_return", "eval_mean_return",
                "solved")})
            if report.pruned:
                raise optuna.TrialPruned
            scores.append(report.auc(summary["final_mean_return"]) if objective == "auc"
                          else summary["eval_mean_return"])
        value = sum(scores) / len(scores) if None not in scores else None
        if value is None or not math.isfinite(value):
            raise ConfigError(f"trial {trial.number} gave no {objective} value")
        trial.set_user_attr("summary", trial.user_attrs[f"summary_seed{seed}"])
        return value

    return run

