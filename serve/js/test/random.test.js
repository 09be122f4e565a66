// The seedable random source and the sampling functions, against answers known by hand.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Random } from "../src/random.js";
import {
  sampleBernoulli, sampleCategorical, sampleGaussian, sampleMultiCategorical, softmax,
} from "../src/sampling.js";

test("xoshiro128** gives the reference implementation's stream from state 1, 2, 3, 4", () => {
  const random = new Random(0);
  random.state.set([1, 2, 3, 4]);
  // The first two by hand: rotl(2 * 5, 7) * 9 = 11520; then s[1] = 2 ^ (3 ^ 1) = 0.
  const first = Array.from({ length: 6 }, () => random.nextUint32());
  assert.deepEqual(first, [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
});

test("a seed gives the same draws; another seed others", () => {
  const draws = (/** @type {number} */ seed) => {
    const random = new Random(seed);
    return [random.uniform(), random.normal(), random.normal(), random.uniform()];
  };
  assert.deepEqual(draws(7), draws(7));
  assert.notDeepEqual(draws(7), draws(8));
  assert.notEqual(new Random().seed, undefined);
  for (const bad of [-1, 1.5, 2 ** 32, "1"]) {
    assert.throws(() => new Random(/** @type {any} */ (bad)),
      { message: `seed must be an integer in [0, 4294967295], got ${bad}` });
  }
});

test("uniforms fill [0, 1) evenly; normals have mean 0 and variance 1", () => {
  const random = new Random(0);
  const n = 100_000;
  const uniforms = Array.from({ length: n }, () => random.uniform());
  assert.ok(uniforms.every((u) => u >= 0 && u < 1));
  const deciles = new Array(10).fill(0);
  for (const u of uniforms) deciles[Math.floor(u * 10)] += 1;
  deciles.forEach((count) => assert.ok(Math.abs(count / n - 0.1) < 0.005));
  const normals = Array.from({ length: n }, () => random.normal());
  const mean = normals.reduce((a, b) => a + b) / n;
  const variance = normals.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  assert.ok(Math.abs(mean) < 0.015 && Math.abs(variance - 1) < 0.02, `${mean} ${variance}`);
  const beyond2 = normals.filter((z) => Math.abs(z) > 2).length / n;
  assert.ok(Math.abs(beyond2 - 0.0455) < 0.004, `P(|z| > 2) = ${beyond2}`);
});

test("categorical sampling inverts the CDF", () => {
  const probs = Float32Array.of(0.25, 0.5, 0.25, 0, 0, 1);
  const draws = [0.1, 0.9, 0.25, 0.0];
  const uniform = () => /** @type {number} */ (draws.shift());
  // Row 1: cdf 0.25, 0.75, 1 -> 0.1 is action 0 and 0.9 action 2; row 2 puts all on action 2
  // (0.25 passes its cdf entries 0, 0: actions of probability 0 are never drawn).
  assert.deepEqual(sampleCategorical(probs.subarray(0, 3), 3, uniform), [0]);
  assert.deepEqual(sampleCategorical(probs, 3, uniform), [2, 2]);
  // A draw equal to a cdf entry is past it (entries <= u are counted, as serve/sampling.py
  // counts them): P(action 0) = P(u < 0.25).
  assert.deepEqual(sampleCategorical(Float32Array.of(0.25, 0.75), 2, () => 0.25), [1]);
  assert.deepEqual(sampleCategorical(Float32Array.of(0.25, 0.75), 2, () => 0.2499), [0]);
});

test("multi-categorical sampling inverts each branch's CDF with its own draw, in order", () => {
  // Two rows of branches of 3 and 2 actions: cdfs (0.25, 0.75, 1 | 0.5, 1) and
  // (0, 0, 1 | 1, 1). Row 1: 0.8 -> action 2, 0.5 -> action 1 (at 0.5, past action 0's
  // entry); row 2: 0.1 -> action 2 (all mass there), 0.99 -> action 0.
  const probs = Float32Array.of(0.25, 0.5, 0.25, 0.5, 0.5, 0, 0, 1, 1, 0);
  const draws = [0.8, 0.5, 0.1, 0.99];
  assert.deepEqual(sampleMultiCategorical(probs, [3, 2], () => /** @type {number} */ (
    draws.shift())), [[2, 1], [2, 0]]);
  assert.equal(draws.length, 0);
});

test("Bernoulli bits are 1 where the draw is below P(1), one draw per bit in order", () => {
  const probs = Float32Array.of(0.5, 0.5, 0, 1, 0.25, 0.75);
  const draws = [0.49, 0.5, 0.0, 0.999, 0.3, 0.3];
  assert.deepEqual(sampleBernoulli(probs, 3, () => /** @type {number} */ (draws.shift())),
    [[1, 0, 0], [1, 0, 1]]);
  assert.equal(draws.length, 0);
});

test("Gaussian samples are mean + std * z, clipped to the bounds; softmax by hand", () => {
  const zs = [3, -3, 0.5, 0];
  const actions = sampleGaussian(Float32Array.of(0, 0, 1, 1), Float32Array.of(1, 1, 0.5, 2),
    () => /** @type {number} */ (zs.shift()), Float32Array.of(-2, -1), Float32Array.of(2, 1));
  assert.deepEqual([...actions], [2, -1, 1.25, 1]);  // rows of [-2, 2] and [-1, 1]
  const probs = softmax(Float32Array.of(0, Math.log(3), 5, 5), 2);
  assert.deepEqual([...probs].map((p) => Math.round(p * 1e6) / 1e6), [0.25, 0.75, 0.5, 0.5]);
});
