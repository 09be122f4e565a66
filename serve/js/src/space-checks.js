/**
 * The metadata's descriptions of the env and of the observation and action spaces, checked
 * (what is wrong with one, in serve/loading.py's words), and written as Python's messages
 * write them.
 * @module
 */

import * as contract from "./contract-names.js";
import { pyJson, pyRepr } from "./python.js";

/**
 * What is wrong with the metadata's env_id, env_kwargs or max_episode_steps, or null.
 * @param {Record<string, any>} metadata
 */
export function envProblem(metadata) {
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

/**
 * What is wrong with the metadata's policy_kind, or null.
 * @param {unknown} kind
 */
export function kindProblem(kind) {
  if (typeof kind === "string" && Object.hasOwn(contract.KINDS, kind)) return null;
  return `policy_kind is ${short(kind)}; expected `
    + Object.keys(contract.KINDS).map(short).join(" or ");
}

/**
 * What is wrong with the observation space description, or with one of its parts.
 * @param {any} space
 */
export function observationProblem(space) {
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
export function spaceProblem(name, space, types, why = "") {
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
export function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A metadata value as JSON, shortened to fit in a one-line message.
 * @param {unknown} value
 */
export function short(value) {
  const text = pyJson(value);
  return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
}

/**
 * A space as Python's serve/loading.py writes it in messages: "Box(shape=(4,), float32)",
 * "Dict(direction: Discrete(4), image: Box(shape=(6, 6, 1), uint8))".
 * @param {contract.Space} space
 * @returns {string}
 */
export function spaceText(space) {
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
