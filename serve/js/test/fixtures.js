/**
 * The fixtures Python wrote (tests/js_fixtures.py), and the two ways of loading a policy
 * under test: onnxruntime-node from a path, onnxruntime-web (WebAssembly) from bytes.
 */

import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import * as web from "../src/browser.js";
import * as node from "../src/node.js";

web.ort.env.wasm.numThreads = 1;

/** @param {string} name a file in test/fixtures */
export function fixturePath(name) {
  return fileURLToPath(new URL(`fixtures/${name}`, import.meta.url));
}

/** @param {string} name a JSON file in test/fixtures */
export function readFixture(name) {
  return JSON.parse(readFileSync(fixturePath(name), "utf8"));
}

/** loadPolicy of each runtime, for a fixture file. */
export const RUNTIMES = {
  /** @param {string} file @param {object} [options] */
  "onnxruntime-node": (file, options = {}) => node.loadPolicy(fixturePath(file), options),
  /** @param {string} file @param {object} [options] */
  "onnxruntime-web": async (file, options = {}) => web.loadPolicy(
    await readFile(fixturePath(file)), { name: fixturePath(file), ...options }),
};

/**
 * The JSON form of an observation as JavaScript values (tests/js_fixtures.py decode_obs):
 * {float: "nan"} is a number, {full: shape, value, set: [[index, value]]} nested arrays, and
 * any other object one of parts ({part: observation}).
 * @param {any} obs
 * @returns {any}
 */
export function decodeObs(obs) {
  if (Array.isArray(obs)) return obs.map(decodeObs);
  if (obs !== null && typeof obs === "object" && "float" in obs) {
    return { nan: NaN, inf: Infinity, "-inf": -Infinity }[/** @type {string} */ (obs.float)];
  }
  if (obs !== null && typeof obs === "object" && "full" in obs) {
    const flat = new Array(obs.full.reduce((/** @type {number} */ a, /** @type {number} */ b) =>
      a * b, 1)).fill(obs.value);
    for (const [index, value] of obs.set ?? []) flat[index] = decodeObs(value);
    return nest(flat, obs.full);
  }
  if (obs !== null && typeof obs === "object") {
    return Object.fromEntries(Object.entries(obs).map(([part, value]) =>
      [part, decodeObs(value)]));
  }
  return obs;
}

/**
 * Observation `i` of a batch as parity.json writes it: a row, or, for a policy of a Dict or
 * Tuple observation ({part: batch}, or a Tuple's parts' batches in an array), each part's
 * row in the same form.
 * @param {import("../src/onnx-policy.js").Policy} policy
 * @param {any} batch
 * @param {number} i
 * @returns {any}
 */
export function observationAt(policy, batch, i) {
  if (policy.observationParts === null) return batch[i];
  if (Array.isArray(batch)) return batch.map((part) => part[i]);
  return Object.fromEntries(Object.entries(batch).map(([part, rows]) => [part, rows[i]]));
}

/**
 * A batch of `count` times the observation `obs` (of the form observationAt gives).
 * @param {import("../src/onnx-policy.js").Policy} policy
 * @param {any} obs
 * @param {number} count
 * @returns {any}
 */
export function repeated(policy, obs, count) {
  const repeat = (/** @type {any} */ value) => Array(count).fill(value);
  if (policy.observationParts === null) return repeat(obs);
  if (Array.isArray(obs)) return obs.map(repeat);
  return Object.fromEntries(Object.entries(obs).map(([part, value]) => [part, repeat(value)]));
}

/**
 * @param {any[]} flat
 * @param {number[]} dims
 * @returns {any[]}
 */
function nest(flat, dims) {
  if (dims.length === 1) return flat;
  const size = flat.length / dims[0];
  return Array.from({ length: dims[0] }, (_, i) =>
    nest(flat.slice(i * size, (i + 1) * size), dims.slice(1)));
}

/**
 * The largest |a - b| over two equally shaped nested arrays (typed arrays too).
 * @param {any} a
 * @param {any} b
 * @returns {number}
 */
export function maxDelta(a, b) {
  if (typeof a === "number" || typeof b === "number") return Math.abs(Number(a) - Number(b));
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, maxDelta(a[i], b[i]));
  return max;
}
