/**
 * keras-pg policies in Node, on onnxruntime-node (the package's entry point under Node).
 *
 *     import { loadPolicy } from "keras-pg-policy";
 *     const policy = await loadPolicy("runs/cartpole/policy.onnx", { seed: 0 });
 *     const action = await policy.act([0.01, 0.02, 0.03, 0.04]);   // greedy, a number
 * @module
 */

import { readFile, stat } from "node:fs/promises";
import { createRequire } from "node:module";
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
 * onnxruntime-node's native binding (dist/binding.js), or null where it cannot be loaded.
 * @type {{binding: {InferenceSession: new () => NativeBinding}, initOrt: () => void} | null}
 */
const native = (() => {
  try {
    const module = createRequire(import.meta.url)("onnxruntime-node/dist/binding.js");
    return typeof module.binding?.InferenceSession === "function"
      && typeof module.initOrt === "function" ? module : null;
  } catch {
    return null;
  }
})();

/**
 * @typedef {object} NativeBinding onnxruntime-node's native session (dist/binding.d.ts)
 * @property {(buffer: ArrayBufferLike, byteOffset: number, byteLength: number,
 *   options: object) => void} loadModel
 * @property {RawMetadata[]} inputMetadata
 * @property {RawMetadata[]} outputMetadata
 * @property {(feeds: Record<string, any>, fetches: Record<string, null>, options?: object)
 *   => Record<string, any>} run
 * @property {() => void} dispose
 * @typedef {{name: string, isTensor: boolean, type: number, shape: number[],
 *   symbolicDimensions: string[]}} RawMetadata
 */

/** Tensor types by onnxruntime-node's number for them (its dist/backend.js). */
const DATA_TYPES = [undefined, "float32", "uint8", "int8", "uint16", "int16", "int32", "int64",
  "string", "bool", "float16", "float64", "uint32", "uint64", undefined, undefined, undefined,
  undefined, undefined, undefined, undefined, "uint4", "int4"];

/**
 * The native session of onnxruntime-node, called in place. Its InferenceSession.run defers
 * every call to the next turn of the event loop (setImmediate): a quarter of a CartPole `act`
 * (bench/js_latency.py), several times act's own work; the native run it then makes is
 * synchronous, as this one is. Loaded, and its inputs and outputs described, as
 * onnxruntime-node's session handler does (dist/backend.js, 1.30.0).
 */
class NativeSession {
  /**
   * @param {NativeBinding} session a native session, its model loaded
   */
  constructor(session) {
    this.native = session;
    this.inputMetadata = session.inputMetadata.map(describe);
    this.outputMetadata = session.outputMetadata.map(describe);
    this.inputNames = this.inputMetadata.map((m) => m.name);
    this.outputNames = this.outputMetadata.map((m) => m.name);
  }

  /**
   * The outputs `names` for `feeds`, as InferenceSession.run answers, but at once: the
   * results, not a promise of them (`await` takes either).
   * @param {Record<string, any>} feeds
   * @param {string[]} names
   */
  run(feeds, names) {
    /** @type {Record<string, null>} */
    const fetches = {};
    for (const name of names) fetches[name] = null;
    return this.native.run(feeds, fetches);  // no run options: the session's own, not new ones
  }

  release() {
    this.native.dispose();
  }
}

/**
 * Raw metadata as onnxruntime-node's InferenceSession describes an input or output.
 * @param {RawMetadata} m
 */
function describe(m) {
  if (!m.isTensor) return { name: m.name, isTensor: false };
  const type = DATA_TYPES[m.type];
  if (type === undefined) throw new Error(`Unsupported data type: ${m.type}`);
  const shape = m.shape.map((dim, i) => {
    if (dim === -1) return m.symbolicDimensions[i];
    if (dim >= 0) return dim;
    throw new Error(`Invalid dimension: ${dim}`);
  });
  return { name: m.name, isTensor: true, type, shape };
}

/**
 * An input tensor as the native session reads it: type, dims, location and data as plain
 * fields (onnxruntime's Tensor has getters, each a call back into JavaScript).
 */
class InputTensor {
  /**
   * @param {string} type
   * @param {Float32Array | Uint8Array} data
   * @param {number[]} dims
   */
  constructor(type, data, dims) {
    this.type = type;
    this.data = data;
    this.dims = dims;
    this.location = "cpu";
  }
}

/**
 * onnxruntime-node with sessions that run in place (NativeSession), where its native binding
 * loads; onnxruntime-node as it is otherwise.
 */
const runtime = native === null ? ort : {
  Tensor: InputTensor,
  InferenceSession: {
    /**
     * @param {Uint8Array} bytes
     * @param {object} options
     */
    async create(bytes, options) {
      try {
        native.initOrt();
        const session = new native.binding.InferenceSession();
        session.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, options);
        return new NativeSession(session);
      } catch {
        // onnxruntime-node's own session then: its message for a file it cannot load, and a
        // session still should its binding change (it reads InputTensors as its Tensors).
        return ort.InferenceSession.create(bytes, options);
      }
    },
  },
};

/**
 * Loads a policy: a path, a file: URL, or the bytes of a .onnx file.
 * One intra-op thread, as Python's OnnxPolicy: the fastest for single observations. No CPU
 * memory arena: each run's few small tensors then come from malloc, 3-7% less time per run
 * than through the arena on the test fixtures' MLPs, and no change on the image one.
 */
export const loadPolicy = policyLoader(runtime, read, {
  executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1,
  executionMode: "sequential", graphOptimizationLevel: "all", enableCpuMemArena: false,
});

export { ort };
export * from "./common.js";
