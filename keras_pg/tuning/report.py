"""What a study leaves behind: best_config.json, Optuna's plots, and the table of the best
trials."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from keras_pg.run import files

if TYPE_CHECKING:  # for its names only: optuna is imported when a study runs
    import optuna

BEST_CONFIG = "best_config.json"
PLOTS = ("optimization_history", "param_importances")
TABLE_ROWS = 5


def write_report(study: optuna.Study, out: Path, objective: str, verbose: int) -> dict[str, Any]:
    """Write OUT/best_config.json and the plots; print the table when verbose; return the
    summary (study, trial counts, best trial, its `objective` value and config, files
    written)."""
    import optuna

    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    result: dict[str, Any] = {"study": study.study_name, "trials": counts, "out": str(out)}
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return result
    best = study.best_trial
    result |= {"best_trial": best.number, "best_value": best.value,
               "best_params": best.params, "best_config": best.user_attrs["config"],
               "objective": objective}
    out.mkdir(parents=True, exist_ok=True)
    files.write_json(out / BEST_CONFIG, best.user_attrs["config"])
    result["plots"] = _plots(study, out)
    if verbose:
        _print_table(complete)
    return result


def _plots(study: optuna.Study, out: Path) -> list[str]:
    """Optuna's optimization history and parameter importances as PNG (importances need two
    completed trials that differ)."""
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm

    written = []
    for name in PLOTS:
        try:
            axes = getattr(ovm, f"plot_{name}")(study)
        except (ValueError, RuntimeError):  # too few trials for this plot
            continue
        figure = axes.figure
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        files.atomic_write(out / f"{name}.png", functools.partial(figure.savefig, format="png"))
        plt.close(figure)
        written.append(str(out / f"{name}.png"))
    return written


def _print_table(complete: list[optuna.trial.FrozenTrial]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="best trials")
    for column in ("trial", "value", "env steps", "eval"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("parameters")
    # A COMPLETE trial of a single-objective study has its value.
    for trial in sorted(complete, key=lambda t: cast(float, t.value), reverse=True)[:TABLE_ROWS]:
        summary = trial.user_attrs.get("summary", {})
        evaluation = summary.get("eval_mean_return")
        table.add_row(str(trial.number), f"{trial.value:.2f}", f"{summary.get('env_steps', 0):,}",
                      "-" if evaluation is None else f"{evaluation:.1f}",
                      " ".join(f"{k}={_short(v)}" for k, v in sorted(trial.params.items())))
    Console(width=max(Console().width, 120)).print(table)


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
