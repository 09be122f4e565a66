/**
 * What the environment ports share: gymnasium's reset/step protocol for one environment, with
 * its TimeLimit. Each port keeps gymnasium's state in `state` (float64; assign it to replay a
 * transition) and returns observations as gymnasium does: float32 for a Box, an integer for
 * a Discrete observation. `info` is gymnasium's info of the last reset or step: Taxi-v4's
 * carries its `action_mask`.
 * @module
 */

import { Random } from "../random.js";

/**
 * @typedef {Record<string, unknown> & {action_mask?: Uint8Array}} Info gymnasium's info:
 *   {} for most ports; an env that says which actions are legal, Taxi-v4, puts its mask in
 *   `action_mask` (1: legal), as gymnasium's does
 * @typedef {object} Step
 * @property {Float32Array | number} observation float32, or an integer (Discrete)
 * @property {number} reward
 * @property {boolean} terminated the episode reached a terminal state
 * @property {boolean} truncated the time limit ended it (whether or not it also terminated)
 * @property {Info} info
 */

/**
 * @typedef {object} EnvOptions
 * @property {number} [seed] seeds the resets (not numpy's generator: other initial states)
 * @property {number | null} [maxEpisodeSteps] the time limit (default: the registered one)
 * @property {Record<string, unknown>} [kwargs] gymnasium.make keyword arguments the port takes
 */

/** An environment of gymnasium's, ported step for step. */
export class Env {
  /** The gymnasium id. */
  static id = "";
  /** The registered time limit. */
  static maxEpisodeSteps = 0;
  /** Keyword arguments the port takes, with their defaults. @type {Record<string, number>} */
  static kwargs = {};

  /** @param {EnvOptions} [options] */
  constructor({ seed, maxEpisodeSteps, kwargs = {} } = {}) {
    const type = /** @type {typeof Env} */ (this.constructor);
    for (const [key, value] of Object.entries(kwargs)) {
      if (!Object.hasOwn(type.kwargs, key)) {
        const known = Object.keys(type.kwargs).join(", ") || "none";
        throw new Error(`the JavaScript port of ${type.id} does not take the env kwarg `
          + `'${key}' (it takes ${known})`);
      }
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new Error(`the env kwarg ${key} of ${type.id} must be a number, got `
          + `${JSON.stringify(value)}`);
      }
    }
    /** Keyword arguments, defaults filled in. @type {Record<string, number>} */
    this.kwargs = { ...type.kwargs, .../** @type {Record<string, number>} */ (kwargs) };
    this.random = new Random(seed);
    this.maxEpisodeSteps = maxEpisodeSteps ?? type.maxEpisodeSteps;
    /** gymnasium's state variables, float64. @type {number[]} */
    this.state = [];
    this.elapsed = 0;
    /** gymnasium's info of the last reset or step. @type {Info} */
    this.info = {};
  }

  /** A new episode: its first observation (its info in `info`). */
  reset() {
    this.elapsed = 0;
    this.state = this.initialState();
    this.info = this.describe();
    return this.observe();
  }

  /**
   * One step of the environment and of its time limit.
   * @param {any} action an action index, or a vector (a number or a one-element array)
   * @returns {Step}
   */
  step(action) {
    const { reward, terminated } = this.transition(action);
    this.elapsed += 1;
    const truncated = this.maxEpisodeSteps !== null && this.elapsed >= this.maxEpisodeSteps;
    this.info = this.describe();
    return { observation: this.observe(), reward, terminated, truncated, info: this.info };
  }

  /** @returns {number[]} */
  initialState() {
    throw new Error("not implemented");
  }

  /** @returns {Float32Array | number} */
  observe() {
    throw new Error("not implemented");
  }

  /**
   * gymnasium's info in the current state.
   * @returns {Info}
   */
  describe() {
    return {};
  }

  /**
   * Advances `state`.
   * @param {any} action
   * @returns {{reward: number, terminated: boolean}}
   */
  transition(action) {
    throw new Error(`not implemented: ${action}`);
  }

  /**
   * Uniform draws in [low, high], one per entry.
   * @param {number[]} low
   * @param {number[]} high
   */
  uniform(low, high) {
    return low.map((l, i) => l + (high[i] - l) * this.random.uniform());
  }
}
