"""The learning-curve figure of a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from keras_pg.run.files import atomic_write


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last `window` values at each index (fewer at the start). float [T]."""
    values = np.asarray(values, dtype=np.float64)
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.arange(1, len(values) + 1) - counts]) / counts


def plot_learning_curve(path: Path, episode_returns: np.ndarray, threshold: float | None,
                        title: str) -> None:
    """The article's plot: return per episode, its 10-episode moving average, the threshold."""
    # A Figure with its own Agg canvas, not pyplot: the user's matplotlib backend and
    # pyplot's figure list are left alone.
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    episodes = np.arange(1, len(episode_returns) + 1)
    ax.plot(episodes, episode_returns, lw=0.8, alpha=0.5, label="episode return")
    ax.plot(episodes, moving_average(episode_returns, 10), lw=1.6, label="10-episode mean")
    if threshold is not None:
        ax.axhline(threshold, color="black", ls="--", lw=1, label=f"solved ({threshold:g})")
    ax.set(xlabel="episode", ylabel="return", title=title)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
