/**
 * A policy playing episodes of an env port, one `decide` per step (the action and the
 * distribution it came from in one model call), keeping the returns of its episodes.
 * @module
 */

/**
 * @typedef {object} Decision what the policy did last
 * @property {any} action
 * @property {Record<string, any>} distribution its probs, or mean and std
 */

export class Player {
  /**
   * @param {import("keras-pg-policy").Policy} policy
   * @param {import("keras-pg-policy/envs").Env} env
   */
  constructor(policy, env) {
    this.policy = policy;
    this.env = env;
    this.deterministic = true;
    /** @type {number[]} the returns of finished episodes */
    this.returns = [];
    this.steps = 0;
    this.observation = env.reset();
    this.episodeReturn = 0;
    this.episodeSteps = 0;
    /** @type {Decision | null} */
    this.last = null;
  }

  /** Starts a new episode (the finished ones keep their returns). */
  reset() {
    this.observation = this.env.reset();
    this.episodeReturn = 0;
    this.episodeSteps = 0;
    this.last = null;
  }

  /** One step: the policy decides, the env moves; an episode that ends is recorded. */
  async step() {
    const { actions, distribution } = await this.policy.decide(this.observation,
      { deterministic: this.deterministic });
    const action = actions[0];
    const { observation, reward, terminated, truncated } = this.env.step(action);
    this.observation = observation;
    this.episodeReturn += reward;
    this.episodeSteps += 1;
    this.steps += 1;
    this.last = { action, distribution: Object.fromEntries(
      Object.entries(distribution).map(([name, rows]) => [name, rows[0]])) };
    if (terminated || truncated) {
      this.returns.push(this.episodeReturn);
      this.reset();
    }
  }

  /** The mean return of the finished episodes (NaN before the first). */
  meanReturn() {
    return this.returns.reduce((a, b) => a + b, 0) / this.returns.length;
  }
}
