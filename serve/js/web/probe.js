/**
 * The probe: an observation in (JSON), the policy's outputs out -- for a policy whose env has
 * no JavaScript port, and for checking any policy by hand. A recurrent policy's probe steps
 * through an episode: each run takes the state the run before returned (zeros at the first).
 * A policy that takes an action mask takes one here too (optional: all legal without).
 * @module
 */

/**
 * A zero observation of the policy, the probe's first offer: nested arrays of its shape, or
 * {part: zeros of its shape} for a Dict or Tuple observation.
 * @param {import("keras-pg-policy").Policy} policy
 * @returns {any}
 */
export function zeroObservation(policy) {
  const parts = policy.observationParts;
  if (parts === null) return zeros(policy.observationShape);
  return Object.fromEntries(Object.entries(parts).map(([name, { shape }]) =>
    [name, zeros(shape)]));
}

/**
 * A zero observation of `shape`, as nested arrays.
 * @param {number[]} shape
 * @returns {any}
 */
function zeros(shape) {
  return shape.length === 0 ? 0 : Array.from({ length: shape[0] }, () => zeros(shape.slice(1)));
}

export class Probe {
  /** @param {import("keras-pg-policy").Policy} policy */
  constructor(policy) {
    this.policy = policy;
    /**
     * The state the next run takes: a recurrent policy's, as the last run returned it (null:
     * a new episode, which starts from zeros; always null for a feed-forward policy).
     * @type {Float32Array | Float32Array[] | null}
     */
    this.state = null;
    /** The runs of this episode. */
    this.steps = 0;
  }

  /** The next run starts a new episode (from the initial state). */
  newEpisode() {
    this.state = null;
    this.steps = 0;
  }

  /**
   * For the observation in `text`, as pretty JSON: the action `act` gives (greedy or
   * sampled) and the model's raw outputs (a recurrent policy's next_state among them, which
   * the next run takes); an Error (the policy's message, Python's text) for bad input.
   * @param {string} text JSON: one observation, or a batch
   * @param {boolean} deterministic
   * @param {string} [maskText] JSON: the legal actions (true/false or 0/1), [P] for one
   *   observation, a row per observation of a batch; empty: all legal
   * @returns {Promise<string>}
   */
  async run(text, deterministic, maskText = "") {
    const obs = parse(text, "the observation");
    const actionMask = maskText.trim() ? parse(maskText, "the action mask") : null;
    const { policy } = this;
    let outputs;
    let action;
    if (policy.stateSize === null) {
      outputs = await policy.distribution(obs, { actionMask });
      action = await policy.act(obs, { deterministic, actionMask });
    } else {
      const state = this.state ?? initialState(policy, obs);
      outputs = await policy.distribution(obs, { state, actionMask });
      const answer = await policy.act(obs, { state, deterministic, actionMask });
      action = answer.action;
      this.state = answer.state;
      this.steps += 1;
    }
    return JSON.stringify({ action: plain(action), outputs: plain(outputs) }, null, 1)
      .replace(/\[\s+([^[\]{}]*?)\s+\]/g, (_, items) => `[${items.replace(/\s+/g, " ")}]`);
  }
}

/**
 * The JSON in `text`, or an Error naming `what` it is.
 * @param {string} text
 * @param {string} what
 * @returns {any}
 */
function parse(text, what) {
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${what} is not JSON: ${reason}`);
  }
}

/**
 * A recurrent policy's initial state for `obs`: one state for one observation, one per
 * observation of a batch (an array one level deeper than an observation: of its one input,
 * or of its first part).
 * @param {import("keras-pg-policy").Policy} policy
 * @param {any} obs
 */
function initialState(policy, obs) {
  const parts = Object.entries(policy.observationParts ?? {});
  let [value, shape] = [obs, policy.observationShape];
  if (parts.length) {
    const [[name, part]] = parts;
    [value, shape] = [Array.isArray(obs) ? obs[0] : obs?.[name], part.shape];
  }
  let depth = 0;
  for (let v = value; Array.isArray(v); v = v[0]) depth += 1;
  return depth === shape.length + 1 ? policy.initialState(value.length) : policy.initialState();
}

/**
 * Typed arrays as plain arrays, for JSON.
 * @param {any} value
 * @returns {any}
 */
function plain(value) {
  if (ArrayBuffer.isView(value)) return Array.from(/** @type {Float32Array} */ (value));
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}
