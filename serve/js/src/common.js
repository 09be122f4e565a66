/**
 * What both entry points export besides `loadPolicy` and `ort`.
 * @module
 */

export * as contract from "./contract.js";
export { PolicyLoadError } from "./loading.js";
export { NOT_FINITE } from "./observations.js";
export { Policy } from "./policy.js";
export { Random } from "./random.js";
