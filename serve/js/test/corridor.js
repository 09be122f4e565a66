/**
 * tests/masked_env.py's Corridor-v0 in JavaScript, for the tests of action masks: the agent
 * stands in cell s of a corridor of 6 cells and has 8 actions, of which two are legal in each
 * cell: FORWARD[s] moves it one cell on, BACK[s] one cell back (never below 0). Reaching the
 * last cell ends the episode with +1; every step costs 0.01, an illegal action 0.1 more (the
 * agent stays). With `branches`, the action is MultiDiscrete([8, 2]): the move and a flag
 * whose 1 is illegal (0.1 more), and the mask has both branches side by side. Not a package
 * env: a test env (test/masks.test.js).
 */

import { Random } from "../src/random.js";

export const FORWARD = [3, 6, 1, 4, 7, 2, 5, 0];
export const BACK = [5, 0, 7, 2, 1, 6, 3, 4];
export const LENGTH = 6;

/**
 * The legal actions of `cell`: 8 bits (with `branches`, then the flag's [1, 0]).
 * @param {number} cell
 * @param {boolean} [branches]
 */
export function corridorMask(cell, branches = false) {
  const mask = Array(8).fill(0);
  mask[FORWARD[cell]] = 1;
  mask[BACK[cell]] = 1;
  return branches ? [...mask, 1, 0] : mask;
}

export class Corridor {
  /** @param {{seed?: number, branches?: boolean}} [options] */
  constructor({ seed, branches = false } = {}) {
    this.random = new Random(seed);
    this.branches = branches;
    this.cell = 0;
    this.t = 0;
  }

  /** A new episode in a cell before the last: its observation (the cell). */
  reset() {
    this.cell = Math.floor(this.random.uniform() * (LENGTH - 1));
    this.t = 0;
    return this.cell;
  }

  /** The legal actions in the current cell. */
  actionMask() {
    return corridorMask(this.cell, this.branches);
  }

  /** @param {number | number[]} action */
  step(action) {
    const [move, flag] = Array.isArray(action) ? action : [action, 0];
    let reward = flag === 1 ? -0.11 : -0.01;
    if (move === FORWARD[this.cell]) {
      this.cell += 1;
    } else if (move === BACK[this.cell]) {
      this.cell = Math.max(this.cell - 1, 0);
    } else {
      reward -= 0.1;
    }
    this.t += 1;
    const terminated = this.cell === LENGTH - 1;
    return { observation: this.cell, reward: reward + Number(terminated), terminated,
             truncated: !terminated && this.t >= 30 };
  }
}
