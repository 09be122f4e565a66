// The JavaScript policy against Python's serve.OnnxPolicy on the same policies and
// observations (test/fixtures/parity.json): outputs within 1e-6, the same greedy actions,
// sampled actions with the same frequencies (of each action, each branch's, each bit's 1) or
// Gaussian statistics -- on onnxruntime-node and onnxruntime-web. Observations of a Dict or
// Tuple space are {part: batch} (beacon), or a Tuple's parts in an array (pair). A policy of
// action masks (corridor, corridor_branches) answers also under the masks of its entry.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { RUNTIMES, maxDelta, observationAt, readFixture, repeated } from "./fixtures.js";

// Recurrent policies' entries hold whole episodes instead: test/recurrent.test.js.
const PARITY = Object.fromEntries(Object.entries(readFixture("parity.json"))
  .filter(([, entry]) => entry.episodes === undefined));
const TOLERANCE = 1e-6;

for (const [runtime, load] of Object.entries(RUNTIMES)) {
  describe(runtime, () => {
    for (const [name, expected] of Object.entries(PARITY)) {
      test(`${name}: outputs and greedy actions equal Python's`, async () => {
        const policy = await load(expected.file, expected.options);
        const outputs = await policy.distribution(expected.observations);
        assert.deepEqual(Object.keys(outputs).sort(), Object.keys(expected.outputs).sort());
        for (const [output, values] of Object.entries(expected.outputs)) {
          assert.ok(maxDelta(outputs[output], values) <= TOLERANCE, `${output} differs`);
        }
        const greedy = await policy.act(expected.observations);
        assert.ok(maxDelta(greedy, expected.greedy) <= TOLERANCE);
        if (policy.kind !== "gaussian" && policy.kind !== "deterministic") {
          assert.deepEqual(greedy, expected.greedy);  // integers: equal
        }
        for (let i = 0; i < expected.greedy.length; i++) {  // one at a time
          const obs = observationAt(policy, expected.observations, i);
          assert.ok(maxDelta(await policy.act(obs), expected.greedy[i]) <= TOLERANCE);
          const one = await policy.distribution(obs);
          for (const [output, values] of Object.entries(expected.outputs)) {
            assert.ok(maxDelta(one[output], values[i]) <= TOLERANCE, `${output}[${i}]`);
          }
        }
      });

      if (expected.masked) {
        test(`${name}: under the masks, Python's outputs and greedy actions`, async () => {
          const policy = await load(expected.file, expected.options);
          const { action_masks: masks, masked } = expected;
          const outputs = await policy.distribution(expected.observations,
            { actionMask: masks });
          for (const [output, values] of Object.entries(masked.outputs)) {
            assert.ok(maxDelta(outputs[output], values) <= TOLERANCE, `${output} differs`);
          }
          assert.deepEqual(await policy.act(expected.observations, { actionMask: masks }),
            masked.greedy);
          for (let i = 0; i < masks.length; i++) {  // one at a time: the kept single tensors
            const obs = observationAt(policy, expected.observations, i);
            assert.deepEqual(await policy.act(obs, { actionMask: masks[i] }), masked.greedy[i]);
            assert.deepEqual(await policy.act(obs), expected.greedy[i]);  // unmasked again
          }
        });

        test(`${name}: sampled actions under a mask follow Python's distribution`, async () => {
          const policy = await load(expected.file, { ...expected.options, seed: 0 });
          const { index, samples } = expected.masked.sampled;
          const obs = observationAt(policy, expected.observations, index);
          const actions = await policy.act(repeated(policy, obs, samples), {
            deterministic: false, actionMask: Array(samples).fill(expected.action_masks[index]) });
          assertFrequencies(frequencies(policy, actions), expected.masked.sampled);
        });
      }

      if (!expected.sampled) continue;
      test(`${name}: sampled actions follow Python's distribution`, async () => {
        const policy = await load(expected.file, { ...expected.options, seed: 0 });
        const { index, samples } = expected.sampled;
        const batch = repeated(policy, observationAt(policy, expected.observations, index),
          samples);
        const actions = await policy.act(batch, { deterministic: false });
        if (policy.kind === "gaussian") {
          assertGaussian(policy, actions, expected.sampled);
        } else {
          assertFrequencies(frequencies(policy, actions), expected.sampled);
        }
      });
    }
  });
}

/**
 * The sampled actions' frequencies, side by side as the probs are: each action's in each
 * branch (categorical: one branch; multi_categorical: the branches in the order of nvec), or
 * each bit's frequency of 1 (bernoulli).
 * @param {import("../src/onnx-policy.js").Policy} policy
 * @param {any[]} actions numbers (categorical) or rows of numbers
 * @returns {number[]}
 */
function frequencies(policy, actions) {
  const rows = actions.map((a) => (typeof a === "number" ? [a] : a));
  const share = (/** @type {(row: number[]) => boolean} */ test) =>
    rows.filter(test).length / rows.length;
  if (policy.kind === "bernoulli") return rows[0].map((_, bit) => share((r) => r[bit] === 1));
  const sizes = policy.actionSpace.nvec ?? [policy.actionSpace.n];
  return sizes.flatMap((n, branch) => Array.from({ length: n },
    (_, action) => share((r) => r[branch] === action)));
}

/**
 * Each frequency within 5 binomial standard deviations of its probability, and of Python's
 * frequency (whose own error doubles the variance).
 * @param {number[]} ours
 * @param {{probs: number[], frequencies: number[], samples: number}} python
 */
function assertFrequencies(ours, { probs, frequencies: theirs, samples }) {
  assert.equal(ours.length, probs.length);
  probs.forEach((p, i) => {
    const sd = Math.sqrt((p * (1 - p)) / samples);
    assert.ok(Math.abs(ours[i] - p) <= 5 * sd + 1e-9, `frequency ${ours[i]} [${i}], p = ${p}`);
    assert.ok(Math.abs(ours[i] - theirs[i]) <= 5 * Math.SQRT2 * sd + 1e-9,
      `frequency ${ours[i]} [${i}], Python's ${theirs[i]}`);
  });
}

/**
 * The sampled actions' mean, std and shares at the bounds agree with Python's.
 * @param {import("../src/onnx-policy.js").Policy} policy
 * @param {Float32Array[]} actions
 * @param {any} python
 */
function assertGaussian(policy, actions, python) {
  const samples = actions.length;
  const values = actions.map((a) => a[0]);
  const mean = values.reduce((a, b) => a + b) / samples;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / samples);
  const [low, high] = [Number(policy.actionSpace.low?.[0]), Number(policy.actionSpace.high?.[0])];
  const share = (/** @type {number} */ bound) =>
    values.filter((v) => v === Math.fround(bound)).length / samples;
  const { mean: [pyMean], std: [pyStd], at_low: [pyLow], at_high: [pyHigh] } = python;
  assert.ok(Math.abs(mean - pyMean) <= 5 * Math.SQRT2 * pyStd / Math.sqrt(samples));
  assert.ok(Math.abs(std - pyStd) <= 5 * pyStd / Math.sqrt(samples));
  for (const [ours, theirs] of [[share(low), pyLow], [share(high), pyHigh]]) {
    const sd = Math.sqrt((2 * theirs * (1 - theirs)) / samples);
    assert.ok(Math.abs(ours - theirs) <= 5 * sd + 1e-9, `${ours} vs ${theirs}`);
  }
  assert.ok(values.every((v) => v >= Math.fround(low) && v <= Math.fround(high)));
}
