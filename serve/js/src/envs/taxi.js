/**
 * Taxi-v4: gymnasium's TaxiEnv (Dietterich 2000, "Hierarchical Reinforcement Learning with
 * the MAXQ Value Function Decomposition"), its deterministic ("dry") transitions. A taxi on a
 * 5x5 grid with walls picks up a passenger at one of four stands (R, G, Y, B) and drops them
 * off at another. The state is gymnasium's integer ((row * 5 + col) * 5 + passenger) * 4 +
 * destination (passenger 4: in the taxi), which is also the observation. Reward -1 per step,
 * +20 for the drop-off that ends the episode, -10 for a pickup or drop-off where there is
 * none; truncated at 200 steps. After every reset and step, `info.action_mask` holds the
 * actions that change the state, as gymnasium's `action_mask(state)` computes them (0 south,
 * 1 north, 2 east, 3 west, 4 pickup, 5 drop-off). gymnasium's rainy and fickle variants are
 * not ported.
 * @module
 */

import { Env } from "./env.js";

/** The map: `:` between two cells is open, `|` a wall. */
const MAP = [
  "+---------+",
  "|R: | : :G|",
  "| : | : : |",
  "| : : : : |",
  "| | : | : |",
  "|Y| : |B: |",
  "+---------+",
];
/** The stands R, G, Y, B as [row, col]. */
const STANDS = [[0, 0], [0, 4], [4, 0], [4, 3]];
const SIZE = 5;
const IN_TAXI = 4;
/** The states an episode starts in: the passenger at a stand that is not the destination. */
const STARTS = Array.from({ length: 500 }, (_, s) => s).filter((s) => {
  const [, , passenger, destination] = decode(s);
  return passenger < IN_TAXI && passenger !== destination;
});

/**
 * gymnasium's encode: the state of a taxi at (row, col), a passenger and a destination.
 * @param {number} row
 * @param {number} col
 * @param {number} passenger a stand, or 4 (in the taxi)
 * @param {number} destination a stand
 */
export function encode(row, col, passenger, destination) {
  return ((row * SIZE + col) * 5 + passenger) * 4 + destination;
}

/**
 * gymnasium's decode: [row, col, passenger, destination] of a state.
 * @param {number} state
 * @returns {[number, number, number, number]}
 */
export function decode(state) {
  const destination = state % 4;
  const passenger = Math.floor(state / 4) % 5;
  const col = Math.floor(state / 20) % SIZE;
  return [Math.floor(state / 100), col, passenger, destination];
}

/**
 * Whether the taxi at (row, col) can move east (`side` 1) or west (-1): no wall in the way.
 * @param {number} row
 * @param {number} col
 * @param {1 | -1} side
 */
function open(row, col, side) {
  return MAP[1 + row][2 * col + 1 + side] === ":";
}

/**
 * The stand at (row, col), or -1.
 * @param {number} row
 * @param {number} col
 */
function standAt(row, col) {
  return STANDS.findIndex(([r, c]) => r === row && c === col);
}

export class Taxi extends Env {
  static id = "Taxi-v4";
  static maxEpisodeSteps = 200;
  /** The map's rows, for drawing. */
  static map = MAP;
  /** The stands R, G, Y, B as [row, col]. */
  static stands = STANDS;
  static decode = decode;
  static encode = encode;

  /** One of the 300 starting states, uniformly. */
  initialState() {
    return [STARTS[Math.floor(this.random.uniform() * STARTS.length)]];
  }

  observe() {
    return this.state[0];
  }

  describe() {
    return { prob: 1.0, action_mask: actionMask(this.state[0]) };
  }

  /** @param {number} action 0 south, 1 north, 2 east, 3 west, 4 pickup, 5 drop-off */
  transition(action) {
    let [row, col, passenger] = decode(this.state[0]);
    const destination = this.state[0] % 4;
    const stand = standAt(row, col);
    let reward = -1;
    let terminated = false;
    if (action === 0) row = Math.min(row + 1, SIZE - 1);
    if (action === 1) row = Math.max(row - 1, 0);
    if (action === 2 && open(row, col, 1)) col = Math.min(col + 1, SIZE - 1);
    if (action === 3 && open(row, col, -1)) col = Math.max(col - 1, 0);
    if (action === 4) {
      if (passenger < IN_TAXI && stand === passenger) {
        passenger = IN_TAXI;
      } else {
        reward = -10;
      }
    }
    if (action === 5) {
      if (passenger === IN_TAXI && stand === destination) {
        passenger = destination;
        terminated = true;
        reward = 20;
      } else if (passenger === IN_TAXI && stand >= 0) {
        passenger = stand;
      } else {
        reward = -10;
      }
    }
    this.state = [encode(row, col, passenger, destination)];
    return { reward, terminated };
  }
}

/**
 * gymnasium's `action_mask(state)`: 1 for each action that changes the state.
 * @param {number} state
 * @returns {Uint8Array} [6]
 */
export function actionMask(state) {
  const [row, col, passenger, destination] = decode(state);
  const stand = standAt(row, col);
  return Uint8Array.of(
    row < SIZE - 1 ? 1 : 0,
    row > 0 ? 1 : 0,
    col < SIZE - 1 && open(row, col, 1) ? 1 : 0,
    col > 0 && open(row, col, -1) ? 1 : 0,
    passenger < IN_TAXI && stand === passenger ? 1 : 0,
    passenger === IN_TAXI && (stand === destination || stand >= 0) ? 1 : 0,
  );
}
