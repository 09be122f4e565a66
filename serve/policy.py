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
        observation_shape, action_type: required for an ONNX file without keras_pg metadata;
            `action_type` is "discrete" (the model's first output holds logits or
            probabilities [batch, n]; softmax is applied unless an output is named `probs`).

    `act`, `probs` and `distribution` are safe to call from several threads.
    """

    def __init__(self, path: str | Path, *, seed: int | None = None, intra_op_threads: int = 1,
                 observation_shape: tuple[int, ...] | None = None,
                 action_type: str | None = None):
        self.path = Path(path)
        self._session = _session(self.path, intra_op_threads)
        self.metadata = _read_metadata(self._session)
        self._input = self._session.get_inputs()[0].name
        outputs = [o.name for o in self._session.get_outputs()]
        if "contract_version" in self.metadata:
            self._from_contract(outputs)
        else:
            self._from_caller(outputs, observation_shape, action_type)
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()

    def _from_contract(self, outputs: list[str]) -> None:
        version = self.metadata["contract_version"]
        if version != CONTRACT_VERSION:
            raise PolicyLoadError(f"{self.path} uses export contract {version}; this runtime "
                                  f"reads contract {CONTRACT_VERSION}")
        if self.metadata.get("policy_kind") != "categorical" or not {"probs", "action"} <= set(
                outputs):
            raise PolicyLoadError(f"{self.path}: expected a categorical policy with outputs "
                                  f"probs and action, got {self.metadata.get('policy_kind')!r} "
                                  f"with {outputs}")
        self.observation_shape = tuple(self.metadata["observation_space"]["shape"])
        self.action_space = self.metadata["action_space"]
        self._probs_output, self._softmax, self._action_output = "probs", False, "action"

    def _from_caller(self, outputs: list[str], observation_shape: tuple[int, ...] | None,
                     action_type: str | None) -> None:
        if observation_shape is None or action_type is None:
            raise PolicyLoadError(
                f"{self.path} has no keras_pg metadata; pass observation_shape=... and "
                f"action_type='discrete' to load it")
        if action_type != "discrete":
            raise PolicyLoadError(f"action_type must be 'discrete', got {action_type!r}")
        self.observation_shape = tuple(int(d) for d in observation_shape)
        probs_named = "probs" in outputs
        self._probs_output = "probs" if probs_named else outputs[0]
        self._softmax = not probs_named
        self._action_output = None
        n = self._session.get_outputs()[outputs.index(self._probs_output)].shape[-1]
        self.action_space = {"type": "Discrete", "n": n if isinstance(n, int) else None,
                             "start": 0}

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
    def probs(self, obs: Any) -> np.ndarray:
        """Action probabilities: float32 [n_actions] for one observation, [B, n] for a batch."""
        batch, single = self._as_batch(obs)
        probs = self._probs(batch)
        return probs[0] if single else probs

    def distribution(self, obs: Any) -> dict[str, np.ndarray]:
        """The raw outputs of the model by name (`probs`, `action` for a keras_pg policy)."""
        batch, single = self._as_batch(obs)
        names = [o.name for o in self._session.get_outputs()]
        values = self._session.run(names, {self._input: batch})
        return {n: (v[0] if single else v) for n, v in zip(names, values, strict=True)}

    def act(self, obs: Any, deterministic: bool = True) -> int | np.ndarray:
        """One observation -> a Python int; a batch [B, *obs_shape] -> int64 [B].

        deterministic=True takes the in-graph greedy `action`; False samples from `probs`
        with the Generator seeded at construction.
        """
        batch, single = self._as_batch(obs)
        if deterministic and self._action_output is not None:
            actions = self._session.run([self._action_output], {self._input: batch})[0]
        elif deterministic:
            actions = self._probs(batch).argmax(axis=1)
        else:
            actions = self._sample(self._probs(batch))
        return int(actions[0]) if single else actions.astype(np.int64)

    def decide(self, obs: Any, deterministic: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Actions int64 [B] and probs float32 [B, n] from one model call; always batched."""
        batch, _ = self._as_batch(obs)
        probs = self._probs(batch)
        actions = probs.argmax(axis=1) if deterministic else self._sample(probs)
        return actions.astype(np.int64), probs

    def _probs(self, batch: np.ndarray) -> np.ndarray:
        out = self._session.run([self._probs_output], {self._input: batch})[0]
        if self._softmax:
            out = np.exp(out - out.max(axis=1, keepdims=True))
            out /= out.sum(axis=1, keepdims=True)
        return out

    def _sample(self, probs: np.ndarray) -> np.ndarray:
        """Inverse-CDF sampling, one action per row of probs [B, n]."""
        with self._rng_lock:
            u = self._rng.random((len(probs), 1))
        cdf = np.cumsum(probs, axis=1, dtype=np.float64)
        cdf /= cdf[:, -1:]
        return np.minimum((u > cdf).sum(axis=1), probs.shape[1] - 1).astype(np.int64)

    def __repr__(self) -> str:
        return (f"OnnxPolicy({str(self.path)!r}, env_id={self.metadata.get('env_id')!r}, "
                f"observation_shape={self.observation_shape}, action_space={self.action_space})")
