/**
 * Invalid-action masks as callers pass them: checked, with Python's one-line messages
 * (serve/masks.py).
 *
 * The contract (serve/contract.json, "action_mask") gives the categorical and
 * multi_categorical graphs of contract 6 an input `action_mask` bool [batch, P]: true where an
 * action is legal, P the action size (a MultiDiscrete policy's branches side by side). The
 * graph sets the illegal actions' probabilities to exactly 0, so that neither greedy nor
 * sampled actions are ever illegal. The graph requires the input; a caller may leave it out,
 * and the policy then feeds all true (`AllLegal`).
 * @module
 */

import * as contract from "./contract-names.js";
import { isSequence, isTensorLike, sameDims } from "./observations.js";
import { dimsText } from "./onnx-file.js";

const MASK_NOT_BINARY = "action_mask must hold true/false or 0/1 only";
const TAKES_NONE = "this policy takes no action_mask";
const GOT_RAGGED = "nested lists of different lengths";
const GOT_NOT_NUMBERS = "values that are neither true/false nor numbers";

/**
 * An action mask: true/false or 0/1 (1: legal), [P] for one observation, [B, P] for a batch
 * of B (rows of arrays, a flat typed array of B * P, or `{data, dims: [B, P]}`); for a
 * MultiDiscrete policy also one array per branch, [nvec[i]] each (or [B, nvec[i]]).
 * @typedef {ArrayLike<unknown> | {data: ArrayLike<number>, dims: readonly number[]}} ActionMask
 */

/**
 * The sizes of a mask's consecutive slices, one per branch: [n] of a Discrete space, nvec of
 * a MultiDiscrete one.
 * @param {import("./contract-names.js").Space} space
 * @returns {number[]}
 */
export function maskBranches(space) {
  return space.type === "MultiDiscrete" ? [...(space.nvec ?? [])] : [Number(space.n)];
}

/**
 * The message refusing a mask given to a policy that takes none, saying why in Python's
 * words: its file has no metadata (`version` undefined), its kind has no illegal actions,
 * its contract predates masks, or its graph has no such input.
 * @param {string} kind
 * @param {number | undefined} version the file's contract_version
 */
export function takesNone(kind, version) {
  const since = contract.MASK_SINCE;
  let why;
  if (version === undefined) {
    why = "its file has no keras_pg metadata (and no action_mask input)";
  } else if (!contract.MASKED_KINDS.includes(kind)) {
    why = `a ${kind} policy's actions are never illegal (masks apply to categorical and `
      + "multi_categorical policies); leave action_mask out";
  } else if (version < since) {
    why = `its file is contract ${version}, older than action masks (contract ${since}); `
      + "re-export it with python -m export to pass one";
  } else {
    why = "its file has no action_mask input (metadata action_mask null); re-export it with "
      + "python -m export to pass one";
  }
  return `${TAKES_NONE}: ${why}`;
}

/**
 * `mask` as bool [rows, P] (a Uint8Array of 0 and 1, row-major), or an Error in one line
 * (Python's text) saying what was expected.
 * @param {unknown} mask [P] for one observation (`single`), [rows, P] for a batch; for
 *   several branches also one [n_i] (or [rows, n_i]) per branch
 * @param {readonly number[]} branches the branch sizes: [n] for Discrete(n), nvec
 * @param {number} rows the observations' batch size (1 for one)
 * @param {boolean} single whether one observation was given (not a batch)
 * @returns {Uint8Array}
 */
export function asMask(mask, branches, rows, single) {
  const size = branches.reduce((a, b) => a + b, 0);
  // The usual call, one observation's mask as a flat array: no search for its form.
  const values = single && isRow(mask, size) ? mask : flatMask(mask, branches, rows, single);
  // A Uint8Array of 0s and 1s (an env's mask as it comes) is the input as it is.
  const data = values instanceof Uint8Array ? values : new Uint8Array(values.length);
  let other = -1;  // the first number other than 0 and 1 (values not numbers come first)
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === true || value === 1) {
      data[i] = 1;
    } else if (value !== false && value !== 0) {
      if (typeof value !== "number") throw formError(branches, rows, single, GOT_NOT_NUMBERS);
      if (other < 0) other = i;
    }
  }
  if (other >= 0) {
    throw new Error(`${MASK_NOT_BINARY}; row ${Math.floor(other / size)} has another value at `
      + `action ${other % size}`);
  }
  checkLegal(data, branches);
  return data;
}

/**
 * Whether `mask` is one flat row of `size` values.
 * @param {unknown} mask
 * @param {number} size
 * @returns {mask is ArrayLike<unknown>}
 */
function isRow(mask, size) {
  if (!isSequence(mask) || mask.length !== size) return false;
  if (ArrayBuffer.isView(mask)) return true;
  for (let i = 0; i < size; i++) if (isSequence(mask[i])) return false;
  return true;
}

/**
 * The values of `mask` in row-major order [rows, P], once its form is one a mask takes.
 * @param {unknown} mask
 * @param {readonly number[]} branches
 * @param {number} rows
 * @param {boolean} single
 * @returns {ArrayLike<unknown>}
 */
function flatMask(mask, branches, rows, single) {
  const size = branches.reduce((a, b) => a + b, 0);
  const expected = single ? [size] : [rows, size];
  if (isTensorLike(mask)) {
    const count = mask.dims.reduce((a, b) => a * b, 1);
    if (mask.data.length !== count) {
      throw new Error(`action_mask has ${mask.data.length} values in data but dims `
        + `${dimsText(mask.dims)} hold ${count}`);
    }
    if (sameDims(mask.dims, expected)) return mask.data;
    throw formError(branches, rows, single, `shape ${dimsText(mask.dims)}`);
  }
  if (!single && isSequence(mask) && !Array.isArray(mask) && mask.length === rows * size) {
    return mask;  // a batch as one flat typed array
  }
  const perBranch = perBranchMask(mask, branches, rows, single);
  if (perBranch !== null) return perBranch;
  const read = nested(mask);
  if (read === null) throw formError(branches, rows, single, GOT_RAGGED);
  if (!sameDims(read.dims, expected)) {
    if (read.values.some((v) => typeof v !== "number" && typeof v !== "boolean")) {
      throw formError(branches, rows, single, GOT_NOT_NUMBERS);
    }
    throw formError(branches, rows, single, `shape ${dimsText(read.dims)}`);
  }
  return read.values;
}

/**
 * A mask given as one array per branch ([n_i], or [rows, n_i] for a batch), joined into rows
 * of P; null when `mask` is not in that form.
 * @param {unknown} mask
 * @param {readonly number[]} branches
 * @param {number} rows
 * @param {boolean} single
 * @returns {unknown[] | null}
 */
function perBranchMask(mask, branches, rows, single) {
  if (branches.length === 1 || !isSequence(mask) || mask.length !== branches.length) {
    return null;
  }
  const parts = Array.from(mask, nested);
  const fits = parts.every((part, i) => part !== null
    && sameDims(part.dims, single ? [branches[i]] : [rows, branches[i]])
    && part.values.every((v) => typeof v === "number" || typeof v === "boolean"));
  if (!fits) return null;
  /** @type {unknown[]} */
  const joined = [];
  for (let row = 0; row < rows; row++) {
    parts.forEach((part, i) => joined.push(...(part?.values ?? []).slice(row * branches[i],
      (row + 1) * branches[i])));
  }
  return joined;
}

/**
 * The leaves of nested arrays (typed arrays at any level) in row-major order and their
 * dims, as numpy.asarray reads them; null when they are ragged.
 * @param {unknown} value
 * @returns {{values: unknown[], dims: number[]} | null}
 */
function nested(value) {
  /** @type {number[]} */
  const dims = [];
  for (let v = value; isSequence(v); v = v[0]) dims.push(v.length);
  /** @type {unknown[]} */
  const values = [];
  /** @type {(v: unknown, depth: number) => boolean} */
  const walk = (v, depth) => {
    if (depth === dims.length) {
      if (isSequence(v)) return false;
      values.push(v);
      return true;
    }
    if (!isSequence(v) || v.length !== dims[depth]) return false;
    for (let i = 0; i < v.length; i++) if (!walk(v[i], depth + 1)) return false;
    return true;
  };
  return walk(value, 0) ? { values, dims } : null;
}

/**
 * Every row of `data` [rows, P] allows an action in every branch; an Error naming the first
 * row (and branch) that does not.
 * @param {Uint8Array} data
 * @param {readonly number[]} branches
 */
function checkLegal(data, branches) {
  const size = branches.reduce((a, b) => a + b, 0);
  for (let row = 0; row < data.length; row += size) {
    let start = row;
    for (const [branch, n] of branches.entries()) {
      let legal = false;
      for (let j = start; j < start + n && !legal; j++) legal = data[j] === 1;
      if (!legal) {
        const several = branches.length > 1;
        throw new Error(`action_mask allows no action in row ${row / size}`
          + `${several ? ` (branch ${branch})` : ""}; every row needs a legal action`
          + `${several ? " in every branch" : ""}`);
      }
      start += n;
    }
  }
}

/**
 * Python's message for a mask of the wrong form: the shape expected, and what was given.
 * @param {readonly number[]} branches
 * @param {number} rows
 * @param {boolean} single
 * @param {string} got
 */
function formError(branches, rows, single, got) {
  const batch = single ? [] : [rows];
  const size = branches.reduce((a, b) => a + b, 0);
  const what = single ? "one observation" : `a batch of ${rows}`;
  const shapes = branches.map((n) => dimsText([...batch, n]));
  const perBranch = branches.length === 1 ? ""
    : ` (or one per branch: ${shapes.slice(0, -1).join(", ")} and ${shapes.at(-1)})`;
  return new Error(`action_mask must be true/false or 0/1 of shape ${dimsText([...batch, size])}`
    + ` for ${what}${perBranch}; got ${got}`);
}

/**
 * The all-true masks of calls without one: views of one array of ones, grown when a larger
 * batch comes, so that such a call allocates nothing.
 */
export class AllLegal {
  /** @param {number} size P, one row's actions */
  constructor(size) {
    this.size = size;
    this.ones = new Uint8Array(size).fill(1);
  }

  /**
   * All true, [rows, P] flat (do not write to it).
   * @param {number} rows
   */
  rows(rows) {
    const length = rows * this.size;
    if (length > this.ones.length) {
      this.ones = new Uint8Array(Math.max(length, 2 * this.ones.length)).fill(1);
    }
    return length === this.ones.length ? this.ones : this.ones.subarray(0, length);
  }
}
