"""OnnxPolicy: a keras_pg `policy.onnx` (or another tool's ONNX policy) in onnxruntime.

Reads the contract in serve/contract.py: input `obs` float32 (uint8 for image observations)
[batch, *obs_shape]; outputs `probs` [batch, n_actions] and `action` [batch] (categorical) or
`mean`, `std` and `action` [batch, action_dim] (gaussian); JSON metadata_props.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from serve import contract
from serve.observations import FLOAT32, UINT8, as_batch
from serve.sampling import sample_categorical, sample_gaussian, softmax

INPUT_DTYPES = {"tensor(float)": FLOAT32, "tensor(uint8)": UINT8}


class PolicyLoadError(ValueError):
    """The file is not an ONNX policy this runtime can use; the message says why."""


def _session(path: Path, intra_op_threads: int) -> ort.InferenceSession:
    if not path.is_file():
        raise PolicyLoadError(f"{path} not found; expected a .onnx policy file")
    options = ort.SessionOptions()
    # One thread answers a single observation fastest: no hand-off between threads.
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for unreadable models
        reason = str(exc).strip().splitlines()[0][:200]
        raise PolicyLoadError(f"{path} is not a loadable ONNX model: {reason}") from None


def _input_dtype(path: Path, session: ort.InferenceSession) -> np.dtype:
    first = session.get_inputs()[0]
    if first.type not in INPUT_DTYPES:
        raise PolicyLoadError(f"{path}: input {first.name!r} has type {first.type}; expected "
                              f"{' or '.join(INPUT_DTYPES)}")
    return INPUT_DTYPES[first.type]


def _read_metadata(session: ort.InferenceSession) -> dict[str, Any]:
    props = session.get_modelmeta().custom_metadata_map
    metadata = {}
    for key, value in props.items():
        try:
            metadata[key] = json.loads(value)
        except json.JSONDecodeError:
            metadata[key] = value
    return metadata


class OnnxPolicy:
    """A policy answering observations with actions, backed by one onnxruntime session.

    Args:
        path: the .onnx file.
        seed: seeds the numpy Generator used by `act(..., deterministic=False)`.
        intra_op_threads: onnxruntime threads per call (1: lowest single-observation latency).
        observation_shape, action_type: required for an ONNX file without keras_pg metadata.
            "discrete": the model's first output holds logits [batch, n] (softmax applied)
            unless an output is named `probs`; "continuous": the first output is the action
            [batch, d] (deterministic only).

    The input's dtype, `observation_dtype`, is the session's: float32, or uint8 for image
    policies, which take raw frames (uint8 arrays, or integers in [0, 255]).
    `act`, `probs`, `distribution` and `decide` are safe to call from several threads.
    """

    def __init__(self, path: str | Path, *, seed: int | None = None, intra_op_threads: int = 1,
                 observation_shape: tuple[int, ...] | None = None,
                 action_type: str | None = None):
        self.path = Path(path)
        self._session = _session(self.path, intra_op_threads)
        self.metadata = _read_metadata(self._session)
        self._input = self._session.get_inputs()[0].name
        self.observation_dtype = _input_dtype(self.path, self._session)
        self._outputs = [o.name for o in self._session.get_outputs()]
        if contract.CONTRACT_VERSION_KEY in self.metadata:
            self._from_contract()
        else:
            self._from_caller(observation_shape, action_type)
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()

    def _from_contract(self) -> None:
        version = self.metadata[contract.CONTRACT_VERSION_KEY]
        kind = self.metadata.get(contract.POLICY_KIND_KEY)
        if version not in contract.SUPPORTED_CONTRACT_VERSIONS:
            supported = ", ".join(map(str, contract.SUPPORTED_CONTRACT_VERSIONS))
            raise PolicyLoadError(f"{self.path} uses export contract {version}; this runtime "
                                  f"reads contracts {supported} (a newer serve may read it)")
        expected = {"categorical": [contract.PROBS],
                    "gaussian": [contract.MEAN, contract.STD]}.get(kind)
        if expected is None or not {*expected, contract.ACTION} <= set(self._outputs):
            raise PolicyLoadError(f"{self.path}: expected a categorical (probs, action) or "
                                  f"gaussian (mean, std, action) policy, got {kind!r} with "
                                  f"outputs {self._outputs}")
        self.kind, self._dist_outputs, self._action_output = kind, expected, contract.ACTION
        self._logits = False
        # A Discrete observation is a scalar: shape ().
        space = self.metadata[contract.OBSERVATION_SPACE_KEY]
        self.observation_shape = tuple(space.get("shape", ()))
        self.action_space = self.metadata[contract.ACTION_SPACE_KEY]

    def _from_caller(self, observation_shape: tuple[int, ...] | None,
                     action_type: str | None) -> None:
        if observation_shape is None or action_type not in ("discrete", "continuous"):
            raise PolicyLoadError(
                f"{self.path} has no keras_pg metadata; pass observation_shape=... and "
                f"action_type='discrete' or 'continuous' to load it (got {action_type!r})")
        self.observation_shape = tuple(int(d) for d in observation_shape)
        first = self._session.get_outputs()[0]
        size = first.shape[-1] if isinstance(first.shape[-1], int) else None
        if action_type == "discrete":
            named = contract.PROBS in self._outputs
            self.kind, self._logits = "categorical", not named
            self._dist_outputs = [contract.PROBS if named else first.name]
            self._action_output = None
            self.action_space = {"type": "Discrete", "n": size, "start": 0}
        else:
            self.kind, self._logits, self._dist_outputs = "deterministic", False, []
            self._action_output = first.name
            self.action_space = {"type": "Box", "shape": [size]}

    def act(self, obs: Any, deterministic: bool = True) -> int | np.ndarray:
        """Actions for one observation or a batch [B, *obs_shape].

        Discrete: a Python int, or int64 [B]. Continuous: float32 [d], or [B, d].
        deterministic=True takes the in-graph `action` (argmax, or the clipped mean); False
        samples from `probs` or N(mean, std) (clipped) with the Generator seeded at
        construction.
        """
        batch, single = as_batch(obs, self.observation_shape, self.observation_dtype)
        if deterministic and self._action_output is not None:
            actions = self._session.run([self._action_output], {self._input: batch})[0]
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
        return {n: (v[0] if single else v) for n, v in zip(self._outputs, values, strict=True)}

    def _distribution(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        values = self._session.run(self._dist_outputs, {self._input: batch})
        if self._logits:
            return {contract.PROBS: softmax(values[0])}
        return dict(zip(self._dist_outputs, values, strict=True))

    def _decide(self, batch: np.ndarray, deterministic: bool
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if self.kind == "deterministic":
            if not deterministic:
                raise ValueError("this policy has no distribution to sample from; "
                                 "use deterministic=True")
            return self._session.run([self._action_output], {self._input: batch})[0], {}
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
