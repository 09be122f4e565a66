/**
 * A `.onnx` file into an onnxruntime session, its metadata, its inputs and outputs:
 * serve/loading.py in JavaScript, with the same messages (the checks of a file declaring
 * the contract are in checks.js).
 * @module
 */

import protobuf from "protobufjs/light.js";

import * as contract from "./contract-names.js";
import { pyRepr } from "./python.js";

/** The contract's dtypes as onnxruntime's Python API names them in messages. */
export const TENSOR_TYPES = {
  float32: "tensor(float)", uint8: "tensor(uint8)", int64: "tensor(int64)",
  float64: "tensor(double)", int32: "tensor(int32)", bool: "tensor(bool)",
  float16: "tensor(float16)", string: "tensor(string)",
};
/** The input dtypes a policy can take, by their tensor type. */
export const INPUT_DTYPES = { "tensor(float)": "float32", "tensor(uint8)": "uint8" };

/**
 * The two messages of onnx.proto that hold metadata (field numbers from onnx/onnx.proto);
 * protobufjs skips every other field of the model, weights included, without decoding it.
 */
const ONNX = protobuf.Root.fromJSON({
  nested: {
    StringStringEntryProto: {
      fields: { key: { type: "string", id: 1 }, value: { type: "string", id: 2 } },
    },
    ModelProto: {
      fields: { metadata_props: { rule: "repeated", type: "StringStringEntryProto", id: 14 } },
    },
  },
}).lookupType("ModelProto");

/** The file is not an ONNX policy this runtime can use; the message says why. */
export class PolicyLoadError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "PolicyLoadError";
  }
}

/**
 * @typedef {object} NodeArg an input or output as onnxruntime's Python API describes it
 * @property {string} name
 * @property {string} type "tensor(float)", "tensor(int64)", ...
 * @property {(number | string | null)[] | null} shape sizes, symbolic names, or null when
 *   unknown
 */

/** @typedef {{inputs: NodeArg[], outputs: NodeArg[]}} Graph the session's inputs and outputs */

/**
 * @typedef {object} Session the part of an onnxruntime-common InferenceSession used here
 * @property {readonly {name: string, type?: string, shape?: readonly (number|string)[]}[]}
 *   inputMetadata
 * @property {readonly {name: string, type?: string, shape?: readonly (number|string)[]}[]}
 *   outputMetadata
 * @property {Function} run
 */

/**
 * An InferenceSession of `bytes`, or a PolicyLoadError naming `name`.
 * @param {{InferenceSession: {create: Function}}} ort onnxruntime-node or onnxruntime-web
 * @param {Uint8Array} bytes the .onnx file
 * @param {string} name the file's name in messages
 * @param {object} options session options
 * @returns {Promise<Session>}
 */
export async function openSession(ort, bytes, name, options) {
  try {
    return await ort.InferenceSession.create(bytes, options);
  } catch (error) {
    const reason = String(error instanceof Error ? error.message : error).trim()
      .split("\n")[0].slice(0, 200);
    throw new PolicyLoadError(`${name} is not a loadable ONNX model: ${reason}`);
  }
}

/**
 * metadata_props of the model, each value JSON-decoded (kept as the string when it is not
 * JSON), read with protobufjs: onnxruntime's JavaScript API does not expose custom metadata
 * (onnxruntime issue 16547).
 * @param {Uint8Array} bytes
 * @returns {Record<string, unknown>}
 */
export function readMetadata(bytes) {
  const model = /** @type {{metadata_props: {key: string, value: string}[]}} */ (
    /** @type {unknown} */ (ONNX.decode(bytes)));
  /** @type {Record<string, unknown>} */
  const metadata = {};
  for (const { key, value } of model.metadata_props) {
    try {
      metadata[key] = JSON.parse(value);
    } catch {
      metadata[key] = value;
    }
  }
  return metadata;
}

/**
 * The session's inputs and outputs described as Python's onnxruntime does (for messages).
 * @param {Session} session
 * @returns {Graph}
 */
export function nodeArgs(session) {
  /** @param {{name: string, type?: string, shape?: readonly (number|string)[]}} m */
  const describe = (m) => ({
    name: m.name,
    type: Object.hasOwn(TENSOR_TYPES, String(m.type))
      ? TENSOR_TYPES[/** @type {keyof TENSOR_TYPES} */ (m.type)] : `tensor(${m.type})`,
    // onnxruntime-node writes an unknown size as "", onnxruntime-web as 2^32 - 1.
    shape: m.shape ? m.shape.map((d) => (d === "" || d === 4294967295 ? null : d)) : null,
  });
  return { inputs: session.inputMetadata.map(describe),
           outputs: session.outputMetadata.map(describe) };
}

/**
 * The graph's one input, of a dtype the runtime feeds (float32 or uint8).
 * @param {string} name
 * @param {NodeArg[]} inputs
 * @returns {NodeArg}
 */
export function theInput(name, inputs) {
  if (inputs.length !== 1) {
    throw new PolicyLoadError(`${name}: the graph has inputs ${pyRepr(inputs.map((i) => i.name))}`
      + "; expected one, the observation");
  }
  if (!Object.hasOwn(INPUT_DTYPES, inputs[0].type)) {
    throw new PolicyLoadError(`${name}: input ${pyRepr(inputs[0].name)} has type `
      + `${inputs[0].type}; expected ${Object.keys(INPUT_DTYPES).join(" or ")}`);
  }
  return inputs[0];
}

/**
 * The input must be [batch, ...shape]: a dynamic batch dimension (any, with `anyBatch`),
 * then `shape`'s sizes (a symbolic size takes any).
 * @param {string} name
 * @param {NodeArg} node
 * @param {number[]} shape
 * @param {string} given what requires the shape, in the message
 * @param {boolean} [anyBatch]
 */
export function checkInputShape(name, node, shape, given, anyBatch = false) {
  if (!fits(node.shape, shape, !anyBatch)) {
    throw new PolicyLoadError(`${name}: input ${pyRepr(node.name)} has shape `
      + `${dimsText(node.shape)}; ${given} needs ${dimsText([contract.BATCH_DIM, ...shape])}`);
  }
}

/**
 * Whether ONNX dims [batch, ...shape] fit: sizes match unless symbolic (a string or null).
 * @param {NodeArg["shape"]} dims
 * @param {number[]} shape
 * @param {boolean} [dynamicBatch]
 */
export function fits(dims, shape, dynamicBatch = true) {
  if (dims === null || dims.length !== 1 + shape.length) return false;
  if (dynamicBatch && typeof dims[0] === "number") return false;
  return dims.slice(1).every((d, i) => typeof d !== "number" || d === shape[i]);
}

/**
 * Dims as Python's messages write them: "[batch, 4]", "?" for an unknown size.
 * @param {readonly (number | string | null)[] | null} dims
 */
export function dimsText(dims) {
  if (dims === null) return "of unknown shape";
  return `[${dims.map((d) => (d === null ? "?" : String(d))).join(", ")}]`;
}
