/**
 * The checks of a file that declares contract_version: every metadata key the runtime reads
 * is there and well formed, and the graph agrees with it -- serve/loading.py's
 * `check_contract`, with the same one-line messages naming the key, input or output at fault
 * (the descriptions of the env and the spaces: space-checks.js).
 * @module
 */

import * as contract from "./contract-names.js";
import {
  PolicyLoadError, TENSOR_TYPES, checkInputShape, dimsText, fits, theInput,
} from "./onnx-file.js";
import { pyRepr } from "./python.js";
import {
  envProblem, isObject, kindProblem, observationProblem, short, spaceProblem, spaceText,
} from "./space-checks.js";

/** @typedef {import("./onnx-file.js").NodeArg} NodeArg */

const FIX = "re-export it with python -m export";

/**
 * (policy_kind, the graph's inputs, action space, state size, mask size) of a file declaring
 * contract_version, once its metadata and graph are checked (a recurrent file's input `state`
 * and output `next_state`, a masked file's input `action_mask` too); a PolicyLoadError
 * otherwise.
 * @param {string} name
 * @param {Record<string, any>} metadata
 * @param {import("./onnx-file.js").Graph} graph
 * @returns {{kind: string, inputs: contract.InputSpecs, actionSpace: contract.Space,
 *   stateSize: number | null, maskSize: number | null}} stateSize: a recurrent policy's
 *   (metadata `recurrent`), else null; maskSize: the action mask's (metadata `action_mask`,
 *   since contract 6), else null
 */
export function checkContract(name, metadata, graph) {
  const version = metadata[contract.CONTRACT_VERSION_KEY];
  if (!contract.SUPPORTED_CONTRACT_VERSIONS.includes(version)) {
    throw new PolicyLoadError(`${name} uses export contract ${short(version)}; this runtime `
      + `reads contracts ${contract.SUPPORTED_CONTRACT_VERSIONS.join(", ")} (a newer serve `
      + "may read it)");
  }
  const required = contract.requiredKeys(version);
  for (const key of required) {
    if (!Object.hasOwn(metadata, key)) {
      throw new PolicyLoadError(`${name}: metadata key ${pyRepr(key)} is missing; contract `
        + `${version} files have ${required.join(", ")} (${FIX})`);
    }
  }
  const kind = metadata[contract.POLICY_KIND_KEY];
  const observation = metadata[contract.OBSERVATION_SPACE_KEY];
  const action = metadata[contract.ACTION_SPACE_KEY];
  const problem = envProblem(metadata) ?? kindProblem(kind) ?? observationProblem(observation)
    ?? spaceProblem(contract.ACTION_SPACE_KEY, action, [contract.KINDS[kind]],
      ` for policy_kind ${short(kind)}`);
  if (problem) throw new PolicyLoadError(`${name}: metadata ${problem} (${FIX})`);
  const size = stateSize(name, metadata);
  const inputs = contract.inputSpecs(observation, version);
  // A recurrent file's state and every file's action mask are checked apart (checkState,
  // checkMask), as serve/loading.py does.
  const observed = graph.inputs.filter((node) => node.name !== contract.ACTION_MASK
    && !(size !== null && node.name === contract.STATE));
  checkInputs(name, observed, inputs,
    `the metadata's observation space ${spaceText(observation)}`);
  checkOutputs(name, graph.outputs, kind, action);
  if (size !== null) checkState(name, graph, size);
  const masked = maskSize(name, metadata, version, kind, action);
  checkMask(name, graph, masked);
  return { kind, inputs, actionSpace: action, stateSize: size, maskSize: masked };
}

/**
 * A recurrent file's state size from its metadata (null: feed-forward), checked.
 * @param {string} name
 * @param {Record<string, any>} metadata
 * @returns {number | null}
 */
function stateSize(name, metadata) {
  const recurrent = metadata[contract.RECURRENT_KEY] ?? null;
  if (recurrent === null) return null;
  const size = isObject(recurrent) ? recurrent.state_size : undefined;
  if (!(Number.isInteger(size) && size >= 1)) {
    throw new PolicyLoadError(`${name}: metadata ${contract.RECURRENT_KEY} is `
      + `${short(recurrent)}; expected null or an object with a positive state_size (${FIX})`);
  }
  return size;
}

/**
 * A recurrent file's input STATE and output NEXT_STATE: float32 [batch, size].
 * @param {string} name
 * @param {import("./onnx-file.js").Graph} graph
 * @param {number} size
 */
function checkState(name, graph, size) {
  const nodes = new Map([...graph.inputs, ...graph.outputs].map((node) => [node.name, node]));
  const float = TENSOR_TYPES.float32;
  for (const [role, tensor] of [["input", contract.STATE], ["output", contract.NEXT_STATE]]) {
    const node = nodes.get(tensor);
    if (node === undefined || node.type !== float || !fits(node.shape, [size])) {
      const got = node === undefined ? "missing" : `${node.type} ${dimsText(node.shape)}`;
      throw new PolicyLoadError(`${name}: ${role} ${pyRepr(tensor)} is ${got}; the metadata's `
        + `state_size ${size} needs ${float} ${dimsText([contract.BATCH_DIM, size])}`);
    }
  }
}

/**
 * A file's action mask size from its metadata (null: its graph takes none), checked: a
 * categorical or multi_categorical policy's of contract 6 on, its action size.
 * @param {string} name
 * @param {Record<string, any>} metadata
 * @param {number} version
 * @param {string} kind
 * @param {contract.Space} action
 * @returns {number | null}
 */
function maskSize(name, metadata, version, kind, action) {
  const mask = metadata[contract.ACTION_MASK_KEY] ?? null;
  if (mask === null) return null;
  let problem;
  if (version < contract.MASK_SINCE || !contract.MASKED_KINDS.includes(kind)) {
    problem = `is ${short(mask)}; expected null for a ${kind} policy of contract ${version}`;
  } else {
    const size = contract.actionSize(action);
    problem = maskProblem(mask, size);
    if (problem === null) return size;
  }
  throw new PolicyLoadError(`${name}: metadata ${contract.ACTION_MASK_KEY} ${problem} (${FIX})`);
}

/**
 * What is wrong with the metadata `action_mask` of a file whose mask has `size` entries.
 * @param {unknown} mask
 * @param {number} size
 * @returns {string | null}
 */
function maskProblem(mask, size) {
  if (!isObject(mask) || !Number.isInteger(mask.size)) {
    return `is ${short(mask)}; expected null or an object with the mask's size, trained, `
      + "source and function";
  }
  if (mask.size !== size) return `has size ${mask.size}; the action space has ${size} actions`;
  const { source, function: fn } = mask;
  if (typeof mask.trained !== "boolean"
      || !(source === null || source === undefined || contract.MASK_SOURCES.includes(source))) {
    return `has trained ${short(mask.trained ?? null)} and source ${short(source ?? null)}; `
      + `expected true or false, and null or one of ${contract.MASK_SOURCES.map(short)
        .join(", ")}`;
  }
  if (source === "function" && !(typeof fn === "string" && fn.includes(":"))) {
    return `has function ${short(fn ?? null)}; the source "function" needs module:function`;
  }
  return null;
}

/**
 * The graph's input ACTION_MASK: bool [batch, size], or none when `size` is null.
 * @param {string} name
 * @param {import("./onnx-file.js").Graph} graph
 * @param {number | null} size
 */
function checkMask(name, graph, size) {
  const node = graph.inputs.find((input) => input.name === contract.ACTION_MASK);
  if (size === null && node !== undefined) {
    throw new PolicyLoadError(`${name}: input ${pyRepr(node.name)} is ${node.type} `
      + `${dimsText(node.shape)}; the metadata's ${contract.ACTION_MASK_KEY} null says the graph `
      + `takes none (${FIX})`);
  }
  const wanted = TENSOR_TYPES.bool;
  if (size !== null && (node === undefined || node.type !== wanted || !fits(node.shape, [size]))) {
    const got = node === undefined ? "missing" : `${node.type} ${dimsText(node.shape)}`;
    throw new PolicyLoadError(`${name}: input ${pyRepr(contract.ACTION_MASK)} is ${got}; the `
      + `metadata's ${contract.ACTION_MASK_KEY} of size ${size} needs ${wanted} `
      + dimsText([contract.BATCH_DIM, size]));
  }
}

/**
 * The graph's inputs are `inputs`: the names, types and shapes.
 * @param {string} name
 * @param {NodeArg[]} nodes the graph's inputs
 * @param {contract.InputSpecs} inputs
 * @param {string} given what requires them, in messages
 */
function checkInputs(name, nodes, inputs, given) {
  const names = Object.keys(inputs);
  if (names.length === 1 && names[0] === contract.INPUT) {  // "obs", whatever the graph says
    const node = theInput(name, nodes);
    const { shape, dtype } = inputs[contract.INPUT];
    if (node.name !== contract.INPUT || node.type !== TENSOR_TYPES[dtype]) {
      throw new PolicyLoadError(`${name}: input ${pyRepr(node.name)} is ${node.type}; ${given} `
        + `needs input ${pyRepr(contract.INPUT)} of ${TENSOR_TYPES[dtype]}`);
    }
    checkInputShape(name, node, shape, given);
    return;
  }
  const byName = new Map(nodes.map((node) => [node.name, node]));
  if (byName.size !== names.length || !names.every((input) => byName.has(input))) {
    throw new PolicyLoadError(`${name}: the graph has inputs ${pyRepr([...byName.keys()])}; `
      + `${given} needs inputs ${names.join(", ")}`);
  }
  for (const [input, { shape, dtype }] of Object.entries(inputs)) {
    const node = /** @type {NodeArg} */ (byName.get(input));
    if (node.type !== TENSOR_TYPES[dtype]) {
      throw new PolicyLoadError(`${name}: input ${pyRepr(input)} is ${node.type}; ${given} `
        + `needs ${TENSOR_TYPES[dtype]}`);
    }
    checkInputShape(name, node, shape, given);
  }
}

/**
 * The outputs of `kind` with the types and shapes the action space gives them.
 * @param {string} name
 * @param {NodeArg[]} outputs
 * @param {string} kind
 * @param {contract.Space} action
 */
function checkOutputs(name, outputs, kind, action) {
  const expected = contract.outputSpecs(kind, action);
  const byName = new Map(outputs.map((o) => [o.name, o]));
  if (!Object.keys(expected).every((output) => byName.has(output))) {
    throw new PolicyLoadError(`${name}: the graph has outputs ${pyRepr([...byName.keys()])}; `
      + `a ${kind} policy needs ${Object.keys(expected).join(", ")}`);
  }
  const given = `the metadata's action space ${spaceText(action)}`;
  for (const [output, [dtype, shape]] of Object.entries(expected)) {
    const node = /** @type {NodeArg} */ (byName.get(output));
    if (node.type !== TENSOR_TYPES[dtype] || !fits(node.shape, shape)) {
      throw new PolicyLoadError(`${name}: output ${pyRepr(output)} is ${node.type} `
        + `${dimsText(node.shape)}; ${given} needs ${TENSOR_TYPES[dtype]} `
        + dimsText([contract.BATCH_DIM, ...shape]));
    }
  }
}
