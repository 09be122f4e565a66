/**
 * The probe: an observation in (JSON), the policy's outputs out -- for a policy whose env has
 * no JavaScript port, and for checking any policy by hand.
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

/**
 * For the observation in `text`, as pretty JSON: the action `act` gives (greedy or sampled)
 * and the model's raw outputs; an Error (the policy's message, Python's text) for bad input.
 * @param {import("keras-pg-policy").Policy} policy
 * @param {string} text JSON
 * @param {boolean} deterministic
 * @returns {Promise<string>}
 */
export async function probe(policy, text, deterministic) {
  let obs;
  try {
    obs = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`the observation is not JSON: ${reason}`);
  }
  const outputs = await policy.distribution(obs);
  const action = await policy.act(obs, { deterministic });
  return JSON.stringify({ action: plain(action), outputs: plain(outputs) }, null, 1)
    .replace(/\[\s+([^[\]{}]*?)\s+\]/g, (_, items) => `[${items.replace(/\s+/g, " ")}]`);
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
