/**
 * CartPole-v1: gymnasium's CartPoleEnv (Barto, Sutton and Anderson 1983; euler integrator),
 * float64 as there. Reward 1 per step, terminated when |x| > 2.4 or |theta| > 12 degrees,
 * truncated at 500 steps. gymnasium's reward after termination (stepping on without a reset,
 * which it calls undefined behaviour) is not ported.
 * @module
 */

import { Env } from "./env.js";

const GRAVITY = 9.8;
const MASSCART = 1.0;
const MASSPOLE = 0.1;
const TOTAL_MASS = MASSPOLE + MASSCART;
const LENGTH = 0.5;  // half the pole's length
const POLEMASS_LENGTH = MASSPOLE * LENGTH;
const FORCE_MAG = 10.0;
const TAU = 0.02;
const THETA_THRESHOLD = (12 * 2 * Math.PI) / 360;
const X_THRESHOLD = 2.4;

export class CartPole extends Env {
  static id = "CartPole-v1";
  static maxEpisodeSteps = 500;
  /** Termination bounds: |x| and |theta| (radians). */
  static xThreshold = X_THRESHOLD;
  static thetaThreshold = THETA_THRESHOLD;

  /** x, x_dot, theta, theta_dot, each uniform in [-0.05, 0.05]. */
  initialState() {
    return this.uniform([-0.05, -0.05, -0.05, -0.05], [0.05, 0.05, 0.05, 0.05]);
  }

  observe() {
    return Float32Array.from(this.state);
  }

  /** @param {number} action 0 pushes left, 1 right */
  transition(action) {
    let [x, xDot, theta, thetaDot] = this.state;
    const force = action === 1 ? FORCE_MAG : -FORCE_MAG;
    const costheta = Math.cos(theta);
    const sintheta = Math.sin(theta);
    const temp = (force + POLEMASS_LENGTH * thetaDot ** 2 * sintheta) / TOTAL_MASS;
    const thetaacc = (GRAVITY * sintheta - costheta * temp)
      / (LENGTH * (4.0 / 3.0 - (MASSPOLE * costheta ** 2) / TOTAL_MASS));
    const xacc = temp - (POLEMASS_LENGTH * thetaacc * costheta) / TOTAL_MASS;
    x += TAU * xDot;
    xDot += TAU * xacc;
    theta += TAU * thetaDot;
    thetaDot += TAU * thetaacc;
    this.state = [x, xDot, theta, thetaDot];
    const terminated = x < -X_THRESHOLD || x > X_THRESHOLD
      || theta < -THETA_THRESHOLD || theta > THETA_THRESHOLD;
    return { reward: 1.0, terminated };
  }
}
