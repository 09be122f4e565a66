// The JavaScript policy against Python's serve.OnnxPolicy on the same policies and
// observations (test/fixtures/parity.json): outputs within 1e-6, the same greedy actions,
// sampled actions with the same frequencies -- on onnxruntime-node and onnxruntime-web.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { RUNTIMES, maxDelta, readFixture } from "./fixtures.js";

const PARITY = readFixture("parity.json");
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
        if (policy.kind === "categorical") assert.deepEqual(greedy, expected.greedy);
        for (const [i, obs] of expected.observations.entries()) {  // one at a time
          assert.ok(maxDelta(await policy.act(obs), expected.greedy[i]) <= TOLERANCE);
          const one = await policy.distribution(obs);
          for (const [output, values] of Object.entries(expected.outputs)) {
            assert.ok(maxDelta(one[output], values[i]) <= TOLERANCE, `${output}[${i}]`);
          }
        }
      });

      if (!expected.sampled) continue;
      test(`${name}: sampled actions follow Python's distribution`, async () => {
        const policy = await load(expected.file, { ...expected.options, seed: 0 });
        const { index, samples } = expected.sampled;
        const batch = Array(samples).fill(expected.observations[index]);
        const actions = await policy.act(batch, { deterministic: false });
        if (policy.kind === "categorical") {
          const probs = expected.sampled.probs;
          probs.forEach((/** @type {number} */ p, /** @type {number} */ action) => {
            const frequency = actions.filter((a) => a === action).length / samples;
            const sd = Math.sqrt((p * (1 - p)) / samples);
            assert.ok(Math.abs(frequency - p) <= 5 * sd + 1e-9, `P(${action}) = ${p}`);
            const python = expected.sampled.frequencies[action];
            assert.ok(Math.abs(frequency - python) <= 5 * Math.SQRT2 * sd + 1e-9);
          });
        } else {
          const values = actions.map((/** @type {Float32Array} */ a) => a[0]);
          const mean = values.reduce((a, b) => a + b) / samples;
          const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / samples);
          const [low, high] = [policy.actionSpace.low[0], policy.actionSpace.high[0]];
          const share = (/** @type {number} */ bound) =>
            values.filter((v) => v === Math.fround(bound)).length / samples;
          const { mean: [pyMean], std: [pyStd], at_low: [pyLow], at_high: [pyHigh] } =
            expected.sampled;
          assert.ok(Math.abs(mean - pyMean) <= 5 * Math.SQRT2 * pyStd / Math.sqrt(samples));
          assert.ok(Math.abs(std - pyStd) <= 5 * pyStd / Math.sqrt(samples));
          for (const [ours, python] of [[share(low), pyLow], [share(high), pyHigh]]) {
            const sd = Math.sqrt((2 * python * (1 - python)) / samples);
            assert.ok(Math.abs(ours - python) <= 5 * sd + 1e-9, `${ours} vs ${python}`);
          }
          assert.ok(values.every((v) => v >= Math.fround(low) && v <= Math.fround(high)));
        }
      });
    }
  });
}
