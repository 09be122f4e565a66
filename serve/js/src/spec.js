/**
 * What a policy file is to the runtime -- its kind, observation shape, action space and the
 * outputs to read -- from the contract's metadata, checked against the graph, or, for a file
 * without keras-pg metadata, from the caller's observation_shape and action_type:
 * serve/policy.py's `_from_contract` and `_from_caller`, with the same messages.
 * @module
 */

import * as contract from "./contract-names.js";
import { checkContract } from "./checks.js";
import { sameDims } from "./observations.js";
import { INPUT_DTYPES, PolicyLoadError, checkInputShape, theInput } from "./onnx-file.js";
import { pyRepr, pyTuple } from "./python.js";

const CALLER_HINT = "pass observation_shape=... and action_type='discrete' or 'continuous' "
  + "(command line: --observation-shape 4 --action-type discrete)";

/**
 * @typedef {object} LoadOptions
 * @property {number} [seed] seeds the random source of `act(obs, {deterministic: false})`
 * @property {string} [name] the file's name in error messages (default: the path or URL)
 * @property {number[]} [observation_shape] for an ONNX file without keras-pg metadata: the
 *   observation shape (the graph's input is [batch, ...observation_shape]). Python's keyword
 *   names, so that Python's messages name them.
 * @property {"discrete" | "continuous"} [action_type] for a file without metadata: "discrete"
 *   (an output named `probs`, wherever it is, holds the probabilities; without one, the first
 *   output holds logits, softmax applied) or "continuous" (the first output is the action;
 *   deterministic only)
 */

/**
 * @typedef {"categorical" | "gaussian" | "multi_categorical" | "bernoulli"} ContractKind
 *   a contract file's policy_kind
 * @typedef {object} PolicySpec
 * @property {ContractKind | "deterministic"} kind "deterministic": a continuous policy
 *   without metadata, whose one output is the action
 * @property {number[]} observationShape one observation's shape ([] for a Discrete one, and
 *   for a Dict or Tuple one, whose parts are `observationParts`)
 * @property {"float32" | "uint8"} observationDtype the input's dtype ("float32" for a Dict or
 *   Tuple observation)
 * @property {contract.InputSpecs | null} observationParts {part: {shape, dtype}} of a Dict or
 *   Tuple observation, one input each; null for a policy of one input
 * @property {contract.InputSpecs} inputs the graph's inputs by name: the one input, or the
 *   parts
 * @property {contract.Space} actionSpace {type: "Discrete", n}, {type: "Box", shape, ...},
 *   {type: "MultiDiscrete", nvec} or {type: "MultiBinary", n}
 * @property {string[]} distOutputs the outputs holding the distribution (probs or logits;
 *   mean and std)
 * @property {boolean} logits whether distOutputs[0] holds logits (softmax to be applied)
 * @property {string | null} actionOutput the output holding the greedy action, if any
 * @property {number | null} stateSize a recurrent policy's state size (its inputs are
 *   `inputs` and `state`, its distOutputs end with `next_state`); null for a feed-forward one
 * @property {number | null} maskSize the size of the input `action_mask` of a categorical or
 *   multi_categorical graph of contract 6 or later (its action space's actions); null for a
 *   graph without one
 */

/**
 * The spec of a file that declares contract_version: its metadata, checked against the
 * graph; options given must agree with it.
 * @param {string} name
 * @param {Record<string, any>} metadata
 * @param {import("./onnx-file.js").Graph} graph
 * @param {LoadOptions} options
 * @returns {PolicySpec}
 */
export function contractSpec(name, metadata, graph,
  { observation_shape: shape, action_type: actionType }) {
  const checked = checkContract(name, metadata, graph);
  const names = Object.keys(checked.inputs);
  const parts = names.length === 1 && names[0] === contract.INPUT ? null : checked.inputs;
  const { shape: observationShape, dtype: observationDtype } = parts === null
    ? checked.inputs[contract.INPUT] : { shape: [], dtype: /** @type {const} */ ("float32") };
  if (parts !== null && shape != null) {
    throw new PolicyLoadError(`${name}: observation_shape is for a policy of one input; this `
      + `one takes the parts ${names.join(", ")}: leave it out`);
  }
  if (shape != null && !sameDims(validShape(name, shape), observationShape)) {
    throw new PolicyLoadError(`${name}: observation_shape=${pyTuple(shape)} disagrees with `
      + `the metadata's ${pyTuple(observationShape)}; leave it out`);
  }
  if (actionType != null && contract.ACTION_TYPES[actionType] !== contract.KINDS[checked.kind]) {
    throw new PolicyLoadError(`${name}: action_type=${pyRepr(actionType)} disagrees with the `
      + `metadata's policy_kind ${pyRepr(checked.kind)}; leave it out`);
  }
  const kind = /** @type {ContractKind} */ (checked.kind);
  /** @type {string[]} */
  const distOutputs = kind === "gaussian" ? [contract.MEAN, contract.STD] : [contract.PROBS];
  if (checked.stateSize !== null) distOutputs.push(contract.NEXT_STATE);  // read with them
  return { kind, observationShape, observationDtype, observationParts: parts,
           inputs: checked.inputs, actionSpace: checked.actionSpace, distOutputs,
           logits: false, actionOutput: contract.ACTION, stateSize: checked.stateSize,
           maskSize: checked.maskSize };
}

/**
 * The spec of a file without metadata, from the caller's options.
 * @param {string} name
 * @param {import("./onnx-file.js").Graph} graph
 * @param {LoadOptions} options
 * @returns {PolicySpec}
 */
export function callerSpec(name, graph, { observation_shape: shape, action_type: actionType }) {
  const known = typeof actionType === "string" && Object.hasOwn(contract.ACTION_TYPES, actionType);
  if (shape == null || !known) {
    throw new PolicyLoadError(`${name} has no keras_pg metadata; ${CALLER_HINT} to load it `
      + `(got action_type=${pyRepr(actionType)})`);
  }
  const node = theInput(name, graph.inputs);
  const observationDtype = /** @type {"float32" | "uint8"} */ (
    INPUT_DTYPES[/** @type {keyof INPUT_DTYPES} */ (node.type)]);
  const observationShape = validShape(name, shape);
  checkInputShape(name, node, observationShape,
    `observation_shape ${pyTuple(observationShape)}`, true);
  const one = { observationShape, observationDtype, observationParts: null,
                inputs: { [node.name]: { shape: observationShape, dtype: observationDtype } },
                stateSize: null, maskSize: null };
  // Discrete: an output named probs wherever it is (export writes `action` [batch] first),
  // else the first output as logits. Continuous: the first output.
  const probs = graph.outputs.find((o) => o.name === contract.PROBS);
  const named = actionType === "discrete" && probs !== undefined;
  const read = named ? probs : graph.outputs[0];
  const role = named ? `output ${pyRepr(contract.PROBS)}` : "first output";
  if (read.shape === null || read.shape.length !== 2) {
    throw new PolicyLoadError(`${name}: output ${pyRepr(read.name)} has shape `
      + `${pyRepr(read.shape)}; a ${actionType} policy's ${role} is [batch, size]`);
  }
  const size = typeof read.shape[1] === "number" ? read.shape[1] : null;
  if (actionType === "discrete") {
    return { kind: "categorical", ...one,
             actionSpace: { type: "Discrete", n: size, start: 0 },
             distOutputs: [read.name], logits: !named, actionOutput: null };
  }
  return { kind: "deterministic", ...one, actionSpace: { type: "Box", shape: [size] },
           distOutputs: [], logits: false, actionOutput: read.name };
}

/**
 * A caller's observation_shape as positive integers, or a PolicyLoadError.
 * @param {string} name
 * @param {unknown} shape
 * @returns {number[]}
 */
function validShape(name, shape) {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new PolicyLoadError(`${name}: observation_shape must be a tuple of positive `
      + `integers such as (4,) or (84, 84, 3), got ${pyRepr(shape)}`);
  }
  return shape;
}
