/**
 * A policy playing episodes of an env port, one `decide` per step (the action and the
 * distribution it came from in one model call), keeping the returns of its episodes. A
 * recurrent policy's state goes from each step to the next, zeros at each episode's start.
 * An env that says which actions are legal (gymnasium's `info["action_mask"]`, Taxi-v4's)
 * has its mask passed at every step to a policy that takes one.
 * @module
 */

/**
 * @typedef {object} Decision what the policy did last
 * @property {any} action
 * @property {Record<string, any>} distribution its probs, or mean and std (and a recurrent
 *   policy's next_state)
 * @property {ArrayLike<number> | null} mask the legal actions it chose among (null: all)
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
    /**
     * The state the next step takes (a recurrent policy's; null for a feed-forward one).
     * @type {Float32Array | null}
     */
    this.state = policy.stateSize === null ? null : policy.initialState();
    /** @type {Decision | null} */
    this.last = null;
  }

  /** Starts a new episode (the finished ones keep their returns), from the initial state. */
  reset() {
    this.observation = this.env.reset();
    this.episodeReturn = 0;
    this.episodeSteps = 0;
    if (this.state !== null) this.state = this.policy.initialState();
    this.last = null;
  }

  /**
   * The env's mask of legal actions in its current state, for a policy that takes one; null
   * otherwise (every action legal).
   * @returns {ArrayLike<number> | null}
   */
  actionMask() {
    return this.policy.maskSize === null ? null : this.env.info?.action_mask ?? null;
  }

  /** One step: the policy decides, the env moves; an episode that ends is recorded. */
  async step() {
    const mask = this.actionMask();
    const { actions, distribution } = await this.policy.decide(this.observation,
      { deterministic: this.deterministic, state: this.state, actionMask: mask });
    const action = actions[0];
    if (this.state !== null) this.state = /** @type {Float32Array} */ (distribution.next_state[0]);
    const { observation, reward, terminated, truncated } = this.env.step(action);
    this.observation = observation;
    this.episodeReturn += reward;
    this.episodeSteps += 1;
    this.steps += 1;
    this.last = { action, mask, distribution: Object.fromEntries(
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
