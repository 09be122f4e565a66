"""Actors: how a rollout turns observations into actions with the policy as it is this round.

    actor = make_actor(model, head, choice="auto")        # actor.name: "numpy" or "tensorflow"
    with actor.round(seed) as act:                        # reads the weights, seeds the round
        actions = act(obs, starts, masks)                 # obs [N, ...], starts bool [N],
                                                          # masks bool [N, P] or None

Two kinds, the same distribution (the one the update differentiates):
- numpy: the forward pass in numpy (`NumpyForward`) from weights read once per round, and
  the head's numpy sampling with a Generator seeded by the round's seed. A few microseconds
  per step for the MLPs keras_pg builds, where a TensorFlow call costs hundreds. During a
  round numpy's BLAS runs on one thread (threadpoolctl; restored after): its threads and
  TensorFlow's, spinning on the same cores, made a 64 x 7056 x 128 matmul 17x slower and
  an image MLP's training 6x slower than with the TensorFlow actor (measured, 2 cores).
- tensorflow: one compiled TensorFlow call per step (`make_act_fn`) with stateless seeds
  [seed, step]. It runs any network (convolutions, the user's own), where a convolution's
  arithmetic, not the call, is the cost.
`choice="auto"` takes numpy when the network has a numpy form, else tensorflow; either way,
the same seed gives the same actions, so seeded runs and resumed runs reproduce exactly.
A recurrent policy (`keras_pg.policy.recurrent`) acts with the tensorflow kind, its state
carried per env from one call to the next and zeroed where an episode starts. An actor made
`masked` takes each step's invalid-action masks and never picks an illegal action
(`heads.masked_logits`); one made without takes None.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol, cast

import keras
import numpy as np
import tensorflow as tf
from threadpoolctl import ThreadpoolController

from keras_pg import observations
from keras_pg.config import ConfigError
from keras_pg.policy.heads import Head, masked_logits_numpy
from keras_pg.policy.model import make_act_fn, observation_dtypes
from keras_pg.policy.numpy_forward import NoNumpyForm, NumpyForward
from keras_pg.policy.recurrent import is_recurrent, state_size

ActFn = Callable[[observations.Obs, np.ndarray, np.ndarray | None], np.ndarray]
"""Maps observations [N, *obs_shape] ({part: [N, ...]} for a Dict or Tuple observation),
bool [N], which of them are the first of an episode, and the invalid-action masks bool
[N, P] (None without masks) to actions [N, ...] (unclipped: see `Head.to_env`). Called once
per step of N envs, in order."""


class Actor(Protocol):
    name: str
    """"numpy" or "tensorflow"."""
    description: str
    """The name, and for tensorflow under choice "auto" why numpy cannot act, e.g.
    "tensorflow (layer conv_0 is a Conv2D)": what summary.json's `actor` says."""

    def round(self, seed: int) -> AbstractContextManager[ActFn]:
        """The policy with the model's current weights, its sampling seeded by `seed`, for
        the `with` block of one round."""


class NumpyActor:
    """Acts with the model's numpy form."""

    name = description = "numpy"

    def __init__(self, forward: NumpyForward, head: Head, greedy: bool = False) -> None:
        self.forward, self.head, self.greedy = forward, head, greedy

    @contextmanager
    def round(self, seed: int) -> Iterator[ActFn]:
        self.forward.sync()
        forward = self.forward
        choose = (self.head.greedy_numpy if self.greedy
                  else self.head.numpy_sampler(np.random.default_rng(seed)))

        def act(obs: observations.Obs, starts: np.ndarray, masks: np.ndarray | None = None
                ) -> np.ndarray:  # one input
            # Weights that diverged overflow to inf and NaN, as in TensorFlow, where the
            # update then refuses the loss: no numpy warning in the user's process.
            with np.errstate(over="ignore", invalid="ignore"):
                logits = forward(cast(np.ndarray, obs))
                return choose(logits if masks is None else masked_logits_numpy(logits, masks))

        with _blas().limit(limits=1, user_api="blas"):
            yield act


class TensorFlowActor:
    """Acts with one compiled TensorFlow call per step."""

    name = "tensorflow"

    def __init__(self, model: keras.Model, head: Head, greedy: bool = False,
                 reason: str = "", masked: bool = False) -> None:
        self.act = make_act_fn(model, head, greedy=greedy, masked=masked)
        self.dtypes, self.description = observation_dtypes(model), _description(reason)

    @contextmanager
    def round(self, seed: int) -> Iterator[ActFn]:
        act, dtypes, seeds = self.act, self.dtypes, step_seeds(seed)

        def act_once(obs: observations.Obs, starts: np.ndarray,
                     masks: np.ndarray | None = None) -> np.ndarray:
            return act(observations.cast(obs, dtypes), *_mask_args(masks), next(seeds)).numpy()

        yield act_once


class RecurrentActor:
    """Acts with one compiled TensorFlow call per step, carrying each env's state: zeros at
    the first observation of an episode (and of the round), then the state the previous
    call returned for that env."""

    name = description = "tensorflow (recurrent)"

    def __init__(self, model: keras.Model, head: Head, greedy: bool = False,
                 masked: bool = False) -> None:
        self.act = make_act_fn(model, head, greedy=greedy, masked=masked)
        self.dtypes, self.state_size = observation_dtypes(model), state_size(model)

    @contextmanager
    def round(self, seed: int) -> Iterator[ActFn]:
        act, dtypes, seeds = self.act, self.dtypes, step_seeds(seed)
        state = np.zeros((0, self.state_size), np.float32)

        def act_carrying_state(obs: observations.Obs, starts: np.ndarray,
                               masks: np.ndarray | None = None) -> np.ndarray:
            nonlocal state
            obs = observations.cast(obs, dtypes)
            if len(state) != observations.rows(obs):
                state = np.zeros((observations.rows(obs), self.state_size), np.float32)
            state[starts] = 0.0
            actions, next_state = act(obs, state, *_mask_args(masks), next(seeds))
            state = next_state.numpy()
            return actions.numpy()

        yield act_carrying_state


def _mask_args(masks: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """The masks argument of a `make_act_fn(masked=True)` function: (masks,), or () without."""
    return () if masks is None else (masks,)


def step_seeds(seed: int) -> Iterator[tf.Tensor]:
    """The stateless sampling seeds of a round's steps, int64 [seed, step] for step 0, 1, ..."""
    for step in range(1 << 62):
        yield tf.constant([seed, step], dtype=tf.int64)


def make_actor(model: keras.Model, head: Head, choice: str = "auto",
               greedy: bool = False, masked: bool = False
               ) -> NumpyActor | TensorFlowActor | RecurrentActor:
    """The actor `choice` names: "numpy" (a ConfigError naming the layer without a numpy
    form, if any), "tensorflow", or "auto" (numpy if it can, else tensorflow); a
    RecurrentActor for a recurrent model. A `masked` actor takes invalid-action masks."""
    if is_recurrent(model):
        _check_recurrent_choice(choice)
        return RecurrentActor(model, head, greedy, masked)
    forward, reason = _numpy_forward(model, choice)
    if forward is not None:
        return NumpyActor(forward, head, greedy)
    return TensorFlowActor(model, head, greedy, reason, masked)


def describe_actor(model: keras.Model, choice: str = "auto") -> str:
    """The `description` of the actor `make_actor(model, head, choice)` makes, without
    compiling a TensorFlow function (for a process whose actors run elsewhere)."""
    if is_recurrent(model):
        _check_recurrent_choice(choice)
        return RecurrentActor.description
    forward, reason = _numpy_forward(model, choice)
    return NumpyActor.description if forward is not None else _description(reason)


def _numpy_forward(model: keras.Model, choice: str) -> tuple[NumpyForward | None, str]:
    """The model's numpy form when `choice` allows one and the model has it; else None and
    why not ("" when the choice was tensorflow)."""
    if choice == "tensorflow":
        return None, ""
    try:
        return NumpyForward(model), ""
    except NoNumpyForm as exc:
        if choice == "numpy":
            raise ConfigError(f"actor numpy cannot run this policy: {exc}; use actor auto "
                              f"or tensorflow") from None
        return None, str(exc)


def _check_recurrent_choice(choice: str) -> None:
    if choice == "numpy":
        raise ConfigError("actor numpy cannot run a recurrent policy; use actor auto or "
                          "tensorflow")


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's thread pools, inspected once (it reads the loaded libraries)."""
    return ThreadpoolController()


def _description(reason: str) -> str:
    return f"{TensorFlowActor.name} ({reason})" if reason else TensorFlowActor.name
