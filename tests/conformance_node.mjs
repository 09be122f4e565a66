// The conformance corpus's in-process cases through the JavaScript package in Node
// (tests/conformance.py): reads [{case, file, inputs: [{name, dtype, obs}]}] (the one input,
// or one per part of a Dict or Tuple observation; a recurrent policy's state and an action mask
// beside them), prints [{case, outputs: {name: rows}}] or [{case, error}] as JSON (numbers,
// int64 outputs too: the dtypes are the model's).

import { readFile } from "node:fs/promises";

import { contract, loadPolicy } from "../serve/js/src/node.js";

const OPTIONS = [contract.STATE, contract.ACTION_MASK];

const requests = JSON.parse(await readFile(process.argv[2], "utf8"),
  (_, value) => (value === "NaN" ? NaN : value));
const policies = new Map();
const answers = [];
for (const { case: name, file, inputs } of requests) {
  if (!policies.has(file)) policies.set(file, await loadPolicy(file));
  const policy = policies.get(file);
  // A recurrent policy's state and an action mask are not observations: they go in
  // `{ state, actionMask }`.
  const named = (/** @type {string} */ name) =>
    inputs.find((/** @type {any} */ input) => input.name === name)?.obs;
  const observed = inputs.filter((/** @type {any} */ input) =>
    !OPTIONS.includes(input.name));
  const observations = policy.observationParts === null ? observation(observed[0])
    : Object.fromEntries(observed.map((/** @type {any} */ input) => [input.name,
      observation(input)]));
  try {
    const outputs = await policy.distribution(observations,
      { state: named(contract.STATE), actionMask: named(contract.ACTION_MASK) });
    answers.push({ case: name, outputs: Object.fromEntries(Object.entries(outputs).map(
      ([output, rows]) => [output, plain(rows)])) });
  } catch (error) {
    answers.push({ case: name, error: error instanceof Error ? error.message : String(error) });
  }
}
console.log(JSON.stringify(answers));

/**
 * An input's values as a caller passes them: nested arrays, or uint8 frames as a
 * {data: Uint8Array, dims} tensor.
 * @param {{dtype: string, obs: any}} input
 */
function observation({ dtype, obs }) {
  return dtype === "uint8" ? { data: Uint8Array.from(obs.flat(Infinity)), dims: shapeOf(obs) }
    : obs;
}

/** @param {any} value */
function shapeOf(value) {
  const dims = [];
  for (let v = value; Array.isArray(v); v = v[0]) dims.push(v.length);
  return dims;
}

/** @param {any} value @returns {any} */
function plain(value) {
  if (ArrayBuffer.isView(value) || Array.isArray(value)) return Array.from(value, plain);
  return value;
}
