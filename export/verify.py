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
    milliseconds), sampling its actions in `num_envs` envs made by `make_env` (with the
    env's action masks, when its info has them and the file takes them)."""
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    dtypes = {node.name: INPUT_DTYPES[node.type] for node in session.get_inputs()
              if node.name != contract.ACTION_MASK}
    names = [node.name for node in session.get_outputs()]
    env = gym.vector.SyncVectorEnv([make_env] * num_envs)
    rng = np.random.default_rng(seed)
    try:
        obs, info = env.reset(seed=seed)
        seen: list[Obs] = []
        for _ in range(-(-count // num_envs)):
            parts = as_parts(obs)
            seen.append(observations.cast(parts, dtypes if isinstance(parts, dict)
                                          else dtypes[contract.INPUT]))
            outputs = dict(zip(names, session.run(
                names, feeds(seen[-1], env_masks(session, info, num_envs))), strict=True))
            obs, _, _, _, info = env.step(
                sample_actions(outputs, env.single_action_space, rng))
    finally:
        env.close()
    return observations.map_obs(lambda part: part[:count], observations.concatenate(seen))


def mask_input_size(session: ort.InferenceSession) -> int | None:
    """P, the size of the session's `action_mask` input; None when it has none."""
    return next((int(node.shape[-1]) for node in session.get_inputs()
                 if node.name == contract.ACTION_MASK), None)


def env_masks(session: ort.InferenceSession, info: dict[str, Any], rows: int
              ) -> np.ndarray | None:
    """The `action_mask` feed of a step of `rows` envs: the masks their `info` holds (all
    legal without, and where a row allows no action: an episode's end), None when the file
    takes none."""
    size = mask_input_size(session)
    if size is None:
        return None
    masks = np.asarray(info.get(contract.ACTION_MASK, np.ones((rows, size))), dtype=bool)
    masks[~masks.any(axis=1)] = True
    return masks


def feeds(obs: Obs, masks: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The ONNX inputs of observations: {"obs": array}, or one input per part, and the
    action masks bool [n, P] when given."""
    inputs = obs if isinstance(obs, dict) else {contract.INPUT: obs}
    return inputs if masks is None else {**inputs, contract.ACTION_MASK: masks}


def random_masks(rows: int, branches: tuple[int, ...], seed: int) -> np.ndarray:
    """bool [rows, sum(branches)]: each action legal with probability 1/2, and one more made
    legal in every branch of every row (so each has a legal action)."""
    rng = np.random.default_rng(seed)
    masks = rng.random((rows, sum(branches))) < 0.5
    for start, size in zip(np.cumsum((0, *branches[:-1])), branches, strict=True):
        masks[np.arange(rows), start + rng.integers(0, size, rows)] = True
    return masks


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
           sets: dict[str, Obs], mask_branches: tuple[int, ...] | None = None
           ) -> dict[str, Any]:
    """Check the model and compare every output with the TensorFlow `policy` function.

    Args:
        model_bytes: the serialized ONNX model.
        policy: the tf.function the model was converted from (obs [, action_mask] ->
            {probs, action}).
        sets: named sets of [n, *obs_shape] observations (per part) in the policy's
            input dtypes.
        mask_branches: for a file with an `action_mask` input, the branch sizes of its
            actions: every observation is compared twice, all actions legal and under a
            random mask (`random_masks`), where no illegal action may have a probability
            or be the greedy action.

    Returns:
        The verification part of the export report. Raises VerificationError on a mismatch.
    """
    onnx.checker.check_model(onnx.load_from_string(model_bytes), full_check=True)
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    obs = observations.concatenate(list(sets.values()))
    count = observations.rows(obs)
    names = [o.name for o in session.get_outputs()]
    masks = ({"": np.ones((count, sum(mask_branches)), bool),
              "masked": random_masks(count, mask_branches, 0)} if mask_branches
             else {"": None})  # all legal (or no mask input), then under a random mask
    max_abs_diff: dict[str, float] = {}
    same = []
    for label, mask in masks.items():
        got = dict(zip(names, session.run(names, feeds(obs, mask)), strict=True))
        expected = {k: v.numpy() for k, v in policy(
            obs, *([] if mask is None else [mask])).items()}
        suffix = f" ({label})" if label else ""
        max_abs_diff |= {name + suffix: float(np.max(np.abs(got[name] - expected[name])))
                         for name in names if np.issubdtype(got[name].dtype, np.floating)}
        same.append(same_actions(got[contract.ACTION], expected[contract.ACTION]))
        if label == "masked" and mask is not None and mask_branches is not None:
            check_legal(got, mask, mask_branches)
    agreement = float(np.mean(np.concatenate(same)))
    _check_batch_sizes(session, obs, mask_branches)
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
        **({"masks": "each observation all legal and under a random mask"}
           if mask_branches else {}),
    }


def same_actions(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """bool [B]: whether each row's greedy action is the same (within MAX_ABS_DIFF for a
    Box action)."""
    rows = len(got)
    if got.dtype == np.int64:
        return (got == expected).reshape(rows, -1).all(axis=1)
    return np.abs(got - expected).reshape(rows, -1).max(axis=1) <= MAX_ABS_DIFF


def check_legal(got: dict[str, np.ndarray], masks: np.ndarray,
                 branches: tuple[int, ...]) -> None:
    """A VerificationError unless the file gave illegal actions probability exactly 0 and
    never took one greedily."""
    illegal = float(np.max(np.where(masks, 0.0, got[contract.PROBS])))
    starts = np.cumsum((0, *branches[:-1]))
    actions = got[contract.ACTION].reshape(len(masks), -1)
    taken = masks[np.arange(len(masks))[:, None], starts[None, :] + actions]
    if illegal > 0.0 or not taken.all():
        raise VerificationError(f"the action mask is not applied: an illegal action has "
                                f"probability {illegal:.2e}, and {int((~taken).sum())} greedy "
                                f"actions are illegal (expected 0 and 0)")


def _check_batch_sizes(session: ort.InferenceSession, obs: Obs,
                       mask_branches: tuple[int, ...] | None) -> None:
    """The file answers batches of BATCH_SIZES rows in the shapes its first rows have."""
    expected = session.run([contract.ACTION], feeds(
        observations.map_obs(lambda part: part[:1], obs),
        None if mask_branches is None else np.ones((1, sum(mask_branches)), bool)))[0]
    for size in BATCH_SIZES:
        batch = observations.map_obs(
            lambda part, size=size: np.resize(part, (size, *part.shape[1:])), obs)
        out = session.run([contract.ACTION], feeds(
            batch, None if mask_branches is None else np.ones((size, sum(mask_branches)), bool)
        ))[0]
        if out.shape != (size, *expected.shape[1:]) or out.dtype != expected.dtype:
            raise VerificationError(f"batch {size}: action has shape {out.shape} {out.dtype}; "
                                    f"expected {(size, *expected.shape[1:])} {expected.dtype}")
