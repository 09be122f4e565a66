/**
 * keras-pg policies in Node, on onnxruntime-node (the package's entry point under Node).
 *
 *     import { loadPolicy } from "keras-pg-policy";
 *     const policy = await loadPolicy("runs/cartpole/policy.onnx", { seed: 0 });
 *     const action = await policy.act([0.01, 0.02, 0.03, 0.04]);   // greedy, a number
 * @module
 */

import { readFile, stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import * as ort from "onnxruntime-node";

import { fromBytes, notFound, policyLoader } from "./load.js";
import { PolicyLoadError } from "./onnx-file.js";

/**
 * The bytes of a file path, a file: URL, or bytes.
 * @param {string | URL | Uint8Array | ArrayBuffer} source
 */
async function read(source) {
  const bytes = fromBytes(source);
  if (bytes) return bytes;
  const path = source instanceof URL ? fileURLToPath(source) : String(source);
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) throw notFound(path);
  try {
    return { bytes: new Uint8Array(await readFile(path)), name: path };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PolicyLoadError(`${path} is not a loadable ONNX model: ${reason}`);
  }
}

/**
 * Loads a policy: a path, a file: URL, or the bytes of a .onnx file.
 * One intra-op thread, as Python's OnnxPolicy: the fastest for single observations.
 */
export const loadPolicy = policyLoader(ort, read, {
  executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1,
  executionMode: "sequential", graphOptimizationLevel: "all",
});

export { ort };
export * from "./common.js";
