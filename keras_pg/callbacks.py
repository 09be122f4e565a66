"""Keras callbacks during training, driven as `model.fit` drives them.

One update is one epoch of one batch: `on_epoch_begin(update)`, `on_train_batch_begin(0)`,
`on_train_batch_end(0, logs)`, `on_epoch_end(update, logs)`, between `on_train_begin` and
`on_train_end`. `logs` holds the update's metrics (LOG_KEYS); a callback that sets
`model.stop_training = True` ends training after the current update, which is then saved.
So `keras.callbacks.EarlyStopping(monitor="mean_return", mode="max")`, `CSVLogger`,
`TerminateOnNaN` and `LambdaCallback` work unchanged.
"""

from __future__ import annotations

from typing import Any

import keras

from keras_pg.config import ConfigTypeError

LOG_KEYS = ("mean_return", "episode_length", "loss", "entropy", "grad_norm", "value_loss",
            "explained_variance", "env_steps", "episodes", "steps_per_s", "round_return_mean",
            "round_return_min", "round_return_max", "round_episode_length", "lr",
            "entropy_coef", "eval_return")
"""mean_return and episode_length: means over the last `solve_window` training episodes;
loss, entropy, grad_norm, value_loss, explained_variance: the update's (see UpdateMetrics);
env_steps, episodes: totals so far; steps_per_s: env steps per second of training;
round_*: the return (mean, min, max) and length (mean) of the update's own episodes;
lr, entropy_coef: the values their schedules gave the update (see keras_pg.schedules);
eval_return: the mean return of the greedy evaluation that followed the update (with
eval_every; nan after the others)."""


class CallbackDriver:
    """Calls a list of `keras.callbacks.Callback` objects at the points of the training loop."""

    def __init__(self, callbacks: list[keras.callbacks.Callback] | None, model: keras.Model,
                 params: dict[str, Any]) -> None:
        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            if not isinstance(callback, keras.callbacks.Callback):
                raise ConfigTypeError(f"callbacks must be keras.callbacks.Callback objects; "
                                      f"got {type(callback).__name__}")
            callback.set_model(model)
            callback.set_params(params)
        self.model = model

    def train_begin(self) -> None:
        self.model.stop_training = False
        for callback in self.callbacks:
            callback.on_train_begin({})

    def update(self, update: int, logs: dict[str, float]) -> bool:
        """The hooks of one update (its index from 0); True when a callback stops training."""
        for callback in self.callbacks:
            callback.on_epoch_begin(update, {})
        for callback in self.callbacks:
            callback.on_train_batch_begin(0, {})
        for callback in self.callbacks:
            callback.on_train_batch_end(0, dict(logs))
        for callback in self.callbacks:
            callback.on_epoch_end(update, dict(logs))
        return bool(self.model.stop_training)

    def train_end(self, logs: dict[str, float]) -> None:
        for callback in self.callbacks:
            callback.on_train_end(dict(logs))
