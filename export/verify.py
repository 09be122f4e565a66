"""Verification of an exported policy: the ONNX checker, then onnxruntime against Keras."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import gymnasium as gym
import numpy as np
import onnx
import onnxruntime as ort

from export.errors import VerificationError
from keras_pg import observations
from keras_pg.observations import Obs, as_parts
from serve import contract
from serve.loading import INPUT_DTYPES
from serve.sampling import (
    sample_bernoulli,
    sample_categorical,
    sample_gaussian,
    sample_multi_categorical,
)
from serve.spaces import is_image_space, is_structured, observation_parts

if TYPE_CHECKING:  # for its name only: the caller converts the tf.function it passes here
    import tensorflow as tf

UNBOUNDED_RANGE = 10.0  # sampled range for Box dimensions without finite bounds
MAX_ABS_DIFF = 1e-5  # the largest accepted |ONNX - Keras| of any float output
BATCH_SIZES = (1, 1024)


def sample_observations(space: gym.Space, count: int, seed: int) -> Obs:
    """[count, *shape] uniform within a Box's bounds (unbounded or huge bounds are replaced
    by +-UNBOUNDED_RANGE, a sane range for physical quantities) in the policy's input dtype
    (uint8 images: every pixel value), or uniform over a Discrete space's values ([count])
    or a MultiDiscrete or MultiBinary one's ([count, k]); {part: its sample} for a Dict or
    Tuple space (each part seeded by `seed` and its position)."""
    if is_structured(space):
        return {name: cast(np.ndarray, sample_observations(part, count, seed + i))
                for i, (name, part) in enumerate(observation_parts(space).items())}
    rng = np.random.default_rng(seed)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return rng.integers(0, space.nvec, size=(count, len(space.nvec))).astype(np.float32)
    if isinstance(space, gym.spaces.MultiBinary):
        return rng.integers(0, 2, size=(count, *space.shape)).astype(np.float32)
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(space.start, space.start + space.n, size=count).astype(np.float32)
    box = cast(gym.spaces.Box, space)  # check_spaces admits Discrete and Box only
    if is_image_space(box):
        return rng.integers(0, 256, size=(count, *box.shape), dtype=np.uint8)
    low = np.where(np.abs(box.low) < 1e6, box.low, -UNBOUNDED_RANGE).astype(np.float64)
    high = np.where(np.abs(box.high) < 1e6, box.high, UNBOUNDED_RANGE).astype(np.float64)
    return rng.uniform(low, high, size=(count, *box.shape)).astype(np.float32)


def rollout_observations(model_bytes: bytes, make_env: Callable[[], gym.Env], count: int,
                         seed: int, num_envs: int = 8) -> Obs:
    """[count, *shape] observations (per part) met by the exported policy `model_bytes`,
    run by onnxruntime (microseconds a step, where the TensorFlow function takes
    milliseconds), sampling its actions in `num_envs` envs made by `make_env`."""
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    dtypes = {node.name: INPUT_DTYPES[node.type] for node in session.get_inputs()}
    names = [node.name for node in session.get_outputs()]
    env = gym.vector.SyncVectorEnv([make_env] * num_envs)
    rng = np.random.default_rng(seed)
    try:
        obs, _ = env.reset(seed=seed)
        seen: list[Obs] = []
        for _ in range(-(-count // num_envs)):
            parts = as_parts(obs)
            seen.append(observations.cast(parts, dtypes if isinstance(parts, dict)
                                          else dtypes[contract.INPUT]))
            outputs = dict(zip(names, session.run(names, feeds(seen[-1])), strict=True))
            obs, *_ = env.step(sample_actions(outputs, env.single_action_space, rng))
    finally:
        env.close()
    return observations.map_obs(lambda part: part[:count], observations.concatenate(seen))


def feeds(obs: Obs) -> dict[str, np.ndarray]:
    """The ONNX inputs of observations: {"obs": array}, or one input per part."""
    return obs if isinstance(obs, dict) else {contract.INPUT: obs}


def sample_actions(outputs: dict[str, np.ndarray], action_space: gym.Space,
                   rng: np.random.Generator) -> np.ndarray:
    """Actions drawn from the policy's distribution (probs per action, branch or bit, or
    mean and std then clipped),
    with serve's samplers: the same draws an app would make from the exported file."""
    if isinstance(action_space, gym.spaces.MultiDiscrete):
        probs = outputs[contract.PROBS]
        nvec = [int(n) for n in action_space.nvec]
        return sample_multi_categorical(probs, nvec, rng.random((len(probs), len(nvec))))
    if isinstance(action_space, gym.spaces.MultiBinary):
        probs = outputs[contract.PROBS]
        return sample_bernoulli(probs, rng.random(probs.shape)).astype(np.int8)
    if contract.PROBS in outputs:
        probs = outputs[contract.PROBS]
        return sample_categorical(probs, rng.random(len(probs)))
    mean, std = outputs[contract.MEAN], outputs[contract.STD]
    box = cast(gym.spaces.Box, action_space)  # a gaussian policy's action space is a Box
    return sample_gaussian(mean, std, rng.standard_normal(mean.shape), box.low, box.high)


def verify(model_bytes: bytes, policy: tf.types.experimental.GenericFunction,
           sets: dict[str, Obs]) -> dict[str, Any]:
    """Check the model and compare every output with the TensorFlow `policy` function.

    Args:
        model_bytes: the serialized ONNX model.
        policy: the tf.function the model was converted from (obs -> {probs, action}).
        sets: named sets of [n, *obs_shape] observations (per part) in the policy's
            input dtypes.

    Returns:
        The verification part of the export report. Raises VerificationError on a mismatch.
    """
    onnx.checker.check_model(onnx.load_from_string(model_bytes), full_check=True)
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    obs = observations.concatenate(list(sets.values()))
    count = observations.rows(obs)
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(names, feeds(obs)), strict=True))
    expected = {k: v.numpy() for k, v in policy(obs).items()}
    max_abs_diff = {name: float(np.max(np.abs(got[name] - expected[name])))
                    for name in names if np.issubdtype(got[name].dtype, np.floating)}
    actions, greedy = got[contract.ACTION], expected[contract.ACTION]
    same = ((actions == greedy).reshape(count, -1).all(axis=1) if actions.dtype == np.int64
            else np.abs(actions - greedy).reshape(count, -1).max(axis=1) <= MAX_ABS_DIFF)
    agreement = float(np.mean(same))
    for size in BATCH_SIZES:
        batch = observations.map_obs(
            lambda part, size=size: np.resize(part, (size, *part.shape[1:])), obs)
        out = session.run([contract.ACTION], feeds(batch))[0]
        if out.shape != (size, *actions.shape[1:]) or out.dtype != actions.dtype:
            raise VerificationError(f"batch {size}: action has shape {out.shape} {out.dtype}; "
                                    f"expected {(size, *actions.shape[1:])} {actions.dtype}")
    worst = max(max_abs_diff, key=max_abs_diff.__getitem__)
    if max_abs_diff[worst] > MAX_ABS_DIFF or agreement < 1.0:
        raise VerificationError(
            f"ONNX and Keras disagree: max |Δ{worst}| {max_abs_diff[worst]:.2e} (limit "
            f"{MAX_ABS_DIFF:g}), greedy agreement {agreement:.2%} (expected 100%)")
    return {
        "checker": "onnx.checker full_check passed",
        "observations": {name: observations.rows(o) for name, o in sets.items()},
        "max_abs_diff": max_abs_diff,
        "action_agreement": agreement,
        "batch_sizes": list(BATCH_SIZES),
    }
