/**
 * Acrobot-v1: gymnasium's AcrobotEnv (Sutton 1996; the "book" dynamics of Sutton and Barto),
 * one RK4 step of dt = 0.2 s per action, no torque noise, float64 as there. Reward -1 per
 * step (0 on the terminating step), terminated when the tip rises a link's length above the
 * pivot, truncated at 500 steps.
 * @module
 */

import { Env } from "./env.js";

const DT = 0.2;
const LINK_LENGTH_1 = 1.0;
const LINK_MASS_1 = 1.0;
const LINK_MASS_2 = 1.0;
const LINK_COM_POS_1 = 0.5;
const LINK_COM_POS_2 = 0.5;
const LINK_MOI = 1.0;
const MAX_VEL_1 = 4 * Math.PI;
const MAX_VEL_2 = 9 * Math.PI;
const AVAIL_TORQUE = [-1.0, 0.0, 1.0];
const { cos, sin, PI } = Math;

export class Acrobot extends Env {
  static id = "Acrobot-v1";
  static maxEpisodeSteps = 500;

  /** theta1, theta2, dtheta1, dtheta2, each uniform in [-0.1, 0.1], as float32 there. */
  initialState() {
    return this.uniform([-0.1, -0.1, -0.1, -0.1], [0.1, 0.1, 0.1, 0.1]).map(Math.fround);
  }

  observe() {
    const [theta1, theta2, dtheta1, dtheta2] = this.state;
    return Float32Array.of(cos(theta1), sin(theta1), cos(theta2), sin(theta2), dtheta1, dtheta2);
  }

  /** @param {number} action 0, 1, 2: torque -1, 0, +1 on the joint between the links */
  transition(action) {
    const torque = AVAIL_TORQUE[action];
    const s = this.state;
    const k1 = derivatives(s, torque);
    const k2 = derivatives(add(s, k1, DT / 2), torque);
    const k3 = derivatives(add(s, k2, DT / 2), torque);
    const k4 = derivatives(add(s, k3, DT), torque);
    const next = s.map((v, i) => v + (DT / 6.0) * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]));
    this.state = [wrap(next[0], -PI, PI), wrap(next[1], -PI, PI),
      bound(next[2], -MAX_VEL_1, MAX_VEL_1), bound(next[3], -MAX_VEL_2, MAX_VEL_2)];
    const terminated = -cos(this.state[0]) - cos(this.state[1] + this.state[0]) > 1.0;
    return { reward: terminated ? 0.0 : -1.0, terminated };
  }
}

/**
 * gymnasium's _dsdt ("book" branch): d/dt of (theta1, theta2, dtheta1, dtheta2).
 * @param {number[]} s
 * @param {number} a the torque
 */
function derivatives(s, a) {
  const m1 = LINK_MASS_1, m2 = LINK_MASS_2, l1 = LINK_LENGTH_1;
  const lc1 = LINK_COM_POS_1, lc2 = LINK_COM_POS_2, I1 = LINK_MOI, I2 = LINK_MOI, g = 9.8;
  const [theta1, theta2, dtheta1, dtheta2] = s;
  const d1 = m1 * lc1 ** 2 + m2 * (l1 ** 2 + lc2 ** 2 + 2 * l1 * lc2 * cos(theta2)) + I1 + I2;
  const d2 = m2 * (lc2 ** 2 + l1 * lc2 * cos(theta2)) + I2;
  const phi2 = m2 * lc2 * g * cos(theta1 + theta2 - PI / 2.0);
  const phi1 = -m2 * l1 * lc2 * dtheta2 ** 2 * sin(theta2)
    - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin(theta2)
    + (m1 * lc1 + m2 * l1) * g * cos(theta1 - PI / 2)
    + phi2;
  const ddtheta2 = (a + (d2 / d1) * phi1 - m2 * l1 * lc2 * dtheta1 ** 2 * sin(theta2) - phi2)
    / (m2 * lc2 ** 2 + I2 - d2 ** 2 / d1);
  const ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
  return [dtheta1, dtheta2, ddtheta1, ddtheta2];
}

/**
 * s + h * k
 * @param {number[]} s
 * @param {number[]} k
 * @param {number} h
 */
function add(s, k, h) {
  return s.map((v, i) => v + h * k[i]);
}

/**
 * gymnasium's wrap: shift by the period until in [low, high].
 * @param {number} x
 * @param {number} low
 * @param {number} high
 */
function wrap(x, low, high) {
  const period = high - low;
  while (x > high) x -= period;
  while (x < low) x += period;
  return x;
}

/**
 * @param {number} x
 * @param {number} low
 * @param {number} high
 */
function bound(x, low, high) {
  return Math.min(Math.max(x, low), high);
}
