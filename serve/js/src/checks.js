/**
 * The checks of a file that declares contract_version: every metadata key the runtime reads
 * is there and well formed, and the graph agrees with it -- serve/loading.py's
 * `check_contract`, with the same one-line messages naming the key, input or output at fault.
 * @module
 */

import * as contract from "./contract-names.js";
import {
  PolicyLoadError, TENSOR_TYPES, checkInputShape, dimsText, fits, theInput,
} from "./onnx-file.js";
import { pyJson, pyRepr } from "./python.js";

/** @typedef {import("./onnx-file.js").NodeArg} NodeArg */

const FIX = "re-export it with python -m export";
const KINDS = contract.KINDS;

/**
 * (policy_kind, the graph's inputs, action space, state size) of a file declaring
 * contract_version, once its metadata and graph are checked (a recurrent file's input `state`
 * and output `next_state` too); a PolicyLoadError otherwise.
 * @param {string} name
 * @param {Record<string, any>} metadata
 * @param {import("./onnx-file.js").Graph} graph
 * @returns {{kind: string, inputs: contract.InputSpecs, actionSpace: contract.Space,
 *   stateSize: number | null}} stateSize: a recurrent policy's (metadata `recurrent`), else null
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
    ?? spaceProblem(contract.ACTION_SPACE_KEY, action, [KINDS[kind]],
      ` for policy_kind ${short(kind)}`);
  if (problem) throw new PolicyLoadError(`${name}: metadata ${problem} (${FIX})`);
  const size = stateSize(name, metadata);
  const inputs = contract.inputSpecs(observation, version);
  const observed = size === null ? graph.inputs
    : graph.inputs.filter((node) => node.name !== contract.STATE);
  checkInputs(name, observed, inputs,
    `the metadata's observation space ${spaceText(observation)}`);
  checkOutputs(name, graph.outputs, kind, action);
  if (size !== null) checkState(name, graph, size);
  return { kind, inputs, actionSpace: action, stateSize: size };
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

/** @param {Record<string, any>} metadata */
function envProblem(metadata) {
  const envId = metadata[contract.ENV_ID_KEY];
  const kwargs = Object.hasOwn(metadata, contract.ENV_KWARGS_KEY)
    ? metadata[contract.ENV_KWARGS_KEY] : {};
  const steps = metadata[contract.MAX_EPISODE_STEPS_KEY] ?? null;
  if (typeof envId !== "string" || !envId) {
    return `env_id is ${short(envId)}; expected a gymnasium id`;
  }
  if (!isObject(kwargs)) return `env_kwargs is ${short(kwargs)}; expected a JSON object`;
  if (steps !== null && (!Number.isInteger(steps) || steps < 1)) {
    return `max_episode_steps is ${short(steps)}; expected a positive integer or null`;
  }
  return null;
}

/** @param {unknown} kind */
function kindProblem(kind) {
  if (typeof kind === "string" && Object.hasOwn(KINDS, kind)) return null;
  return `policy_kind is ${short(kind)}; expected ${Object.keys(KINDS).map(short).join(" or ")}`;
}

/**
 * What is wrong with the observation space description, or with one of its parts.
 * @param {any} space
 */
function observationProblem(space) {
  const name = contract.OBSERVATION_SPACE_KEY;
  const types = contract.OBSERVATION_SPACES;
  if (!isObject(space) || !contract.STRUCTURED.includes(space.type)) {
    return spaceProblem(name, space, types);
  }
  const parts = space.spaces;
  if (!(isObject(parts) || Array.isArray(parts)) || Object.keys(parts).length === 0) {
    return `${name} has spaces ${short(parts)}; expected a non-empty JSON object or list`;
  }
  const leaves = types.filter((type) => !contract.STRUCTURED.includes(type));
  for (const [key, part] of Object.entries(parts)) {
    const problem = spaceProblem(`${name}'s part ${pyRepr(Array.isArray(parts) ? Number(key)
      : key)}`, part, leaves);
    if (problem) return problem;
  }
  return null;
}

/**
 * What is wrong with the space description `name`, whose type should be in `types`.
 * @param {string} name
 * @param {any} space
 * @param {readonly string[]} types
 * @param {string} [why]
 */
function spaceProblem(name, space, types, why = "") {
  if (!isObject(space) || !types.includes(space.type)) {
    return `${name} is ${short(space)}; expected a JSON object with type `
      + `${types.join(" or ")}${why}`;
  }
  if (space.type === "Discrete" || space.type === "MultiBinary") {
    return Number.isInteger(space.n) && space.n >= 1 ? null
      : `${name} has n ${short(space.n)}; expected an integer >= 1`;
  }
  if (space.type === "MultiDiscrete") {
    const nvec = space.nvec;
    const ok = Array.isArray(nvec) && nvec.length > 0
      && nvec.every((n) => Number.isInteger(n) && n >= 1);
    return ok ? null : `${name} has nvec ${short(nvec)}; expected a list of integers >= 1`;
  }
  const shape = space.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    return `${name} has shape ${short(shape)}; expected a list of positive integers`;
  }
  if (name === contract.ACTION_SPACE_KEY) {
    if (shape.length !== 1) {
      return `action_space has shape ${pyRepr(shape)}; expected one dimension`;
    }
    for (const bound of ["low", "high"]) {
      const values = space[bound];
      const ok = Array.isArray(values) && values.length === shape[0]
        && values.every((v) => typeof v === "number" && Number.isFinite(v));
      if (!ok) {
        return `action_space has ${bound} ${short(values)}; expected a list of ${shape[0]} `
          + "finite numbers";
      }
    }
  }
  return null;
}

/** @param {unknown} value @returns {value is Record<string, any>} */
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A metadata value as JSON, shortened to fit in a one-line message.
 * @param {unknown} value
 */
function short(value) {
  const text = pyJson(value);
  return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
}

/**
 * A space as Python's serve/loading.py writes it in messages: "Box(shape=(4,), float32)",
 * "Dict(direction: Discrete(4), image: Box(shape=(6, 6, 1), uint8))".
 * @param {contract.Space} space
 * @returns {string}
 */
function spaceText(space) {
  if (contract.STRUCTURED.includes(space.type)) {
    const parts = contract.parts(space).map(([key, part]) => `${key}: ${spaceText(part)}`);
    return `${space.type}(${parts.join(", ")})`;
  }
  if (space.type === "Discrete" || space.type === "MultiBinary") {
    return `${space.type}(${space.n})`;
  }
  if (space.type === "MultiDiscrete") return `MultiDiscrete(${pyRepr(space.nvec)})`;
  const shape = /** @type {number[]} */ (space.shape);
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  return `Box(shape=${dims}, ${space.dtype ?? "float32"})`;
}
