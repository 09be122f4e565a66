/**
 * JavaScript ports of gymnasium's classic control environments and of Taxi-v4 (whose info
 * carries the legal actions, `info.action_mask`), by gymnasium id.
 *
 *     import { makeEnv } from "keras-pg-policy/envs";
 *     const env = makeEnv("CartPole-v1", { seed: 0 });
 *     let observation = env.reset();
 *     const { observation, reward, terminated, truncated, info } = env.step(1);
 * @module
 */

import { Acrobot } from "./acrobot.js";
import { CartPole } from "./cartpole.js";
import { Pendulum } from "./pendulum.js";
import { Taxi } from "./taxi.js";

export { Acrobot, CartPole, Pendulum, Taxi };
export { Env } from "./env.js";

/** The ported environments by gymnasium id. */
export const ENVS = Object.freeze({
  [CartPole.id]: CartPole, [Acrobot.id]: Acrobot, [Pendulum.id]: Pendulum, [Taxi.id]: Taxi,
});

/**
 * The port of `envId`, or an Error naming the ports.
 * @param {string} envId a gymnasium id
 * @param {import("./env.js").EnvOptions} [options]
 */
export function makeEnv(envId, options = {}) {
  if (!Object.hasOwn(ENVS, envId)) {
    throw new Error(`no JavaScript port of ${envId}; the ports are `
      + `${Object.keys(ENVS).join(", ")}`);
  }
  return new ENVS[envId](options);
}
