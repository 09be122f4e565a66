"""Verification of an exported policy: the ONNX checker, then onnxruntime against Keras."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import onnx
import onnxruntime as ort

from export import contract

UNBOUNDED_RANGE = 10.0  # sampled range for Box dimensions without finite bounds
MAX_ABS_DIFF = 1e-5  # the largest accepted |ONNX - Keras| of any float output
BATCH_SIZES = (1, 1024)


class VerificationError(RuntimeError):
    """The exported model does not compute what the Keras model computes."""


def sample_observations(space: gym.spaces.Box, count: int, seed: int) -> np.ndarray:
    """float32 [count, *shape] uniform within the bounds; unbounded or huge bounds are
    replaced by +-UNBOUNDED_RANGE (a sane range for normalized physical quantities)."""
    low = np.where(np.abs(space.low) < 1e6, space.low, -UNBOUNDED_RANGE).astype(np.float64)
    high = np.where(np.abs(space.high) < 1e6, space.high, UNBOUNDED_RANGE).astype(np.float64)
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=(count, *space.shape)).astype(np.float32)


def rollout_observations(policy, env_id: str, count: int, seed: int,
                         num_envs: int = 8) -> np.ndarray:
    """float32 [count, *shape]: observations met by the policy, sampling its actions."""
    env = gym.make_vec(env_id, num_envs=num_envs)
    rng = np.random.default_rng(seed)
    try:
        obs, _ = env.reset(seed=seed)
        seen = []
        while sum(len(o) for o in seen) < count:
            seen.append(obs.astype(np.float32))
            probs = policy(obs.astype(np.float32))[contract.PROBS].numpy().astype(np.float64)
            cumulative = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
            actions = (rng.random((len(obs), 1)) > cumulative).sum(axis=1)
            obs, *_ = env.step(np.minimum(actions, probs.shape[1] - 1))
    finally:
        env.close()
    return np.concatenate(seen)[:count]


def verify(model_bytes: bytes, policy, observations: dict[str, np.ndarray]) -> dict[str, Any]:
    """Check the model and compare every output with the TensorFlow `policy` function.

    Args:
        model_bytes: the serialized ONNX model.
        policy: the tf.function the model was converted from (obs -> {probs, action}).
        observations: named sets of float32 [n, *obs_shape] observations.

    Returns:
        The verification part of the export report. Raises VerificationError on a mismatch.
    """
    onnx.checker.check_model(onnx.load_from_string(model_bytes), full_check=True)
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    obs = np.concatenate(list(observations.values()))
    probs, actions = session.run([contract.PROBS, contract.ACTION], {contract.INPUT: obs})
    expected = policy(obs)
    max_abs_diff = float(np.max(np.abs(probs - expected[contract.PROBS].numpy())))
    agreement = float(np.mean(actions == expected[contract.ACTION].numpy()))
    for size in BATCH_SIZES:
        batch = np.resize(obs, (size, *obs.shape[1:]))
        got = session.run([contract.ACTION], {contract.INPUT: batch})[0]
        if got.shape != (size,) or got.dtype != np.int64:
            raise VerificationError(f"batch {size}: action has shape {got.shape} {got.dtype}; "
                                    f"expected ({size},) int64")
    if max_abs_diff > MAX_ABS_DIFF or agreement < 1.0:
        raise VerificationError(
            f"ONNX and Keras disagree: max |Δprobs| {max_abs_diff:.2e} (limit {MAX_ABS_DIFF:g}),"
            f" greedy agreement {agreement:.2%} (expected 100%)")
    return {
        "checker": "onnx.checker full_check passed",
        "observations": {name: len(o) for name, o in observations.items()},
        "max_abs_diff": {contract.PROBS: max_abs_diff},
        "action_agreement": agreement,
        "batch_sizes": list(BATCH_SIZES),
    }
