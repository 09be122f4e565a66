/**
 * tests/memory_env.py's Cue-v0 in JavaScript, for the tests of recurrent policies: the first
 * observation shows a cue, (+1 or -1, 0); the following ones (0, 0), and the last one (0, 1),
 * "answer now". Only the action taken on the last observation is rewarded: 1 when it is the
 * cue's side (1 for +1, 0 for -1). Not a package env: a test env, checked here against the
 * episodes Python recorded (test/recurrent.test.js).
 */

import { Random } from "../src/random.js";

export class Cue {
  static id = "tests.memory_env:Cue-v0";

  /** @param {{seed?: number, steps?: number}} [options] */
  constructor({ seed, steps = 5 } = {}) {
    this.random = new Random(seed);
    this.steps = steps;
    this.t = 0;
    this.cue = 0;
  }

  /**
   * A new episode: its first observation.
   * @param {0 | 1} [cue] the side to remember (default: drawn at random)
   */
  reset(cue) {
    this.t = 0;
    this.cue = cue ?? (this.random.uniform() < 0.5 ? 0 : 1);
    return Float32Array.of(2 * this.cue - 1, 0);
  }

  /** @param {number} action */
  step(action) {
    const answer = this.t === this.steps - 1;
    const reward = answer && action === this.cue ? 1 : 0;
    this.t += 1;
    const last = this.t === this.steps - 1;
    return { observation: Float32Array.of(0, last ? 1 : 0), reward, terminated: answer,
             truncated: false };
  }
}
