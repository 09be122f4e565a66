"""OnnxPolicy: a keras_pg `policy.onnx` (or another tool's ONNX policy) in onnxruntime.

Reads the export contract (see the README): input `obs` float32 [batch, *obs_shape]; outputs
`probs` float32 [batch, n_actions] and `action` int64 [batch]; JSON metadata_props.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from serve.sampling import sample_categorical, sample_gaussian, softmax

CONTRACT_VERSION = 1


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

    `act`, `probs`, `distribution` and `decide` are safe to call from several threads.
    """

    def __init__(self, path: str | Path, *, seed: int | None = None, intra_op_threads: int = 1,
                 observation_shape: tuple[int, ...] | None = None,
                 action_type: str | None = None):
        self.path = Path(path)
        self._session = _session(self.path, intra_op_threads)
        self.metadata = _read_metadata(self._session)
        self._input = self._session.get_inputs()[0].name
        self._outputs = [o.name for o in self._session.get_outputs()]
        if "contract_version" in self.metadata:
            self._from_contract()
        else:
            self._from_caller(observation_shape, action_type)
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()

    def _from_contract(self) -> None:
        version, kind = self.metadata["contract_version"], self.metadata.get("policy_kind")
        if version != CONTRACT_VERSION:
            raise PolicyLoadError(f"{self.path} uses export contract {version}; this runtime "
                                  f"reads contract {CONTRACT_VERSION}")
        expected = {"categorical": ["probs"], "gaussian": ["mean", "std"]}.get(kind)
        if expected is None or not {*expected, "action"} <= set(self._outputs):
            raise PolicyLoadError(f"{self.path}: expected a categorical (probs, action) or "
                                  f"gaussian (mean, std, action) policy, got {kind!r} with "
                                  f"outputs {self._outputs}")
        self.kind, self._dist_outputs, self._action_output = kind, expected, "action"
        self._logits = False
        # A Discrete observation is a scalar: shape ().
        self.observation_shape = tuple(self.metadata["observation_space"].get("shape", ()))
        self.action_space = self.metadata["action_space"]

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
            named = "probs" in self._outputs
            self.kind, self._logits = "categorical", not named
            self._dist_outputs = ["probs" if named else first.name]
            self._action_output = None
            self.action_space = {"type": "Discrete", "n": size, "start": 0}
        else:
            self.kind, self._logits, self._dist_outputs = "deterministic", False, []
            self._action_output = first.name
            self.action_space = {"type": "Box", "shape": [size]}

    # -- inputs ------------------------------------------------------------------------------
    def _as_batch(self, obs: Any) -> tuple[np.ndarray, bool]:
        """float32 [B, *obs_shape] and whether a single observation was given."""
        try:
            array = np.asarray(obs, dtype=np.float32)
        except (ValueError, TypeError):
            raise ValueError(f"obs must be numeric with shape {self.observation_shape}, got "
                             f"{type(obs).__name__} {str(obs)[:60]}") from None
        if array.shape == self.observation_shape:
            single, array = True, array[None]
        elif array.shape[1:] == self.observation_shape and array.shape[0] > 0:
            single = False
        else:
            raise ValueError(f"obs has shape {array.shape}; expected {self.observation_shape} "
                             f"or (batch, {', '.join(map(str, self.observation_shape))})")
        if not np.isfinite(array).all():
            raise ValueError("obs contains NaN or inf; expected finite numbers")
        return array, single

    # -- outputs -----------------------------------------------------------------------------
    def act(self, obs: Any, deterministic: bool = True) -> int | np.ndarray:
        """Actions for one observation or a batch [B, *obs_shape].

        Discrete: a Python int, or int64 [B]. Continuous: float32 [d], or [B, d].
        deterministic=True takes the in-graph `action` (argmax, or the clipped mean); False
        samples from `probs` or N(mean, std) (clipped) with the Generator seeded at
        construction.
        """
        batch, single = self._as_batch(obs)
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
        batch, _ = self._as_batch(obs)
        return self._decide(batch, deterministic)

    def probs(self, obs: Any) -> np.ndarray:
        """Action probabilities of a discrete policy: float32 [n], or [B, n] for a batch."""
        if self.kind != "categorical":
            raise ValueError(f"probs() needs a discrete policy; this one is {self.kind}: "
                             "use distribution()")
        batch, single = self._as_batch(obs)
        probs = self._distribution(batch)["probs"]
        return probs[0] if single else probs

    def distribution(self, obs: Any) -> dict[str, np.ndarray]:
        """The raw outputs of the model by name (e.g. probs and action, or mean, std, action)."""
        batch, single = self._as_batch(obs)
        values = self._session.run(self._outputs, {self._input: batch})
        return {n: (v[0] if single else v) for n, v in zip(self._outputs, values, strict=True)}

    def _distribution(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        values = self._session.run(self._dist_outputs, {self._input: batch})
        if self._logits:
            return {"probs": softmax(values[0])}
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
                return dist["probs"].argmax(axis=1).astype(np.int64), dist
            with self._rng_lock:
                uniform = self._rng.random(len(batch))
            return sample_categorical(dist["probs"], uniform), dist
        low, high = (np.asarray(self.action_space[k], dtype=np.float32) for k in ("low", "high"))
        if deterministic:
            return np.clip(dist["mean"], low, high), dist
        with self._rng_lock:
            normal = self._rng.standard_normal(dist["mean"].shape)
        return sample_gaussian(dist["mean"], dist["std"], normal, low, high), dist

    def __repr__(self) -> str:
        return (f"OnnxPolicy({str(self.path)!r}, env_id={self.metadata.get('env_id')!r}, "
                f"observation_shape={self.observation_shape}, action_space={self.action_space})")
