"""OnnxPolicy: a keras_pg `policy.onnx` (or another tool's ONNX policy) in onnxruntime.

Reads the contract in serve/contract.py: input `obs` float32 (uint8 for image observations)
[batch, *obs_shape]; outputs `probs` [batch, n_actions] and `action` [batch] (categorical) or
`mean`, `std` and `action` [batch, action_dim] (gaussian); JSON metadata_props.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from serve import contract
from serve.loading import (
    INPUT_DTYPES,
    PolicyLoadError,
    check_contract,
    check_input_shape,
    open_session,
    read_metadata,
    the_input,
)
from serve.observations import as_batch
from serve.sampling import sample_categorical, sample_gaussian, softmax

SMALL_OUTPUT = 32  # values; up to here all_finite loops in Python
CALLER_HINT = ("pass observation_shape=... and action_type='discrete' or 'continuous' "
               "(command line: --observation-shape 4 --action-type discrete)")


class NonFiniteOutputError(ValueError):
    """The policy computed NaN or inf for finite observations (they overflow its network):
    a result no caller should act on, so it is an error rather than action 0."""


class OnnxPolicy:
    """A policy answering observations with actions, backed by one onnxruntime session.

    Args:
        path: the .onnx file.
        seed: seeds the numpy Generator used by `act(..., deterministic=False)`.
        intra_op_threads: onnxruntime threads per call (1: lowest single-observation latency).
        observation_shape, action_type: required for an ONNX file without keras_pg metadata.
            "discrete": an output named `probs` [batch, n], wherever it is among the
            outputs, holds the probabilities; without one, the first output holds logits
            [batch, n] (softmax applied); greedy is the argmax, sampling draws from them.
            "continuous": the first output is the action [batch, d] (deterministic only).
            The graph's one input must take [batch, *observation_shape]. For a keras_pg file
            they are optional, and must agree with its metadata when given.

    Raises:
        PolicyLoadError: one line, when the file is missing or not loadable, or declares
            `contract_version` while a metadata key the runtime reads is missing or
            malformed, or its graph disagrees with the metadata (serve/loading.py).

    Every method raises `NonFiniteOutputError` (a ValueError) when a float output is NaN or
    inf -- finite but huge observations such as 3.4e38 overflow the network -- instead of
    returning the argmax of NaNs.

    The input's dtype, `observation_dtype`, is the session's: float32, or uint8 for image
    policies, which take raw frames (uint8 arrays, or integers in [0, 255]).
    `act`, `probs`, `distribution` and `decide` are safe to call from several threads.
    """

    kind: str
    """The policy kind: "categorical", "gaussian", or "deterministic" (a continuous file
    without metadata, whose one output is the action)."""
    observation_shape: tuple[int, ...]
    observation_dtype: np.dtype
    action_space: dict[str, Any]
    """{"type": "Discrete", "n", "start"} or {"type": "Box", "shape", ...}."""
    _action_output: str | None
    """The output holding the greedy action (None: the argmax of the probs)."""

    def __init__(self, path: str | Path, *, seed: int | None = None, intra_op_threads: int = 1,
                 observation_shape: tuple[int, ...] | None = None,
                 action_type: str | None = None) -> None:
        self.path = Path(path)
        self._session = open_session(self.path, intra_op_threads)
        self.metadata = read_metadata(self._session)
        node = the_input(self.path, self._session)
        self._input, self.observation_dtype = node.name, INPUT_DTYPES[node.type]
        self._outputs = [o.name for o in self._session.get_outputs()]
        if contract.CONTRACT_VERSION_KEY in self.metadata:
            self._from_contract(observation_shape, action_type)
        else:
            self._from_caller(observation_shape, action_type)
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()

    def _from_contract(self, observation_shape: tuple[int, ...] | None,
                       action_type: str | None) -> None:
        """Everything from the metadata, checked against the graph (serve/loading.py)."""
        kind, shape, self.action_space = check_contract(self.path, self.metadata,
                                                        self._session)
        if observation_shape is not None and _shape(self.path, observation_shape) != shape:
            raise PolicyLoadError(f"{self.path}: observation_shape={tuple(observation_shape)} "
                                  f"disagrees with the metadata's {shape}; leave it out")
        if (action_type is not None
                and contract.ACTION_TYPES.get(action_type) != contract.KINDS[kind]):
            raise PolicyLoadError(f"{self.path}: action_type={action_type!r} disagrees with "
                                  f"the metadata's policy_kind {kind!r}; leave it out")
        self.kind, self.observation_shape, self._logits = kind, shape, False
        self._dist_outputs = ([contract.PROBS] if kind == "categorical"
                              else [contract.MEAN, contract.STD])
        self._action_output = contract.ACTION
        # Greedy act fetches the action and the distribution it comes from, checked for NaN
        # and inf: `action` is the argmax of `probs` (or the clipped mean), so a NaN there
        # would pass unseen. Fetching them costs ~0.1 µs, np.isfinite ~1 µs per output.
        self._act_fetch = [self._action_output, *self._dist_outputs]
        self._act_checked = range(1, len(self._act_fetch))

    def _from_caller(self, observation_shape: tuple[int, ...] | None,
                     action_type: str | None) -> None:
        """Everything from the caller, for a file without metadata, checked against the
        graph."""
        if observation_shape is None or action_type not in contract.ACTION_TYPES:
            raise PolicyLoadError(f"{self.path} has no keras_pg metadata; {CALLER_HINT} to "
                                  f"load it (got action_type={action_type!r})")
        self.observation_shape = _shape(self.path, observation_shape)
        node = self._session.get_inputs()[0]
        check_input_shape(self.path, node, self.observation_shape,
                          f"observation_shape {self.observation_shape}", any_batch=True)
        # Discrete: an output named probs wherever it is (export writes `action` [batch]
        # first), else the first output as logits. Continuous: the first output.
        named = action_type == "discrete" and contract.PROBS in self._outputs
        role = f"output {contract.PROBS!r}" if named else "first output"
        read = self._session.get_outputs()[self._outputs.index(contract.PROBS) if named else 0]
        if read.shape is None or len(read.shape) != 2:
            raise PolicyLoadError(f"{self.path}: output {read.name!r} has shape {read.shape}; "
                                  f"a {action_type} policy's {role} is [batch, size]")
        size = read.shape[-1] if isinstance(read.shape[-1], int) else None
        if action_type == "discrete":
            self.kind, self._logits, self._dist_outputs = "categorical", not named, [read.name]
            self._action_output = None  # greedy: the argmax of probs
            self.action_space = {"type": "Discrete", "n": size, "start": 0}
        else:
            self.kind, self._logits, self._dist_outputs = "deterministic", False, []
            self._action_output = read.name
            self.action_space = {"type": "Box", "shape": [size]}
            self._act_fetch, self._act_checked = [read.name], range(1)

    @property
    def session(self) -> ort.InferenceSession:
        """The onnxruntime session: its inputs and outputs describe the graph (the v2 HTTP
        routes and export's Triton config read them)."""
        return self._session

    def act(self, obs: Any, deterministic: bool = True) -> int | np.ndarray:
        """Actions for one observation or a batch [B, *obs_shape].

        Discrete: a Python int, or int64 [B]. Continuous: float32 [d], or [B, d].
        deterministic=True takes the in-graph `action` (argmax, or the clipped mean); False
        samples from `probs` or N(mean, std) (clipped) with the Generator seeded at
        construction.
        """
        batch, single = as_batch(obs, self.observation_shape, self.observation_dtype)
        if deterministic and self._action_output is not None:
            values = self._session.run(self._act_fetch, {self._input: batch})
            for i in self._act_checked:
                if not all_finite(values[i]):
                    raise not_finite(self._act_fetch[i], values[i], batch)
            actions = values[0]
        else:
            actions, _ = self._decide(batch, deterministic)
        if not single:
            return actions
        return int(actions[0]) if self.kind == "categorical" else actions[0]

    def decide(self, obs: Any, deterministic: bool = True
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Batched actions [B, ...] and the distribution they came from ({"probs"} or
        {"mean", "std"}), from one model call. A single observation is a batch of one."""
        batch, _ = as_batch(obs, self.observation_shape, self.observation_dtype)
        return self._decide(batch, deterministic)

    def probs(self, obs: Any) -> np.ndarray:
        """Action probabilities of a discrete policy: float32 [n], or [B, n] for a batch."""
        if self.kind != "categorical":
            raise ValueError(f"probs() needs a discrete policy; this one is {self.kind}: "
                             "use distribution()")
        batch, single = as_batch(obs, self.observation_shape, self.observation_dtype)
        probs = self._distribution(batch)[contract.PROBS]
        return probs[0] if single else probs

    def distribution(self, obs: Any) -> dict[str, np.ndarray]:
        """The raw outputs of the model by name (e.g. probs and action, or mean, std, action)."""
        batch, single = as_batch(obs, self.observation_shape, self.observation_dtype)
        values = self._session.run(self._outputs, {self._input: batch})
        _check_finite(self._outputs, values, batch)
        return {n: (v[0] if single else v) for n, v in zip(self._outputs, values, strict=True)}

    def _distribution(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        values = self._session.run(self._dist_outputs, {self._input: batch})
        if self._logits:
            values = [softmax(values[0])]
        _check_finite(self._dist_outputs, values, batch)
        if self._logits:
            return {contract.PROBS: values[0]}
        return dict(zip(self._dist_outputs, values, strict=True))

    def _decide(self, batch: np.ndarray, deterministic: bool
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if self.kind == "deterministic":
            if not deterministic:
                raise ValueError("this policy has no distribution to sample from; "
                                 "use deterministic=True")
            actions = self._session.run(self._act_fetch, {self._input: batch})[0]
            _check_finite(self._act_fetch, [actions], batch)  # its one output, the action
            return actions, {}
        dist = self._distribution(batch)
        if self.kind == "categorical":
            if deterministic:
                return dist[contract.PROBS].argmax(axis=1).astype(np.int64), dist
            with self._rng_lock:
                uniform = self._rng.random(len(batch))
            return sample_categorical(dist[contract.PROBS], uniform), dist
        low, high = (np.asarray(self.action_space[k], dtype=np.float32) for k in ("low", "high"))
        mean, std = dist[contract.MEAN], dist[contract.STD]
        if deterministic:
            return np.clip(mean, low, high), dist
        with self._rng_lock:
            normal = self._rng.standard_normal(mean.shape)
        return sample_gaussian(mean, std, normal, low, high), dist

    def __repr__(self) -> str:
        return (f"OnnxPolicy({str(self.path)!r}, env_id={self.metadata.get('env_id')!r}, "
                f"observation_shape={self.observation_shape}, action_space={self.action_space})")


def _check_finite(names: list[str], values: list[np.ndarray], batch: np.ndarray) -> None:
    for name, value in zip(names, values, strict=True):
        if value.dtype.kind == "f" and not all_finite(value):
            raise not_finite(name, value, batch)


def all_finite(value: np.ndarray) -> bool:
    """No NaN or inf in `value`. For the few values of one observation's output, Python's
    math.isfinite over them (~0.3 µs) beats a numpy ufunc and reduction (~1.5 µs)."""
    if value.size <= SMALL_OUTPUT:
        return all(map(math.isfinite, value.flat))
    return bool(np.isfinite(value).all())


def not_finite(name: str, value: np.ndarray, batch: np.ndarray) -> NonFiniteOutputError:
    """The error for output `name` holding NaN or inf: which observation, and the likely
    cause (observations far outside the range the policy was trained on)."""
    rows = ~np.isfinite(value.reshape(len(value), -1)).all(axis=1)
    first = int(np.argmax(rows))
    largest = float(np.abs(batch[first].astype(np.float64)).max(initial=0.0))
    return NonFiniteOutputError(
        f"policy output {name!r} is NaN or inf for observation {first} (of {len(value)}), "
        f"whose largest |value| is {largest:.3g}: the observations overflow the network; "
        "expected observations in the range the policy was trained on")


def _shape(path: Path, shape: Any) -> tuple[int, ...]:
    """A caller's observation_shape as a tuple of positive ints, or a PolicyLoadError."""
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims is None or not all(isinstance(d, int | np.integer) and d >= 1 for d in dims):
        raise PolicyLoadError(f"{path}: observation_shape must be a tuple of positive integers "
                              f"such as (4,) or (84, 84, 3), got {shape!r}")
    return tuple(int(d) for d in dims)
