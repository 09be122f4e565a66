"""TensorBoard event files of a run, written by a Keras callback: RUN_DIR/tb.

Scalars per update, at step = env steps, named by prefix as CleanRL names them:

    charts/episodic_return      mean return of the update's episodes (and _min, _max)
    charts/episode_length       mean length of the update's episodes
    charts/mean_return          mean return of the last `solve_window` episodes
    charts/steps_per_s          env steps per second of training
    losses/policy, losses/value, losses/entropy, losses/grad_norm, losses/explained_variance
    schedule/lr, schedule/entropy_coef   the values their schedules gave the update
    eval/mean_return            the greedy evaluation after the update (eval_every), if any

every `histogram_every` updates histograms of the action distribution on the latest
observations (`actions/prob_<a>`, or `actions/mean_<i>` and `actions/log_std`) and of every
weight (`weights/<path>`), and the run's config and results through the HParams plugin, so
runs compare side by side in `tensorboard --logdir runs`. Events are flushed after every
update. A resumed run first drops the events of steps beyond its checkpoint (written after
it, before a crash or kill -9), so its curves continue without duplicated or backward steps.
A logdir that cannot be written (a file in its place, no permission, a full disk) is an
OSError naming it, as for every other file of the run, not TensorFlow's traceback.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

RESULT_TAGS = ("results/eval_mean_return", "results/final_mean_return", "results/env_steps",
               "results/train_wall_s")
SCALARS = {"charts/episodic_return": "round_return_mean",
           "charts/episodic_return_min": "round_return_min",
           "charts/episodic_return_max": "round_return_max",
           "charts/episode_length": "round_episode_length",
           "charts/mean_return": "mean_return", "charts/steps_per_s": "steps_per_s",
           "losses/policy": "loss", "losses/value": "value_loss", "losses/entropy": "entropy",
           "losses/grad_norm": "grad_norm",
           "losses/explained_variance": "explained_variance",
           "schedule/lr": "lr", "schedule/entropy_coef": "entropy_coef",
           "eval/mean_return": "eval_return"}


class TensorBoardLog(keras.callbacks.Callback):
    """Writes a run's events into `logdir` (see the module docstring).

    Args:
        logdir: RUN_DIR/tb.
        hparams: the run's config as a flat dict of numbers, strings and bools.
        observations: returns the latest observations [n, *obs_shape] ({part: [n, ...]} for
            a Dict or Tuple observation), or None, for the action histograms.
        policy_output: observations -> the policy's output [n, P] (a recurrent policy's as
            at an episode's first step).
        probabilities: the policy's output [n, P] -> its action probabilities [n, P] (per
            action, each branch's side by side, or each bit's P(1)); None for a Gaussian
            policy, whose histograms are its means and log-stds.
        histogram_every: updates between histograms (0: none).
    """

    def __init__(self, logdir: Path, hparams: dict[str, float | int | str | bool],
                 observations: Callable[[], Any], policy_output: Callable[[Any], tf.Tensor],
                 probabilities: Callable[[tf.Tensor], tf.Tensor] | None,
                 histogram_every: int = 10) -> None:
        super().__init__()
        self.logdir, self.hparams = Path(logdir), hparams
        self.observations, self.histogram_every = observations, histogram_every
        self.probabilities, self.policy_output = probabilities, policy_output
        self._writer: tf.summary.SummaryWriter | None = None

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        from tensorboard.plugins.hparams import api as hp

        first = not any(self.logdir.glob("events.out.tfevents.*"))
        with writing(self.logdir):
            self._writer = writer = tf.summary.create_file_writer(str(self.logdir))
            if first:  # once per run, not again when a run continues
                with writer.as_default(step=0):
                    hp.hparams_config(hparams=[hp.HParam(k) for k in sorted(self.hparams)],
                                      metrics=[hp.Metric(tag) for tag in RESULT_TAGS])
                    hp.hparams(self.hparams, trial_id=str(self.logdir.parent))
            writer.flush()

    def _opened_writer(self) -> tf.summary.SummaryWriter:
        """The writer `on_train_begin` opened (Keras calls it first)."""
        if self._writer is None:
            raise RuntimeError("TensorBoardLog: on_train_begin was not called")
        return self._writer

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        assert logs is not None  # keras_pg.callbacks passes every update's logs
        step, writer = int(logs["env_steps"]), self._opened_writer()
        with writing(self.logdir), writer.as_default(step=step):
            for tag, key in SCALARS.items():
                if np.isfinite(logs.get(key, np.nan)):
                    tf.summary.scalar(tag, logs[key])
            if self.histogram_every and epoch % self.histogram_every == 0:
                self._histograms()
            writer.flush()

    def _histograms(self) -> None:
        observations = self.observations()
        if observations is not None:
            params = self.policy_output(observations)
            if self.probabilities is None:
                params = params.numpy()
                dim = params.shape[1] // 2
                for i in range(dim):
                    tf.summary.histogram(f"actions/mean_{i}", params[:, i])
                tf.summary.histogram("actions/log_std", params[0, dim:])
            else:
                probs = self.probabilities(params).numpy()
                for action in range(probs.shape[1]):
                    tf.summary.histogram(f"actions/prob_{action}", probs[:, action])
        for weight in self.model.weights:
            tf.summary.histogram(f"weights/{weight.path}", weight.numpy())

    def write_results(self, step: int, results: dict[str, float | None]) -> None:
        """The run's outcome as scalars `results/...` (the HParams plugin's metrics)."""
        with writing(self.logdir):
            writer = self._writer or tf.summary.create_file_writer(str(self.logdir))
            with writer.as_default(step=step):
                for tag in RESULT_TAGS:
                    value = results.get(tag.split("/", 1)[1])
                    if value is not None and np.isfinite(value):
                        tf.summary.scalar(tag, value)
            writer.flush()

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        with writing(self.logdir):
            self._opened_writer().flush()


@contextmanager
def writing(logdir: Path) -> Iterator[None]:
    """Turn TensorFlow's error for an event file it cannot create or write into an OSError
    naming `logdir`, the way a failed write of any other run file reads."""
    try:
        yield
    except tf.errors.OpError as exc:
        reason = exc.message.split("}}")[-1].split("[Op:")[0].strip() or type(exc).__name__
        code = errno.EACCES if isinstance(exc, tf.errors.PermissionDeniedError) else errno.EIO
        raise OSError(code, reason, str(logdir)) from None



def hparams(config: dict[str, Any]) -> dict[str, float | int | str | bool]:
    """A config as HParams: numbers, strings and bools (lists and objects as text)."""
    flat: dict[str, float | int | str | bool] = {}
    for key, value in config.items():
        if isinstance(value, bool | int | float | str):
            flat[key] = value
        elif isinstance(value, list):
            flat[key] = ",".join(map(str, value))
        else:
            flat[key] = json.dumps(value, sort_keys=True)  # dicts; None as "null"
    return flat


def drop_events_after(logdir: Path, last_step: int) -> None:
    """Rewrite the event files of `logdir` without the events of steps after `last_step`
    (those a crashed run wrote after its checkpoint), atomically per file."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    for path in sorted(Path(logdir).glob("events.out.tfevents.*")):
        records = list(RawEventFileLoader(str(path)).Load())
        kept = [r for r in records if event_pb2.Event.FromString(r).step <= last_step]
        if len(kept) == len(records):
            continue
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as f:
            writer = RecordWriter(f)
            for record in kept:
                writer.write(record)
            writer.flush()
        tmp.replace(path)
