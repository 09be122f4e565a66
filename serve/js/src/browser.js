/**
 * keras-pg policies in the browser, on onnxruntime-web's WebAssembly backend (the package's
 * entry point outside Node). onnxruntime-web fetches its .wasm files from `ort.env.wasm
 * .wasmPaths` (by default, beside its own module): serve them from your own origin.
 *
 *     import { loadPolicy, ort } from "keras-pg-policy";
 *     ort.env.wasm.numThreads = 1;   // no cross-origin isolation needed
 *     const policy = await loadPolicy("/policy.onnx");
 * @module
 */

import * as ort from "onnxruntime-web";

import { fromBytes, notFound, policyLoader } from "./load.js";
import { PolicyLoadError } from "./onnx-file.js";

/**
 * The bytes of a URL, a Blob or File (a file input's), or bytes.
 * @param {string | URL | Blob | Uint8Array | ArrayBuffer} source
 */
async function read(source) {
  const bytes = fromBytes(source);
  if (bytes) return bytes;
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    const name = "name" in source ? String(source.name) : "<blob>";
    return { bytes: new Uint8Array(await source.arrayBuffer()), name };
  }
  const url = String(source);
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PolicyLoadError(`${url} is not a loadable ONNX model: ${reason}`);
  }
  if (response.status === 404) throw notFound(url);
  if (!response.ok) {
    throw new PolicyLoadError(`${url} is not a loadable ONNX model: HTTP ${response.status}`);
  }
  return { bytes: new Uint8Array(await response.arrayBuffer()), name: url };
}

/** Loads a policy: a URL, a Blob or File, or the bytes of a .onnx file. */
export const loadPolicy = policyLoader(ort, read, {
  executionProviders: ["wasm"], graphOptimizationLevel: "all",
});

export { ort };
export * from "./common.js";
