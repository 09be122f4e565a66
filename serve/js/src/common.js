/**
 * What both entry points export besides `loadPolicy` and `ort`.
 * @module
 */

export * as contract from "./contract-names.js";
export { PolicyLoadError } from "./onnx-file.js";
export { NOT_FINITE } from "./observations.js";
export { Policy } from "./onnx-policy.js";
export { Random } from "./random.js";
export { Episode, MISSING, STATE_NOT_FINITE, UNEXPECTED } from "./state.js";
