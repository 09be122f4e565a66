/**
 * `loadPolicy` for a given onnxruntime (onnxruntime-node or onnxruntime-web) and a way of
 * reading the file: what the Node and browser entry points (node.js, browser.js) share.
 * @module
 */

import { PolicyLoadError, openSession } from "./onnx-file.js";
import { Policy } from "./onnx-policy.js";

const OPTIONS = ["seed", "name", "observation_shape", "action_type"];

/**
 * @typedef {(source: any) => Promise<{bytes: Uint8Array, name: string}>} Reader
 *   the bytes of a source (path, URL, bytes) and its name in messages
 */

/**
 * @param {any} ort the onnxruntime module
 * @param {Reader} read
 * @param {object} sessionOptions onnxruntime InferenceSession options
 * @returns {(source: any, options?: import("./spec.js").LoadOptions) => Promise<Policy>}
 */
export function policyLoader(ort, read, sessionOptions) {
  return async function loadPolicy(source, options = {}) {
    const unknown = Object.keys(options).filter((key) => !OPTIONS.includes(key));
    if (unknown.length) {
      throw new Error(`unknown option ${unknown.map((k) => `'${k}'`).join(", ")}; `
        + `loadPolicy takes ${OPTIONS.join(", ")}`);
    }
    const { bytes, name: sourceName } = await read(source);
    const name = options.name ?? sourceName;
    const session = await openSession(ort, bytes, name, sessionOptions);
    return new Policy(session, ort, bytes, name, options);
  };
}

/**
 * The bytes of a Uint8Array, ArrayBuffer or other typed array, or null for anything else.
 * @param {unknown} source
 * @returns {{bytes: Uint8Array, name: string} | null}
 */
export function fromBytes(source) {
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), name: "<bytes>" };
  if (ArrayBuffer.isView(source)) {
    return { bytes: new Uint8Array(source.buffer, source.byteOffset, source.byteLength),
             name: "<bytes>" };
  }
  return null;
}

/**
 * The policy file is missing: Python's message.
 * @param {string} name
 */
export function notFound(name) {
  return new PolicyLoadError(`${name} not found; expected a .onnx policy file`);
}
