// The JavaScript API beyond Python's answers: return types, observations as typed arrays
// and tensors, Dict and Tuple observations by part, seeds, options, and loading from bytes
// and file URLs.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { test } from "node:test";

import protobuf from "protobufjs/light.js";

import * as contract from "../src/contract-names.js";
import { NOT_FINITE, Policy, loadPolicy } from "../src/node.js";
import { fixturePath, maxDelta, readFixture } from "./fixtures.js";

const PARITY = readFixture("parity.json");
const CARTPOLE = fixturePath("cartpole.onnx");
const METADATA_PROPS = 14;  // ModelProto's field number (onnx/onnx.proto)

/**
 * An ONNX model's bytes without its metadata_props, every other field copied as it is.
 * @param {Uint8Array} bytes
 */
function withoutMetadata(bytes) {
  const reader = protobuf.Reader.create(bytes);
  const kept = [];
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    reader.skipType(tag & 7);
    if (tag >>> 3 !== METADATA_PROPS) kept.push(bytes.subarray(start, reader.pos));
  }
  return Buffer.concat(kept);
}

test("one observation gives one action; a batch an array of them", async () => {
  const policy = await loadPolicy(CARTPOLE);
  assert.ok(policy instanceof Policy);
  const [obs, other] = PARITY.cartpole.observations;
  assert.equal(typeof await policy.act(obs), "number");
  assert.deepEqual(await policy.act([obs, other]), PARITY.cartpole.greedy.slice(0, 2));
  assert.ok((await policy.probs(obs)) instanceof Float32Array);
  const probs = /** @type {Float32Array[]} */ (await policy.probs([obs, other]));
  assert.equal(probs.length, 2);
  const { actions, distribution } = await policy.decide(obs, { deterministic: false });
  assert.equal(actions.length, 1);
  assert.equal(distribution.probs.length, 1);
  assert.deepEqual(policy.observationShape, [4]);
  assert.equal(policy.observationDtype, "float32");
  assert.deepEqual(policy.actionSpace, { type: "Discrete", n: 2, start: 0 });
  assert.equal(policy.metadata.env_id, "CartPole-v1");
  assert.equal(policy.metadata.contract_version, 3);  // older contracts keep loading
  assert.ok(contract.SUPPORTED_CONTRACT_VERSIONS.includes(3));
  assert.equal(String(policy), `Policy('${CARTPOLE}', env_id='CartPole-v1', `
    + "observation_shape=(4,), action_space={'n': 2, 'start': 0, 'type': 'Discrete'})");
});

test("MultiDiscrete and MultiBinary actions: a number per branch or bit, rows for a batch",
  async () => {
    for (const [name, kind, width] of [["dials", "multi_categorical", 2],
                                       ["switches", "bernoulli", 4]]) {
      const policy = await loadPolicy(fixturePath(`${name}.onnx`), { seed: 0 });
      const { observations, outputs, greedy } = PARITY[name];
      assert.equal(policy.kind, kind);
      assert.equal(policy.metadata.contract_version, 4);  // exported at contract 4
      const one = await policy.act(observations[0]);
      assert.ok(Array.isArray(one) && one.length === width
        && one.every((a) => Number.isInteger(a)), `${name}: ${one}`);
      assert.deepEqual(one, greedy[0]);
      assert.deepEqual(await policy.act(observations.slice(0, 3)), greedy.slice(0, 3));
      const sampled = /** @type {number[][]} */ (
        await policy.act(observations, { deterministic: false }));
      assert.ok(sampled.every((row) => row.length === width));
      const probs = /** @type {Float32Array} */ (await policy.probs(observations[0]));
      assert.ok(probs instanceof Float32Array && probs.length === outputs.probs[0].length);
      const { actions, distribution } = await policy.decide(observations.slice(0, 2));
      assert.deepEqual(actions, greedy.slice(0, 2));  // the graph's action, with its probs
      assert.ok(maxDelta(distribution.probs, outputs.probs.slice(0, 2)) <= 1e-6);
      const raw = await policy.distribution(observations[0]);
      assert.deepEqual(raw.action, greedy[0]);  // int64 rows as numbers
    }
    const dials = await loadPolicy(fixturePath("dials.onnx"));
    assert.deepEqual(dials.actionSpace, { type: "MultiDiscrete", nvec: [3, 4] });
    const sampled = /** @type {number[][]} */ (await dials.act(
      Array(500).fill(PARITY.dials.observations[0]), { deterministic: false }));
    assert.ok(sampled.every(([a, b]) => a >= 0 && a < 3 && b >= 0 && b < 4));
  });

test("Dict and Tuple observations: {part: observation or batch}, a Tuple's parts also in order",
  async () => {
    const beacon = await loadPolicy(fixturePath("beacon.onnx"), { seed: 0 });
    assert.deepEqual(beacon.observationParts, {
      direction: { shape: [], dtype: "float32" }, image: { shape: [6, 6, 1], dtype: "uint8" } });
    assert.deepEqual([beacon.observationShape, beacon.observationDtype], [[], "float32"]);
    assert.equal(String(beacon), `Policy('${fixturePath("beacon.onnx")}', env_id='tests.`
      + "structured_envs:Beacon-v0', observation_parts={'direction': (), 'image': (6, 6, 1)}, "
      + "action_space={'n': 2, 'start': 0, 'type': 'Discrete'})");
    const { direction, image } = PARITY.beacon.observations;
    const { greedy, outputs } = PARITY.beacon;
    const three = { image: image.slice(0, 3), direction: direction.slice(0, 3) };
    assert.deepEqual(await beacon.act(three), greedy.slice(0, 3));
    assert.equal(await beacon.act({ direction: direction[1], image: image[1] }), greedy[1]);
    const frames = { data: Uint8Array.from(image.slice(0, 2).flat(3)), dims: [2, 6, 6, 1] };
    const { actions, distribution } = await beacon.decide({ direction: Float32Array.from(
      direction.slice(0, 2)), image: frames }, { deterministic: false });
    assert.equal(actions.length, 2);
    assert.ok(maxDelta(distribution.probs, outputs.probs.slice(0, 2)) <= 1e-6);
    const one = /** @type {Float32Array} */ (await beacon.probs({ direction: 0, image: image[0] }));
    assert.ok(one instanceof Float32Array && one.length === 2);

    const pair = await loadPolicy(fixturePath("pair.onnx"));
    assert.deepEqual(Object.keys(pair.observationParts ?? {}), ["0", "1"]);
    const [box, index] = PARITY.pair.observations;
    const expected = PARITY.pair.greedy.slice(0, 4);
    for (const obs of [[box.slice(0, 4), index.slice(0, 4)],
                       { 1: index.slice(0, 4), 0: box.slice(0, 4) }]) {
      assert.deepEqual(await pair.act(obs), expected);
    }
    assert.equal(await pair.act([box[2], index[2]]), PARITY.pair.greedy[2]);

    for (const [name, shape] of [["lock", [2]], ["mirror", [4]]]) {  // one input, obs
      const policy = await loadPolicy(fixturePath(`${name}.onnx`));
      assert.deepEqual([policy.observationParts, policy.observationShape], [null, shape]);
      assert.deepEqual(await policy.act(PARITY[name].observations[0]), PARITY[name].greedy[0]);
    }
  });

test("calls in flight at once each get their own observation's answer", async () => {
  const policy = await loadPolicy(CARTPOLE);
  const { observations, outputs } = PARITY.cartpole;
  const probs = await Promise.all(observations.map((obs) => policy.probs(obs)));
  const acts = await Promise.all(observations.map((obs) => policy.act(obs)));
  assert.deepEqual(acts, PARITY.cartpole.greedy);
  probs.forEach((p, i) => assert.ok(Math.abs(p[0] - outputs.probs[i][0]) <= 1e-6));
});

test("continuous actions are Float32Arrays within the bounds", async () => {
  const policy = await loadPolicy(fixturePath("pendulum.onnx"), { seed: 1 });
  const obs = PARITY.pendulum.observations[0];
  const action = /** @type {Float32Array} */ (await policy.act(obs, { deterministic: false }));
  assert.ok(action instanceof Float32Array && action.length === 1);
  assert.ok(Math.abs(action[0]) <= 2);
  assert.deepEqual(Object.keys(await policy.distribution(obs)).sort(), ["action", "mean", "std"]);
});

test("typed arrays and {data, dims} tensors are observations too", async () => {
  const policy = await loadPolicy(CARTPOLE);
  const batch = PARITY.cartpole.observations.slice(0, 3);
  const expected = PARITY.cartpole.greedy.slice(0, 3);
  assert.deepEqual(await policy.act(batch.map((o) => Float32Array.from(o))), expected);
  assert.deepEqual(await policy.act({ data: Float32Array.from(batch.flat()), dims: [3, 4] }),
    expected);
  assert.equal(await policy.act(Float64Array.from(batch[0])), expected[0]);
  await assert.rejects(policy.act({ data: new Float32Array(5), dims: [2, 4] }),
    { message: "obs has 5 values in data but dims (2, 4) hold 8" });
  const image = await loadPolicy(fixturePath("image.onnx"));
  const frames = PARITY.image.observations.slice(0, 2);
  const data = Uint8Array.from(frames.flat(3));
  assert.deepEqual(await image.act({ data, dims: [2, 36, 36, 1] }),
    PARITY.image.greedy.slice(0, 2));
  assert.equal(image.observationDtype, "uint8");
});

test("one Float32Array observation, act's usual call, keeps every check", async () => {
  const policy = await loadPolicy(CARTPOLE);
  const { observations, greedy } = PARITY.cartpole;
  for (const [i, obs] of observations.slice(0, 4).entries()) {
    assert.equal(await policy.act(Float32Array.from(obs)), greedy[i]);
  }
  for (const bad of [Float32Array.of(0, NaN, 0, 0), Float32Array.of(0, 0, 0, -Infinity)]) {
    await assert.rejects(policy.act(bad), { message: NOT_FINITE });
  }
  await assert.rejects(policy.act(new Float32Array(3)),
    { message: "obs has shape (3,); expected (4,) or (batch, 4)" });
  await assert.rejects(policy.act(new Float32Array(8)),
    { message: "obs has shape (8,); expected (4,) or (batch, 4)" });
  // Node's sessions answer at once rather than a turn of the event loop later (node.js): a
  // promise here means onnxruntime-node's native binding no longer loads as it did.
  const results = policy.session.run(policy.one.feeds, policy.actionFetch);
  assert.ok(!(results instanceof Promise) && results.action.dims[0] === 1);
});

test("the same seed gives the same sampled actions", async () => {
  for (const name of ["acrobot", "switches"]) {
    const obs = Array(200).fill(PARITY[name].observations[PARITY[name].sampled.index]);
    const sample = async (/** @type {number} */ seed) =>
      (await loadPolicy(fixturePath(`${name}.onnx`), { seed })).act(obs,
        { deterministic: false });
    assert.deepEqual(await sample(5), await sample(5));
    assert.notDeepEqual(await sample(5), await sample(6));
  }
});

test("bytes, file URLs and names in messages; unknown options refused", async () => {
  const bytes = await readFile(CARTPOLE);
  assert.equal((await loadPolicy(bytes)).name, "<bytes>");
  assert.equal((await loadPolicy(bytes.buffer.slice(bytes.byteOffset,
    bytes.byteOffset + bytes.byteLength))).metadata.env_id, "CartPole-v1");
  assert.equal((await loadPolicy(pathToFileURL(CARTPOLE))).name, CARTPOLE);
  const policy = await loadPolicy(bytes, { name: "cartpole.onnx" });
  await assert.rejects(policy.act([1, 2]),
    { message: "obs has shape (2,); expected (4,) or (batch, 4)" });
  await assert.rejects(loadPolicy(bytes, /** @type {any} */ ({ observationShape: [4] })), {
    message: "unknown option 'observationShape'; loadPolicy takes seed, name, "
      + "observation_shape, action_type" });
  await assert.rejects(loadPolicy(fixturePath("nometa.onnx"), { observation_shape: [4],
    action_type: "discrete", name: "other.onnx" }).then((p) => p.act([1, 2, 3])),
  { message: "obs has shape (3,); expected (4,) or (batch, 4)" });
});

test("a file without metadata answers from its output named probs, wherever it is", async () => {
  // cartpole.onnx as export writes it (output action [batch] first, then probs [batch, 2])
  const bare = withoutMetadata(await readFile(CARTPOLE));
  const policy = await loadPolicy(bare, { observation_shape: [4], action_type: "discrete",
                                          seed: 3 });
  assert.deepEqual(policy.metadata, {});
  assert.deepEqual(policy.actionSpace, { type: "Discrete", n: 2, start: 0 });
  const { observations, outputs, greedy } = PARITY.cartpole;
  assert.deepEqual(await policy.act(observations), greedy);
  const probs = /** @type {Float32Array[]} */ (await policy.probs(observations));
  probs.forEach((row, i) => row.forEach(
    (p, j) => assert.ok(Math.abs(p - outputs.probs[i][j]) <= 1e-6)));
  const typed = await loadPolicy(CARTPOLE, { seed: 3 });
  assert.deepEqual(await policy.act(observations, { deterministic: false }),
    await typed.act(observations, { deterministic: false }));
});
