/**
 * What a caller passes as observations, checked and shaped into the policy's ONNX input:
 * serve/observations.py in JavaScript, with the same messages (a Dict or Tuple observation's
 * parts: observation-parts.js).
 * @module
 */

import { pyFloat, pyStr, pyTuple, pyTypeName } from "./python.js";

export const NOT_FINITE = "obs contains NaN or inf; expected finite numbers";

/**
 * An observation, or a batch of them: a number (a Discrete observation), nested arrays of
 * numbers (typed arrays allowed at any level), or a tensor-like `{data, dims}` such as an
 * onnxruntime Tensor, for images and batches in one flat typed array.
 * @typedef {number | ArrayLike<unknown> | {data: ArrayLike<number>, dims: readonly number[]}}
 *   Observation
 */

/**
 * @typedef {object} Batch
 * @property {Float32Array | Uint8Array} data the observations, flat in row-major order
 * @property {number[]} dims [B, ...shape]
 * @property {boolean} single whether one observation (not a batch) was given
 */

/**
 * `obs` as a flat `dtype` array of dims [B, ...shape], and whether one observation was given.
 *
 * float32: anything numeric is cast (booleans as 0/1, null as NaN, like numpy); NaN and inf
 * are refused. uint8 (raw image frames): a Uint8Array (or `{data: Uint8Array, dims}`) passes
 * as it is; other numbers must be integers in [0, 255].
 * @param {Observation} obs one observation of `shape`, or a batch [B, ...shape] with B > 0
 * @param {readonly number[]} shape the observation shape ([] for a Discrete observation)
 * @param {"float32" | "uint8"} dtype the policy's input dtype
 * @returns {Batch}
 * @throws {Error} one line saying what was received and what was expected
 */
export function asBatch(obs, shape, dtype) {
  // The usual call, one observation as a typed array of the input's dtype and size (a 1-D
  // observation shape), in fewer steps: the answer of the general path below.
  if (shape.length === 1 && obs instanceof (dtype === "uint8" ? Uint8Array : Float32Array)
      && obs.length === shape[0]) {
    if (dtype === "float32" && !allFinite(obs)) throw new Error(NOT_FINITE);
    return { data: obs, dims: [1, shape[0]], single: true };
  }
  const { values, dims } = dtype === "uint8" ? asUint8(obs, shape) : numeric(obs, shape);
  const data = dtype === "uint8" || values instanceof Float32Array ? values
    : Float32Array.from(values);
  let single;
  if (sameDims(dims, shape)) {
    single = true;
    dims.unshift(1);
  } else if (dims.length === shape.length + 1 && dims[0] > 0 && sameDims(dims.slice(1), shape)) {
    single = false;
  } else {
    throw new Error(`obs has shape ${pyTuple(dims)}; expected ${pyTuple(shape)} `
      + `or (batch, ${shape.join(", ")})`);
  }
  if (dtype === "float32" && !allFinite(data)) throw new Error(NOT_FINITE);
  return { data: /** @type {Float32Array | Uint8Array} */ (data), dims, single };
}

/**
 * A Uint8Array as it is; other numbers as uint8 if each is an integer in [0, 255].
 * @param {Observation} obs
 * @param {readonly number[]} shape
 */
function asUint8(obs, shape) {
  if (obs instanceof Uint8Array) return { values: obs, dims: [obs.length] };
  if (isTensorLike(obs) && obs.data instanceof Uint8Array) return numeric(obs, shape);
  const { values, dims } = numeric(obs, shape);
  if (!allFinite(values)) throw new Error(NOT_FINITE);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < 0 || v > 255 || v !== Math.round(v)) {
      throw new Error("obs must be integers in [0, 255] for this policy's uint8 input, "
        + `got ${pyFloat(v)}`);
    }
  }
  return { values: Uint8Array.from(values), dims };
}

/**
 * The numbers of `obs` in row-major order and its dims, as numpy.asarray reads nested lists;
 * ragged or non-numeric input is an Error.
 * @param {Observation} obs
 * @param {readonly number[]} shape for the message
 * @returns {{values: ArrayLike<number>, dims: number[]}}
 */
function numeric(obs, shape) {
  if (isTensorLike(obs)) {
    const size = obs.dims.reduce((a, b) => a * b, 1);
    if (obs.data.length !== size) {
      throw new Error(`obs has ${obs.data.length} values in data but dims `
        + `${pyTuple([...obs.dims])} hold ${size}`);
    }
    return { values: numbers(obs.data), dims: [...obs.dims] };
  }
  const read = nestedNumbers(obs);
  if (read === null) {
    const text = pyStr(obs).split(/\s+/).filter(Boolean).join(" ").slice(0, 60);
    throw new Error(`obs must be numeric with shape ${pyTuple(shape)}, `
      + `got ${pyTypeName(obs)} ${text}`);
  }
  return read;
}

/**
 * The numbers of a number, nested arrays or a typed array in row-major order, and its dims,
 * as numpy.asarray reads them; null when `value` is ragged or not numeric.
 * @param {unknown} value
 * @returns {{values: ArrayLike<number>, dims: number[]} | null}
 */
export function nestedNumbers(value) {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const array = /** @type {ArrayLike<number>} */ (/** @type {unknown} */ (value));
    return { values: numbers(array), dims: [array.length] };
  }
  const dims = [];
  for (let v = value; isSequence(v); v = v[0]) {
    dims.push(v.length);
    if (ArrayBuffer.isView(v) || v.length === 0) break;
  }
  const values = new Float64Array(dims.reduce((a, b) => a * b, 1));
  return fill(value, dims, 0, values, 0) < 0 ? null : { values, dims };
}

/**
 * Writes the numbers of `value`, expected to have dims `dims[depth:]`, into `out` from
 * `offset`; returns the next offset, or -1 when `value` is ragged or not numeric.
 * @param {unknown} value
 * @param {number[]} dims
 * @param {number} depth
 * @param {Float64Array} out
 * @param {number} offset
 * @returns {number}
 */
function fill(value, dims, depth, out, offset) {
  if (depth === dims.length) {
    const number = scalar(value);
    if (number === undefined) return -1;
    out[offset] = number;
    return offset + 1;
  }
  if (!isSequence(value) || value.length !== dims[depth]) return -1;
  if (ArrayBuffer.isView(value)) {
    if (depth !== dims.length - 1) return -1;
    out.set(numbers(value), offset);
    return offset + value.length;
  }
  for (let i = 0; i < value.length && offset >= 0; i++) {
    offset = fill(value[i], dims, depth + 1, out, offset);
  }
  return offset;
}

/**
 * A number as numpy reads a Python scalar (True is 1, None is NaN), else undefined.
 * @param {unknown} value
 */
function scalar(value) {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return value === null ? NaN : undefined;
}

/**
 * @param {ArrayLike<number | bigint>} data
 * @returns {ArrayLike<number>}
 */
function numbers(data) {
  return data instanceof BigInt64Array || data instanceof BigUint64Array
    ? Float64Array.from(data, Number) : /** @type {ArrayLike<number>} */ (data);
}

/** @param {unknown} v @returns {v is ArrayLike<any>} */
export function isSequence(v) {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

/**
 * @param {unknown} v
 * @returns {v is {data: ArrayLike<number>, dims: readonly number[]}}
 */
export function isTensorLike(v) {
  return typeof v === "object" && v !== null && !isSequence(v)
    && isSequence(/** @type {any} */ (v).data) && Array.isArray(/** @type {any} */ (v).dims);
}

/** @param {ArrayLike<number>} values */
export function allFinite(values) {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/**
 * Whether two shapes are the same.
 * @param {readonly number[]} a
 * @param {readonly number[]} b
 */
export function sameDims(a, b) {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
