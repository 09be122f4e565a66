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
from export.verify import BATCH_SIZES, MAX_ABS_DIFF, feeds, sample_actions, sample_observations
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
              if node.name != contract.STATE}
    names = [node.name for node in session.get_outputs()]
    size = int(session.get_inputs()[-1].shape[-1])
    env = gym.vector.SyncVectorEnv([make_env] * num_envs,
                                   autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    rng = np.random.default_rng(seed)
    seen: list[Obs] = []
    episodes: list[np.ndarray] = []
    try:
        obs, _ = env.reset(seed=seed)
        state = np.zeros((num_envs, size), np.float32)
        episode, recording, started = np.arange(num_envs), np.ones(num_envs, bool), num_envs
        taken = 0
        while recording.any() and taken < MAX_ROLLOUT_FACTOR * count:
            parts = observations.cast(as_parts(obs), dtypes.get(contract.INPUT, dtypes))
            seen.append(observations.map_obs(lambda part, kept=recording: part[kept], parts))
            episodes.append(episode[recording])
            taken += int(recording.sum())
            outputs = dict(zip(names, session.run(
                names, {**feeds(parts), contract.STATE: state}), strict=True))
            obs, _, terminated, truncated, _ = env.step(
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
                     sets: dict[str, Episodes]) -> dict[str, Any]:
    """Check the model and compare every output of every step with the TensorFlow `policy`
    function ((obs, state) -> outputs and next_state) over whole episodes.

    Returns the verification part of the export report; raises VerificationError when an
    output differs by more than MAX_ABS_DIFF (the next state: relative to 1 + |state|, an
    LSTM's c growing over an episode) or a greedy action differs at any step."""
    onnx.checker.check_model(onnx.load_from_string(model_bytes), full_check=True)
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    size = int(session.get_inputs()[-1].shape[-1])
    max_abs_diff = dict.fromkeys((name for name in names if name != contract.ACTION), 0.0)
    checked = dict(max_abs_diff)  # what is held to MAX_ABS_DIFF: the state's scaled
    same, steps = 0, 0
    keras_steps = None
    for episodes in sets.values():
        grid, alive = _grid(episodes)
        keras_steps = keras_steps or _keras_steps(policy, grid, size)
        stepped = keras_steps(grid)
        state = np.zeros((alive.shape[1], size), np.float32)
        for t, live in enumerate(alive):
            obs_t = observations.map_obs(lambda part, t=t: part[t], grid)
            got = dict(zip(names, session.run(
                names, {**feeds(obs_t), contract.STATE: state}), strict=True))
            expected = {name: values[t] for name, values in stepped.items()}
            for name in max_abs_diff:
                difference = np.abs(got[name][live] - expected[name][live])
                max_abs_diff[name] = max(max_abs_diff[name], float(difference.max()))
                if name == contract.NEXT_STATE:  # relative to the state's own scale
                    difference = difference / (1.0 + np.abs(expected[name][live]))
                checked[name] = max(checked[name], float(difference.max()))
            same += int(_same_actions(got[contract.ACTION], expected[contract.ACTION])[live].sum())
            steps += int(live.sum())
            state = got[contract.NEXT_STATE]
    _check_batch_sizes(session, sets, size)
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


def _keras_steps(policy: tf.types.experimental.GenericFunction, grid: Obs, size: int
                 ) -> Callable[[Obs], dict[str, np.ndarray]]:
    """A function of a grid [T, E, ...] like `grid` (any T and E) giving the TensorFlow
    `policy`'s outputs {name: [T, E, ...]} at every cell, each column stepped from the zero
    state with the state the previous step returned: one compiled loop (tf.scan) instead of
    a call per step, traced once (a concrete function: no retracing per call)."""
    import tensorflow as tf

    @tf.function(autograph=False)
    def steps(grid: Any) -> dict[str, tf.Tensor]:
        first_obs = tf.nest.map_structure(lambda part: part[0], grid)
        rows = tf.shape(tf.nest.flatten(grid)[0])[1]
        first = policy(first_obs, tf.zeros(tf.stack([rows, size])))
        rest = tf.scan(lambda previous, obs_t: policy(obs_t, previous[contract.NEXT_STATE]),
                       tf.nest.map_structure(lambda part: part[1:], grid), initializer=first)
        return {name: tf.concat([first[name][None], rest[name]], axis=0) for name in first}

    concrete = steps.get_concrete_function(tf.nest.map_structure(
        lambda part: tf.TensorSpec([None, None, *part.shape[2:]], tf.as_dtype(part.dtype)), grid))
    return lambda grid: {name: values.numpy() for name, values in concrete(grid).items()}


def _same_actions(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """bool [B]: whether each row's greedy action is the same (within MAX_ABS_DIFF for a
    Box action)."""
    rows = len(got)
    if got.dtype == np.int64:
        return (got == expected).reshape(rows, -1).all(axis=1)
    return np.abs(got - expected).reshape(rows, -1).max(axis=1) <= MAX_ABS_DIFF


def _check_batch_sizes(session: ort.InferenceSession, sets: dict[str, Episodes],
                       size: int) -> None:
    """The file answers batches of BATCH_SIZES rows (with as many states) in the shapes its
    first row has."""
    obs = next(iter(sets.values())).obs
    for rows in BATCH_SIZES:
        batch = observations.map_obs(
            lambda part, rows=rows: np.resize(part, (rows, *part.shape[1:])), obs)
        action, next_state = session.run(
            [contract.ACTION, contract.NEXT_STATE],
            {**feeds(batch), contract.STATE: np.zeros((rows, size), np.float32)})
        if len(action) != rows or next_state.shape != (rows, size):
            raise VerificationError(f"batch {rows}: action has {len(action)} rows and "
                                    f"next_state shape {next_state.shape}; expected {rows} and "
                                    f"{(rows, size)}")
