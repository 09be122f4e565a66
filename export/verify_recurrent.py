"""Verification of an exported recurrent policy: onnxruntime against Keras, stepped through
whole episodes.

A recurrent file is one step of the policy (serve/contract.json: inputs `state`, outputs
`next_state`), so comparing single steps would miss a state that drifts: here each episode
runs from the initial state (zeros) through all its steps, onnxruntime and the Keras function
each carrying its own state from one step to the next, and every output of every step is
compared -- the states themselves included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import gymnasium as gym
import numpy as np
import onnx
import onnxruntime as ort

from export.errors import VerificationError
from export.verify import (
    BATCH_SIZES,
    MAX_ABS_DIFF,
    check_legal,
    env_masks,
    feeds,
    random_masks,
    same_actions,
    sample_actions,
    sample_observations,
)
from keras_pg import observations
from keras_pg.algorithm.batch import episode_steps
from keras_pg.observations import Obs, as_parts
from serve import contract
from serve.loading import INPUT_DTYPES

if TYPE_CHECKING:  # for its name only: the caller converts the tf.function it passes here
    import tensorflow as tf

SAMPLED_EPISODE_STEPS = 125  # sampled observations are cut into episodes of this length
MAX_ROLLOUT_FACTOR = 4  # rollouts finish their episodes, up to this many times `count` steps


class Episodes(NamedTuple):
    """Observations of whole episodes, each in time order."""

    obs: Obs
    """[n, *obs_shape] (per part), in the policy's input dtypes."""
    episode: np.ndarray
    """int [n], which episode each observation belongs to."""


def sampled_episodes(space: gym.Space, count: int, seed: int) -> Episodes:
    """`count` observations sampled from the space (`verify.sample_observations`), cut into
    episodes of SAMPLED_EPISODE_STEPS: states no policy would reach, over many steps."""
    return Episodes(sample_observations(space, count, seed),
                    np.arange(count) // SAMPLED_EPISODE_STEPS)


def rollout_episodes(model_bytes: bytes, make_env: Callable[[], gym.Env], count: int,
                     seed: int, num_envs: int = 8) -> Episodes:
    """Episodes met by the exported recurrent policy `model_bytes` sampling its actions in
    `num_envs` envs made by `make_env`, its state carried per env and zeroed at each
    episode's start: at least `count` observations, the episodes in flight then played to
    their end (up to MAX_ROLLOUT_FACTOR * count observations in all)."""
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    dtypes = {node.name: INPUT_DTYPES[node.type] for node in session.get_inputs()
              if node.name not in (contract.STATE, contract.ACTION_MASK)}
    names = [node.name for node in session.get_outputs()]
    size = _state_size(session)
    env = gym.vector.SyncVectorEnv([make_env] * num_envs,
                                   autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    rng = np.random.default_rng(seed)
    seen: list[Obs] = []
    episodes: list[np.ndarray] = []
    try:
        obs, info = env.reset(seed=seed)
        state = np.zeros((num_envs, size), np.float32)
        episode, recording, started = np.arange(num_envs), np.ones(num_envs, bool), num_envs
        taken = 0
        while recording.any() and taken < MAX_ROLLOUT_FACTOR * count:
            parts = observations.cast(as_parts(obs), dtypes.get(contract.INPUT, dtypes))
            seen.append(observations.map_obs(lambda part, kept=recording: part[kept], parts))
            episodes.append(episode[recording])
            taken += int(recording.sum())
            outputs = dict(zip(names, session.run(names, {
                **feeds(parts, env_masks(session, info, num_envs)), contract.STATE: state}),
                strict=True))
            obs, _, terminated, truncated, info = env.step(
                sample_actions(outputs, env.single_action_space, rng))
            done = terminated | truncated
            state = np.where(done[:, None], 0.0, outputs[contract.NEXT_STATE]).astype(np.float32)
            if taken >= count:
                recording &= ~done
            else:
                episode = episode.copy()
                episode[done] = started + np.arange(int(done.sum()))
                started += int(done.sum())
    finally:
        env.close()
    return Episodes(observations.concatenate(seen), np.concatenate(episodes))


def verify_recurrent(model_bytes: bytes, policy: tf.types.experimental.GenericFunction,
                     sets: dict[str, Episodes], mask_branches: tuple[int, ...] | None = None
                     ) -> dict[str, Any]:
    """Check the model and compare every output of every step with the TensorFlow `policy`
    function ((obs, state [, action_mask]) -> outputs and next_state) over whole episodes;
    with `mask_branches` (a file with an `action_mask` input), every step under a random
    mask (`verify.random_masks`), where no illegal action may have a probability or be the
    greedy action.

    Returns the verification part of the export report; raises VerificationError when an
    output differs by more than MAX_ABS_DIFF (the next state: relative to 1 + |state|, an
    LSTM's c growing over an episode) or a greedy action differs at any step."""
    onnx.checker.check_model(onnx.load_from_string(model_bytes), full_check=True)
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    size = _state_size(session)
    max_abs_diff = dict.fromkeys((name for name in names if name != contract.ACTION), 0.0)
    checked = dict(max_abs_diff)  # what is held to MAX_ABS_DIFF: the state's scaled
    same, steps = 0, 0
    keras_steps = None
    for episodes in sets.values():
        grid, alive = _grid(episodes)
        masks = None if mask_branches is None else random_masks(
            alive.size, mask_branches, 0).reshape(*alive.shape, -1)
        keras_steps = keras_steps or _keras_steps(policy, grid, size, masks is not None)
        stepped = keras_steps(grid, masks)
        state = np.zeros((alive.shape[1], size), np.float32)
        for t, live in enumerate(alive):
            obs_t = observations.map_obs(lambda part, t=t: part[t], grid)
            got = dict(zip(names, session.run(names, {
                **feeds(obs_t, None if masks is None else masks[t]), contract.STATE: state}),
                strict=True))
            if masks is not None and mask_branches is not None:
                check_legal({k: v[live] for k, v in got.items()}, masks[t][live], mask_branches)
            expected = {name: values[t] for name, values in stepped.items()}
            for name in max_abs_diff:
                difference = np.abs(got[name][live] - expected[name][live])
                max_abs_diff[name] = max(max_abs_diff[name], float(difference.max()))
                if name == contract.NEXT_STATE:  # relative to the state's own scale
                    difference = difference / (1.0 + np.abs(expected[name][live]))
                checked[name] = max(checked[name], float(difference.max()))
            same += int(same_actions(got[contract.ACTION], expected[contract.ACTION])[live].sum())
            steps += int(live.sum())
            state = got[contract.NEXT_STATE]
    _check_batch_sizes(session, sets, size, mask_branches)
    agreement = same / steps
    worst = max(checked, key=checked.__getitem__)
    if checked[worst] > MAX_ABS_DIFF or agreement < 1.0:
        relative = " relative to 1 + |state|" if worst == contract.NEXT_STATE else ""
        raise VerificationError(
            f"ONNX and Keras disagree over whole episodes: max |Δ{worst}|{relative} "
            f"{checked[worst]:.2e} (limit {MAX_ABS_DIFF:g}), greedy agreement "
            f"{agreement:.2%} (expected 100%)")
    return {
        "checker": "onnx.checker full_check passed",
        "observations": {name: observations.rows(e.obs) for name, e in sets.items()},
        "episodes": {name: len(np.unique(e.episode)) for name, e in sets.items()},
        "stepped": "whole episodes from the zero state, ONNX and Keras each carrying its own",
        "max_abs_diff": max_abs_diff,
        "action_agreement": agreement,
        "batch_sizes": list(BATCH_SIZES),
        **({"masks": "every step under a random mask"} if mask_branches else {}),
    }


def _grid(episodes: Episodes) -> tuple[Obs, np.ndarray]:
    """The observations as a grid [T, E, ...] (T the longest episode, zeros after an
    episode's end) and bool [T, E], which cells hold an observation."""
    ids = np.unique(episodes.episode, return_inverse=True)[1]
    t = episode_steps(ids)
    shape = (int(t.max()) + 1, int(ids.max()) + 1)
    alive = np.zeros(shape, bool)
    alive[t, ids] = True

    def place(part: np.ndarray) -> np.ndarray:
        grid = np.zeros((*shape, *part.shape[1:]), part.dtype)
        grid[t, ids] = part
        return grid

    return observations.map_obs(place, episodes.obs), alive


def _keras_steps(policy: tf.types.experimental.GenericFunction, grid: Obs, size: int,
                 masked: bool) -> Callable[[Obs, np.ndarray | None], dict[str, np.ndarray]]:
    """A function of a grid [T, E, ...] like `grid` (any T and E), and with `masked` of
    masks [T, E, P], giving the TensorFlow `policy`'s outputs {name: [T, E, ...]} at every
    cell, each column stepped from the zero state with the state the previous step
    returned: one compiled loop (tf.scan) instead of a call per step, traced once (a
    concrete function: no retracing per call)."""
    import tensorflow as tf

    def step(obs: Any, state: tf.Tensor, mask: tf.Tensor | None) -> dict[str, tf.Tensor]:
        return policy(obs, state, *([] if mask is None else [mask]))

    @tf.function(autograph=False)
    def steps(grid: Any, masks: tf.Tensor | None) -> dict[str, tf.Tensor]:
        first_obs = tf.nest.map_structure(lambda part: part[0], grid)
        rows = tf.shape(tf.nest.flatten(grid)[0])[1]
        first = step(first_obs, tf.zeros(tf.stack([rows, size])),
                     None if masks is None else masks[0])
        later = tf.nest.map_structure(lambda part: part[1:], grid)
        rest = tf.scan(
            lambda previous, cell: step(cell[0], previous[contract.NEXT_STATE],
                                        cell[1] if masked else None),
            (later, masks[1:]) if masks is not None else (later,), initializer=first)
        return {name: tf.concat([first[name][None], rest[name]], axis=0) for name in first}

    concrete = steps.get_concrete_function(tf.nest.map_structure(
        lambda part: tf.TensorSpec([None, None, *part.shape[2:]], tf.as_dtype(part.dtype)), grid),
        tf.TensorSpec([None, None, None], tf.bool) if masked else None)
    return lambda grid, masks: {name: values.numpy() for name, values
                                in concrete(grid, *([] if masks is None else [masks])).items()}


def _state_size(session: ort.InferenceSession) -> int:
    """S, the size of the session's `state` input."""
    return next(int(node.shape[-1]) for node in session.get_inputs()
                if node.name == contract.STATE)


def _check_batch_sizes(session: ort.InferenceSession, sets: dict[str, Episodes],
                       size: int, mask_branches: tuple[int, ...] | None) -> None:
    """The file answers batches of BATCH_SIZES rows (with as many states) in the shapes its
    first row has."""
    obs = next(iter(sets.values())).obs
    for rows in BATCH_SIZES:
        batch = observations.map_obs(
            lambda part, rows=rows: np.resize(part, (rows, *part.shape[1:])), obs)
        masks = None if mask_branches is None else np.ones((rows, sum(mask_branches)), bool)
        action, next_state = session.run(
            [contract.ACTION, contract.NEXT_STATE],
            {**feeds(batch, masks), contract.STATE: np.zeros((rows, size), np.float32)})
        if len(action) != rows or next_state.shape != (rows, size):
            raise VerificationError(f"batch {rows}: action has {len(action)} rows and "
                                    f"next_state shape {next_state.shape}; expected {rows} and "
                                    f"{(rows, size)}")
