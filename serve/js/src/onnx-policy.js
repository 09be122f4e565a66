/**
 * Policy: a keras-pg `policy.onnx` (or another tool's ONNX policy) in onnxruntime, with the
 * semantics and messages of Python's `serve.OnnxPolicy` (serve/policy.py).
 * @module
 */

import * as contract from "./contract-names.js";
import { nodeArgs, readMetadata } from "./onnx-file.js";
import { asPartBatches } from "./observation-parts.js";
import { AllLegal, asMask, maskBranches, takesNone } from "./masks.js";
import { asBatch } from "./observations.js";
import { pyRepr, pyTuple } from "./python.js";
import { Random } from "./random.js";
import {
  argmax, sampleBernoulli, sampleCategorical, sampleGaussian, sampleMultiCategorical, softmax,
} from "./sampling.js";
import { callerSpec, contractSpec } from "./spec.js";
import { Episode, UNEXPECTED, asState, checkNoState, initialState as zeroState } from "./state.js";

/**
 * @typedef {number | number[] | Float32Array} Action an action index (Discrete), one index per
 *   branch (MultiDiscrete) or one bit per bit (MultiBinary), or a vector (Box)
 * @typedef {Record<string, {data: ArrayLike<any>, dims: readonly number[]}>} Results
 *   a session's outputs by name
 * @typedef {Record<string, Action[]>} Outputs outputs by name, one entry per observation: a
 *   number for a [batch] output, a row for a [batch, n] one (numbers for int64)
 * @typedef {import("./observations.js").Observation
 *   | import("./observation-parts.js").StructuredObservation} Observations one observation or a
 *   batch: of the one input, or {part: ...} of a Dict or Tuple observation's parts
 * @typedef {import("./observation-parts.js").PartBatches} Inputs the graph's inputs for
 *   observations: {input: batch [B, ...]} (a recurrent policy's `state` [B, S] beside them),
 *   and whether one observation was given
 * @typedef {import("./state.js").State} State a recurrent policy's state: [S] for one
 *   observation, [B, S] for a batch (rows, or {data, dims})
 * @typedef {object} ActionAndState what `act` answers a recurrent policy's caller
 * @property {Action | Action[]} action the action (one per observation of a batch)
 * @property {Float32Array | Float32Array[]} state the next state: [S], or one per observation
 * @typedef {import("./masks.js").ActionMask} ActionMask which actions are legal: [P] for one
 *   observation, [B, P] for a batch (booleans or 0/1), or per branch of a MultiDiscrete space
 * @typedef {{state?: State | null, actionMask?: ActionMask | null}} CallOptions a recurrent
 *   policy's state (required; a feed-forward policy takes none), and the legal actions of a
 *   policy whose graph takes an action mask (optional: all legal without; a policy without
 *   the input takes none)
 */

/** A policy answering observations with actions, backed by one onnxruntime session. */
export class Policy {
  /**
   * Use `loadPolicy`, which reads the file and opens the session.
   * @param {import("./onnx-file.js").Session} session
   * @param {{Tensor: new (type: string, data: any, dims: number[]) => any}} ort
   * @param {Uint8Array} bytes the model, for its metadata
   * @param {string} name
   * @param {import("./spec.js").LoadOptions} [options]
   */
  constructor(session, ort, bytes, name, options = {}) {
    this.session = session;
    this.ort = ort;
    /** The file's name in messages. */
    this.name = name;
    /** keras-pg's metadata (metadata_props, JSON-decoded). @type {Record<string, any>} */
    this.metadata = readMetadata(bytes);
    const graph = nodeArgs(session);
    /** The model's outputs, by name. */
    this.outputs = graph.outputs.map((o) => o.name);
    const spec = Object.hasOwn(this.metadata, contract.CONTRACT_VERSION_KEY)
      ? contractSpec(name, this.metadata, graph, options) : callerSpec(name, graph, options);
    /**
     * "categorical", "gaussian", "multi_categorical", "bernoulli", or "deterministic" (a
     * continuous file without metadata).
     */
    this.kind = spec.kind;
    /** The shape of one observation ([] for a Discrete observation, and a Dict or Tuple one). */
    this.observationShape = spec.observationShape;
    /** The input's dtype: "float32", or "uint8" for image policies (raw frames). */
    this.observationDtype = spec.observationDtype;
    /**
     * {part: {shape, dtype}} of a Dict (its keys) or Tuple ("0", "1", ...) observation, whose
     * parts are the graph's inputs; null for a policy of one input.
     */
    this.observationParts = spec.observationParts;
    /**
     * The action space: {type: "Discrete", n, start}, {type: "Box", shape, low, high},
     * {type: "MultiDiscrete", nvec} or {type: "MultiBinary", n}.
     */
    this.actionSpace = spec.actionSpace;
    this.spec = spec;
    /** The action bounds of a Gaussian policy (sampled actions are clipped to them). */
    this.low = Float32Array.from(/** @type {number[]} */ (spec.actionSpace.low ?? []));
    this.high = Float32Array.from(/** @type {number[]} */ (spec.actionSpace.high ?? []));
    /** The random source of sampled actions, seeded by `options.seed`. */
    this.random = new Random(options.seed);
    /**
     * A recurrent policy's state size (metadata `recurrent`): its methods take the state, and
     * `act` returns the next one. null for a feed-forward policy.
     */
    this.stateSize = spec.stateSize;
    /**
     * The size of the action mask the policy takes (`actionMask`, since contract 6: its
     * categorical and multi_categorical files), its actions side by side; null for a policy
     * whose graph takes none.
     */
    this.maskSize = spec.maskSize;
    /** The all-true masks of calls without one (null: the graph takes no mask). */
    this.allLegal = spec.maskSize === null ? null : new AllLegal(spec.maskSize);
    /** The mask's branch sizes ([n], or nvec); the message refusing one if it takes none. */
    this.maskBranches = spec.maskSize === null ? null : maskBranches(spec.actionSpace);
    this.noMask = takesNone(spec.kind, this.metadata[contract.CONTRACT_VERSION_KEY]);
    /** The input tensors of single observations of a one-input policy (see `run`), or null. */
    this.one = spec.observationParts === null ? this.#oneInput(spec.inputs) : null;
    this.actionFetch = spec.actionOutput === null ? [] : [spec.actionOutput];
  }

  /**
   * Actions for one observation or a batch [B, ...obs_shape]; for a Dict or Tuple
   * observation, {part: one observation or a batch [B, ...part_shape]} (a Tuple's parts also
   * as an array in order).
   *
   * Discrete: a number, or number[] for a batch. Continuous: a Float32Array [d], or one per
   * observation. MultiDiscrete (MultiBinary): number[] [k], one action per branch (bit), or
   * one per observation. `deterministic` (default true) takes the in-graph `action` (the
   * argmax, per branch; the bits whose P(1) is above 1/2; the clipped mean); false samples
   * from `probs` (each branch, each bit), or N(mean, std) clipped to the bounds, with this
   * policy's random source.
   *
   * A recurrent policy (`stateSize` not null) takes `state` -- `initialState()` at an
   * episode's first step, then the state the previous step returned -- and answers
   * `{action, state}`: the action(s) and the next state (`episode()` carries it for you).
   *
   * A policy taking an action mask (`maskSize` not null) acts only among the legal actions
   * of `actionMask` (true or 1: legal; [maskSize] for one observation, a row per observation
   * of a batch; per branch of a MultiDiscrete space also one array each), all of them
   * without one.
   * @overload
   * @param {Observations} obs
   * @param {{deterministic?: boolean, state?: null, actionMask?: ActionMask | null}} [options]
   * @returns {Promise<Action | Action[]>}
   */
  /**
   * @overload
   * @param {Observations} obs
   * @param {{deterministic?: boolean, state: State, actionMask?: ActionMask | null}} options
   * @returns {Promise<ActionAndState>}
   */
  /**
   * @param {Observations} obs
   * @param {{deterministic?: boolean} & CallOptions} [options]
   * @returns {Promise<Action | Action[] | ActionAndState>}
   */
  async act(obs, { deterministic = true, state, actionMask } = {}) {
    if (this.stateSize !== null) {
      return this.#actRecurrent(this.#inputs(obs, state, actionMask), deterministic);
    }
    const inputs = this.#inputs(obs, state, actionMask);
    let actions;
    if (deterministic && this.spec.actionOutput !== null) {
      let results = this.#run(inputs, this.actionFetch);
      if (results instanceof Promise) results = await results;  // Node's are there already
      const output = results[this.spec.actionOutput];
      if (inputs.single && output.dims.length === 1) return Number(output.data[0]);
      actions = rows(output);
    } else {
      actions = (await this.#decideBatch(inputs, deterministic)).actions;
    }
    return inputs.single ? actions[0] : actions;
  }

  /**
   * `act` of a recurrent policy: the action(s) and the next state, from one model call.
   * @param {Inputs} inputs
   * @param {boolean} deterministic
   * @returns {Promise<ActionAndState>}
   */
  async #actRecurrent(inputs, deterministic) {
    const { actionOutput } = this.spec;
    let actions;
    let states;
    if (deterministic && actionOutput !== null) {
      let results = this.#run(inputs, [actionOutput, contract.NEXT_STATE]);
      if (results instanceof Promise) results = await results;
      actions = rows(results[actionOutput]);
      states = rows(results[contract.NEXT_STATE]);
    } else {
      const decided = await this.#decideBatch(inputs, deterministic);
      actions = decided.actions;
      states = decided.distribution[contract.NEXT_STATE];
    }
    const next = /** @type {Float32Array[]} */ (states);
    return inputs.single ? { action: actions[0], state: next[0] }
      : { action: actions, state: next };
  }

  /**
   * A recurrent policy's state at an episode's first step: zeros, a Float32Array [S] (or
   * `batch` of them, one per episode); an Error for a feed-forward policy.
   * @overload
   * @param {null} [batch]
   * @returns {Float32Array}
   */
  /**
   * @overload
   * @param {number} batch
   * @returns {Float32Array[]}
   */
  /**
   * @param {number | null} [batch]
   * @returns {Float32Array | Float32Array[]}
   */
  initialState(batch = null) {
    if (this.stateSize === null) throw new Error(UNEXPECTED);
    return zeroState(this.stateSize, batch);
  }

  /**
   * Acts through one episode (or `batch` episodes in lockstep), keeping a recurrent policy's
   * state between calls: `await episode.act(obs)`; `episode.reset()` when the episode (rows
   * of a batch) starts again. For a feed-forward policy it is `act`.
   * @param {{batch?: number | null, deterministic?: boolean}} [options]
   * @returns {Episode}
   */
  episode(options = {}) {
    return new Episode(this, options);
  }

  /**
   * Batched actions and the distribution they came from ({probs} or {mean, std}; a recurrent
   * policy's with `next_state`), from one model call; a single observation is a batch of one.
   * Greedy actions are the graph's `action` (a file without metadata: the argmax of its
   * probs).
   * @param {Observations} obs
   * @param {{deterministic?: boolean} & CallOptions} [options]
   * @returns {Promise<{actions: Action[], distribution: Outputs}>}
   */
  async decide(obs, { deterministic = true, state, actionMask } = {}) {
    return this.#decideBatch(this.#inputs(obs, state, actionMask), deterministic);
  }

  /**
   * Action probabilities: a Float32Array [n] (categorical), each branch's side by side
   * [sum(nvec)] (multi_categorical), or each bit's P(1) [n] (bernoulli); one per observation
   * of a batch (a recurrent policy's: in `state`); exactly 0 where `actionMask` is false.
   * @param {Observations} obs
   * @param {CallOptions} [options]
   * @returns {Promise<Float32Array | Float32Array[]>}
   */
  async probs(obs, { state, actionMask } = {}) {
    if (this.kind === "gaussian" || this.kind === "deterministic") {
      throw new Error(`probs() needs a discrete policy; this one is ${this.kind}: `
        + "use distribution()");
    }
    const inputs = this.#inputs(obs, state, actionMask);
    const { probs } = await this.#distributionOf(inputs);
    const size = batchSize(inputs);
    const result = /** @type {Float32Array[]} */ (
      rows({ data: probs, dims: [size, probs.length / size] }));
    return inputs.single ? result[0] : result;
  }

  /**
   * The raw outputs of the model by name (e.g. probs and action, or mean, std and action;
   * and next_state for a recurrent policy, which takes `state`; `actionMask` applied), for
   * one observation, or one entry per observation of a batch.
   * @param {Observations} obs
   * @param {CallOptions} [options]
   * @returns {Promise<Record<string, Action | Action[]>>}
   */
  async distribution(obs, { state, actionMask } = {}) {
    const inputs = this.#inputs(obs, state, actionMask);
    const values = await this.#run(inputs, this.outputs);
    return Object.fromEntries(this.outputs.map((name) => {
      const value = rows(values[name]);
      return [name, inputs.single ? value[0] : value];
    }));
  }

  /**
   * The graph's inputs for `obs`: {input: batch [B, ...]} ({obs: ...}, or one per part of a
   * Dict or Tuple observation), and whether one observation was given; an Error in one line
   * (Python's message) for observations that are not the policy's.
   * @param {Observations} obs
   * @returns {Inputs}
   */
  #batch(obs) {
    if (this.observationParts !== null) return asPartBatches(obs, this.observationParts);
    const one = /** @type {NonNullable<Policy["one"]>} */ (this.one);
    const batch = asBatch(/** @type {import("./observations.js").Observation} */ (obs),
      this.observationShape, this.observationDtype);
    return { batches: { [one.input]: batch }, single: batch.single };
  }

  /**
   * `#batch` with a recurrent policy's state and the action mask beside the observations,
   * checked (a state given to a feed-forward policy, or a mask to a policy without the
   * input: refused). Without a mask, all actions are legal.
   * @param {Observations} obs
   * @param {unknown} state
   * @param {unknown} actionMask
   * @returns {Inputs}
   */
  #inputs(obs, state, actionMask) {
    const inputs = this.#batch(obs);
    const { stateSize, allLegal, maskBranches: branches } = this;
    const size = batchSize(inputs);
    const { single } = inputs;
    if (stateSize === null) {
      checkNoState(state);
    } else {
      inputs.batches[contract.STATE] = { data: asState(state, stateSize, size, single),
                                         dims: [size, stateSize], single };
    }
    if (allLegal === null || branches === null) {
      if (actionMask !== undefined && actionMask !== null) throw new Error(this.noMask);
    } else {
      const data = actionMask === undefined || actionMask === null ? allLegal.rows(size)
        : asMask(actionMask, branches, size, single);
      inputs.batches[contract.ACTION_MASK] = { data, dims: [size, allLegal.size], single };
    }
    return inputs;
  }

  /**
   * The tensors kept for single observations of a one-input policy (and a recurrent one's
   * state, a masked one's action mask), and their feeds.
   * @param {import("./contract-names.js").InputSpecs} inputs the one input
   */
  #oneInput(inputs) {
    const [[input, { shape, dtype }]] = Object.entries(inputs);
    const size = shape.reduce((a, b) => a * b, 1);
    const data = dtype === "uint8" ? new Uint8Array(size) : new Float32Array(size);
    /** @type {Record<string, unknown>} */
    const feeds = { [input]: new this.ort.Tensor(dtype, data, [1, ...shape]) };
    const { stateSize, maskSize } = this;
    const state = stateSize === null ? null : new Float32Array(stateSize);
    if (state !== null) {
      feeds[contract.STATE] = new this.ort.Tensor("float32", state, [1, state.length]);
    }
    const mask = maskSize === null ? null : new Uint8Array(maskSize);
    if (mask !== null) {
      feeds[contract.ACTION_MASK] = new this.ort.Tensor("bool", mask, [1, mask.length]);
    }
    return { input, data, state, mask, feeds, busy: false };
  }

  /**
   * The outputs `names` for `inputs`: a promise of them, or (Node's sessions run in place,
   * node.js) the outputs themselves; callers `await` either.
   * @param {Inputs} inputs
   * @param {string[]} names
   * @returns {Results | Promise<Results>}
   */
  #run(inputs, names) {
    const one = this.one;
    const batch = one === null ? null : inputs.batches[one.input];
    if (one === null || batch === null || batch.dims[0] !== 1 || one.busy) {
      const feeds = Object.fromEntries(Object.entries(inputs.batches).map(([input, part]) =>
        [input, new this.ort.Tensor(dtypeOf(this.spec, input), part.data, part.dims)]));
      return this.session.run(feeds, names);
    }
    // One observation goes through a tensor kept for it: fewer allocations per call, so the
    // garbage collector interrupts fewer calls (act's p99 latency). `busy` keeps a second
    // call from writing it while onnxruntime has yet to read it.
    one.data.set(batch.data);
    if (one.state !== null) one.state.set(inputs.batches[contract.STATE].data);
    if (one.mask !== null) one.mask.set(inputs.batches[contract.ACTION_MASK].data);
    const results = this.session.run(one.feeds, names);
    if (!(results instanceof Promise)) return results;  // read already
    one.busy = true;
    return results.finally(() => { one.busy = false; });
  }

  /**
   * The distribution outputs as flat arrays ({probs} or {mean, std}), softmax applied to a
   * caller's logits.
   * @param {Inputs} inputs
   * @returns {Promise<Record<string, Float32Array>>}
   */
  async #distributionOf(inputs) {
    const values = await this.#run(inputs, this.spec.distOutputs);
    if (this.spec.logits) {
      const logits = values[this.spec.distOutputs[0]];
      return { [contract.PROBS]: softmax(/** @type {Float32Array} */ (logits.data),
        logits.dims[1]) };
    }
    return Object.fromEntries(this.spec.distOutputs.map(
      (name) => [name, /** @type {Float32Array} */ (values[name].data)]));
  }

  /**
   * @param {Inputs} inputs
   * @param {boolean} deterministic
   * @returns {Promise<{actions: Action[], distribution: Outputs}>}
   */
  async #decideBatch(inputs, deterministic) {
    const { actionOutput, distOutputs } = this.spec;
    if (deterministic && actionOutput !== null) {  // the graph's greedy action
      const values = await this.#run(inputs, [actionOutput, ...distOutputs]);
      return { actions: rows(values[actionOutput]), distribution: Object.fromEntries(
        distOutputs.map((name) => [name, rows(values[name])])) };
    }
    if (this.kind === "deterministic") {
      throw new Error("this policy has no distribution to sample from; "
        + "use deterministic=True");
    }
    const size = batchSize(inputs);
    const dist = await this.#distributionOf(inputs);
    const distribution = Object.fromEntries(Object.entries(dist).map(
      ([name, value]) => [name, rows({ data: value, dims: [size, value.length / size] })]));
    return { actions: this.#actions(dist, size, deterministic), distribution };
  }

  /**
   * Actions for `size` observations from their distribution (flat outputs): sampled with
   * this policy's random source, or, for a file without metadata, the argmax of its probs.
   * @param {Record<string, Float32Array>} dist
   * @param {number} size
   * @param {boolean} deterministic
   * @returns {Action[]}
   */
  #actions(dist, size, deterministic) {
    const uniform = () => this.random.uniform();
    const probs = dist[contract.PROBS];
    if (this.kind === "categorical") {
      const n = probs.length / size;
      return deterministic ? argmax(probs, n) : sampleCategorical(probs, n, uniform);
    }
    if (this.kind === "multi_categorical") {
      return sampleMultiCategorical(probs, /** @type {number[]} */ (this.actionSpace.nvec),
        uniform);
    }
    if (this.kind === "bernoulli") return sampleBernoulli(probs, probs.length / size, uniform);
    const { low, high } = this;
    const actions = sampleGaussian(dist[contract.MEAN], dist[contract.STD],
      () => this.random.normal(), low, high);
    return rows({ data: actions, dims: [size, low.length] });
  }

  toString() {
    const parts = this.observationParts;
    const observations = parts === null ? `observation_shape=${pyTuple(this.observationShape)}`
      : `observation_parts={${Object.entries(parts).map(([name, { shape }]) =>
        `${pyRepr(name)}: ${pyTuple(shape)}`).join(", ")}}`;
    return `Policy(${pyRepr(this.name)}, env_id=${pyRepr(this.metadata.env_id)}, `
      + `${observations}, action_space=${pyRepr(this.actionSpace)})`;
  }
}

/**
 * The dtype of the graph's input `input`: an observation's (float32 or uint8), float32 for a
 * recurrent policy's state, bool (a Uint8Array of 0 and 1) for the action mask.
 * @param {import("./spec.js").PolicySpec} spec
 * @param {string} input
 */
function dtypeOf(spec, input) {
  return input === contract.ACTION_MASK ? "bool" : spec.inputs[input]?.dtype ?? "float32";
}

/**
 * The observations in `inputs` (B: every input's first dimension).
 * @param {Inputs} inputs
 */
function batchSize(inputs) {
  return Object.values(inputs.batches)[0].dims[0];
}

/**
 * A [batch] output as numbers, a [batch, n] one as rows: Float32Arrays, or number[] for int64
 * (BigInt64Array) outputs.
 * @param {{data: ArrayLike<any>, dims: readonly number[]}} tensor
 * @returns {Action[]}
 */
function rows({ data, dims }) {
  if (dims.length === 1) return Array.from(data, Number);
  const width = dims.slice(1).reduce((a, b) => a * b, 1);
  const result = [];
  for (let i = 0; i < dims[0]; i++) {
    const row = /** @type {Float32Array | BigInt64Array} */ (data).slice(i * width,
      (i + 1) * width);
    result.push(row instanceof BigInt64Array ? Array.from(row, Number) : row);
  }
  return result;
}
