/**
 * A Dict or Tuple observation's parts, checked and shaped into the policy's inputs, one per
 * part: serve/observations.py's `as_part_batches` in JavaScript, with the same messages.
 * @module
 */

import { asBatch, isSequence } from "./observations.js";
import { pyRepr, pyTypeName } from "./python.js";

/**
 * @typedef {import("./observations.js").Observation} Observation
 * @typedef {import("./observations.js").Batch} Batch
 */

/**
 * A Dict or Tuple observation, or a batch of them: {part: one observation or a batch} with
 * every part and no other; a Tuple's parts (named "0", "1", ...) also as an array in order.
 * @typedef {Record<string, Observation> | Observation[]} StructuredObservation
 */

/**
 * @typedef {object} PartBatches
 * @property {Record<string, Batch>} batches {part: its batch [B, ...shape]}, one B for all
 * @property {boolean} single whether one observation (not a batch) was given
 */

/**
 * A structured observation as {part: batch [B, ...shape]}, and whether one observation was
 * given: `asBatch` part by part, with one B for all parts.
 * @param {unknown} obs {part: one observation of it, or a batch}, every part and no other;
 *   for a Tuple (parts "0", "1", ...) also an array of the parts in order
 * @param {import("./contract-names.js").InputSpecs} parts the parts' shapes and dtypes
 * @returns {PartBatches}
 * @throws {Error} one line naming the part at fault, e.g. "obs['image'] has shape ..."
 */
export function asPartBatches(obs, parts) {
  const names = Object.keys(parts);
  const tupleParts = names.every((name, i) => name === String(i));
  const given = tupleParts && Array.isArray(obs) && obs.length === names.length
    ? Object.fromEntries(obs.map((part, i) => [String(i), part])) : obs;  // a Tuple's parts
  if (!isParts(given) || !sameParts(Object.keys(given), names)) {
    const form = tupleParts ? "an object (or a list, in order)" : "an object";
    throw new Error(`obs must be ${form} with the parts ${names.join(", ")}; `
      + `got ${partsText(given, tupleParts)}`);
  }
  /** @type {Record<string, Batch>} */
  const batches = {};
  for (const name of names) {
    try {
      batches[name] = asBatch(/** @type {Observation} */ (given[name]), parts[name].shape,
        parts[name].dtype);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`obs[${pyRepr(name)}]${message.replace(/^obs/, "")}`);
    }
  }
  const first = batches[names[0]];
  if (names.some((name) => batches[name].single !== first.single
      || batches[name].dims[0] !== first.dims[0])) {
    const found = names.map((name) => `${name} ${batches[name].single ? "one observation"
      : `a batch of ${batches[name].dims[0]}`}`);
    throw new Error(`obs parts disagree on the batch: ${found.join(", ")}; expected one `
      + "observation, or the same batch size, in every part");
  }
  return { batches, single: first.single };
}

/**
 * Whether `value` is an object of parts: a plain object, as Python's dict.
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
function isParts(value) {
  return typeof value === "object" && value !== null && !isSequence(value);
}

/** @param {string[]} keys @param {string[]} names */
function sameParts(keys, names) {
  return keys.length === names.length && names.every((name) => keys.includes(name));
}

/**
 * What was given instead of the parts, as Python's message names it: "the parts a, b", "a
 * list of 3" (a Tuple's), or the Python type's name.
 * @param {unknown} obs
 * @param {boolean} tupleParts
 */
function partsText(obs, tupleParts) {
  if (isParts(obs)) return `the parts ${Object.keys(obs).join(", ") || "none"}`;
  if (tupleParts && Array.isArray(obs)) return `a list of ${obs.length}`;
  return pyTypeName(obs);
}
