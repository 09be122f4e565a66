/**
 * A recurrent policy's state as callers pass it, checked, with Python's one-line messages
 * (serve/state.py), and `Episode`, which carries it from one step to the next.
 *
 * The contract makes every runtime stateless: a caller passes the state after the episode's
 * previous step (the initial state, zeros, at its first step) and receives the state after
 * this one. One observation takes a state [S], a batch of B observations one state per row
 * [B, S].
 * @module
 */

import { allFinite, isTensorLike, nestedNumbers } from "./observations.js";
import { pyTuple, pyTypeName } from "./python.js";

export const MISSING = "this policy is recurrent: pass its state (initial_state() at an "
  + "episode's first step, then the state the previous step returned)";
export const UNEXPECTED = "this policy is feed-forward: it takes no state";
export const STATE_NOT_FINITE = "state holds NaN or inf; expected the state a previous step "
  + "returned";

/**
 * A state: a Float32Array [S] (or numbers) for one observation; for a batch of B, B rows of S
 * (Float32Arrays or arrays), or `{data, dims: [B, S]}` (a flat Float32Array).
 * @typedef {import("./observations.js").Observation} State
 */

/**
 * Zeros: a Float32Array [size] for one episode, or `batch` of them for a batch of episodes.
 * @param {number} size
 * @param {number | null} [batch]
 * @returns {Float32Array | Float32Array[]}
 */
export function initialState(size, batch = null) {
  if (batch === null || batch === undefined) return new Float32Array(size);
  if (!Number.isInteger(batch) || batch < 0) {
    throw new Error(`batch must be a number of episodes (an integer >= 0), got ${batch}`);
  }
  return Array.from({ length: batch }, () => new Float32Array(size));
}

/**
 * `state` as float32 [rows, size], flat: [size] for a single observation, [rows, size] for a
 * batch of `rows`; an Error in one line (Python's text) saying what was expected.
 * @param {unknown} state
 * @param {number} size the policy's state size
 * @param {number} rows the observations
 * @param {boolean} single whether one observation (not a batch) was given
 * @returns {Float32Array}
 */
export function asState(state, size, rows, single) {
  if (state === undefined || state === null) throw new Error(MISSING);
  const expected = single ? [size] : [rows, size];
  // The usual call: the Float32Array [size] the previous step returned, as it is.
  if (single && state instanceof Float32Array && state.length === size) {
    if (!allFinite(state)) throw new Error(STATE_NOT_FINITE);
    return state;
  }
  let read;
  if (isTensorLike(state)) {
    const count = state.dims.reduce((a, b) => a * b, 1);
    if (state.data.length !== count) {
      throw new Error(`state has ${state.data.length} values in data but dims `
        + `${pyTuple([...state.dims])} hold ${count}`);
    }
    read = { values: state.data, dims: [...state.dims] };
  } else {
    read = nestedNumbers(state);
  }
  if (read === null) {
    throw new Error(`state must be numbers of shape ${pyTuple(expected)}; got `
      + pyTypeName(state));
  }
  if (read.dims.length !== expected.length || read.dims.some((d, i) => d !== expected[i])) {
    const what = single ? "one observation" : `a batch of ${rows}`;
    throw new Error(`state must have shape ${pyTuple(expected)} for ${what} (state_size `
      + `${size}); got ${pyTuple(read.dims)}`);
  }
  const values = Float32Array.from(read.values);  // float32, as Python's: 1e39 is inf
  if (!allFinite(values)) throw new Error(STATE_NOT_FINITE);
  return values;
}

/**
 * An Error in one line (Python's text) when a feed-forward policy is given a state.
 * @param {unknown} state
 */
export function checkNoState(state) {
  if (state !== undefined && state !== null) {
    throw new Error(`${UNEXPECTED} (got ${pyTypeName(state)}; pass deterministic= by keyword)`);
  }
}

/**
 * A policy acting through one episode (or `batch` episodes in lockstep), keeping a recurrent
 * policy's state from one call to the next (`policy.episode()`); for a feed-forward policy it
 * is `act`. One call at a time: each `act` takes the state the one before returned.
 *
 *     const episode = policy.episode();
 *     let observation = env.reset();
 *     for (;;) {
 *       const step = env.step(await episode.act(observation));
 *       if (step.terminated || step.truncated) break;
 *       observation = step.observation;
 *     }
 */
export class Episode {
  /**
   * @param {import("./onnx-policy.js").Policy} policy
   * @param {{batch?: number | null, deterministic?: boolean}} [options] batch: the episodes
   *   played in lockstep (default: one, unbatched); deterministic: greedy (default) or sampled
   */
  constructor(policy, { batch = null, deterministic = true } = {}) {
    this.policy = policy;
    this.batch = batch;
    this.deterministic = deterministic;
    /**
     * The state the next `act` takes: zeros at the start, then the state the last one
     * returned (a Float32Array [S], or one per episode of a batch); null for a feed-forward
     * policy.
     * @type {Float32Array | Float32Array[] | null}
     */
    this.state = policy.stateSize === null ? null : initialState(policy.stateSize, batch);
  }

  /**
   * The policy's action(s) for the episode's next observation(s), among the legal actions of
   * `actionMask` if given (a policy taking an action mask: see `Policy.act`).
   * @param {import("./onnx-policy.js").Observations} obs
   * @param {{actionMask?: import("./masks.js").ActionMask | null}} [options]
   * @returns {Promise<import("./onnx-policy.js").Action | import("./onnx-policy.js").Action[]>}
   */
  async act(obs, { actionMask } = {}) {
    const { deterministic } = this;
    if (this.state === null) return this.policy.act(obs, { deterministic, actionMask });
    const { action, state } = await this.policy.act(obs, { state: this.state, deterministic,
                                                           actionMask });
    this.state = state;
    return action;
  }

  /**
   * Starts again from the initial state: every episode, or the `rows` of a batch (indices,
   * or one boolean per episode) whose episodes have just started.
   * @param {number[] | boolean[]} [rows]
   */
  reset(rows) {
    const size = this.policy.stateSize;
    if (size === null) return;
    if (rows === undefined) {
      this.state = initialState(size, this.batch);
      return;
    }
    if (this.batch === null) {
      throw new Error("reset(rows) restarts episodes of a batch; this is one episode: reset()");
    }
    const batch = this.batch;
    const state = [.../** @type {Float32Array[]} */ (this.state)];
    const mask = rows.some((row) => typeof row === "boolean");
    if (mask && rows.length !== batch) {
      throw new Error(`reset(rows) takes one boolean per episode (${batch}); got ${rows.length}`);
    }
    rows.forEach((row, i) => {
      if (mask && !row) return;
      const index = mask ? i : Number(row);
      if (!Number.isInteger(index) || index < 0 || index >= batch) {
        throw new Error(`reset(rows): ${index} is not an episode of this batch of ${batch}`);
      }
      state[index] = new Float32Array(size);
    });
    this.state = state;
  }
}
