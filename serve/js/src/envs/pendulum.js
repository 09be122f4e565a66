/**
 * Pendulum-v1: gymnasium's PendulumEnv, float64 as there, with its float32 steps where a
 * float32 action meets a Python float (numpy 2's promotion rules: the torque term and its
 * cost are float32). Reward -(angle^2 + 0.1 velocity^2 + 0.001 torque^2), never terminates,
 * truncated at 200 steps.
 * @module
 */

import { Env } from "./env.js";

const MAX_SPEED = 8;
const MAX_TORQUE = 2.0;
const DT = 0.05;
const M = 1.0;
const L = 1.0;
const f32 = Math.fround;

export class Pendulum extends Env {
  static id = "Pendulum-v1";
  static maxEpisodeSteps = 200;
  static kwargs = { g: 10.0 };

  /** theta uniform in [-pi, pi], theta_dot in [-1, 1]. */
  initialState() {
    return this.uniform([-Math.PI, -1], [Math.PI, 1]);
  }

  observe() {
    const [theta, thetaDot] = this.state;
    return Float32Array.of(Math.cos(theta), Math.sin(theta), thetaDot);
  }

  /** @param {number | ArrayLike<number>} action the torque, clipped to [-2, 2] */
  transition(action) {
    const [th, thdot] = this.state;
    const g = this.kwargs.g;
    const torque = typeof action === "number" ? action : action[0];
    const u = f32(Math.min(Math.max(f32(torque), -MAX_TORQUE), MAX_TORQUE));
    const costs = angleNormalize(th) ** 2 + 0.1 * thdot ** 2 + f32(f32(0.001) * f32(u * u));
    let newthdot = thdot
      + ((3 * g) / (2 * L) * Math.sin(th) + f32((3.0 / (M * L ** 2)) * u)) * DT;
    newthdot = Math.min(Math.max(newthdot, -MAX_SPEED), MAX_SPEED);
    this.state = [th + newthdot * DT, newthdot];
    return { reward: -costs, terminated: false };
  }
}

/**
 * The angle in [-pi, pi): Python's floored modulo, ((x + pi) % (2 pi)) - pi.
 * @param {number} x
 */
function angleNormalize(x) {
  const period = 2 * Math.PI;
  let mod = (x + Math.PI) % period;  // C's fmod; numpy adds the divisor when signs differ
  if (mod !== 0 && mod < 0) mod += period;
  return mod - Math.PI;
}
