// Action masks (contract 6): test/fixtures/corridor.onnx (categorical, 8 actions) and
// corridor_branches.onnx (MultiDiscrete [8, 2], a mask of 10), trained with the masks of
// tests/masked_env.py's Corridor-v0, on onnxruntime-node and onnxruntime-web. The answers
// known without the package: a masked distribution is the unmasked one restricted to the
// legal actions and renormalized (0 elsewhere, exactly); the trained greedy policy moves
// forward in every cell; no sampled action is ever a masked one. Python's messages for bad
// masks are in messages.test.js.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Random } from "../src/random.js";
import { sampleCategorical, sampleMultiCategorical } from "../src/sampling.js";
import { Corridor, FORWARD, LENGTH, corridorMask } from "./corridor.js";
import { RUNTIMES } from "./fixtures.js";

const CELLS = Array.from({ length: LENGTH }, (_, cell) => cell);

/**
 * `rows` random masks of the branches `sizes`, each branch with a legal action: bits legal
 * with probability 1/3, then one more set per branch at random.
 * @param {Random} random
 * @param {number} rows
 * @param {number[]} sizes
 * @returns {Uint8Array} [rows, sum(sizes)]
 */
function randomMasks(random, rows, sizes) {
  const width = sizes.reduce((a, b) => a + b, 0);
  const masks = new Uint8Array(rows * width);
  for (let row = 0; row < rows; row++) {
    let start = row * width;
    for (const n of sizes) {
      for (let j = 0; j < n; j++) masks[start + j] = random.uniform() < 1 / 3 ? 1 : 0;
      masks[start + Math.floor(random.uniform() * n)] = 1;
      start += n;
    }
  }
  return masks;
}

/**
 * The unmasked probs of one branch restricted to the mask's legal actions, renormalized.
 * @param {ArrayLike<number>} probs
 * @param {ArrayLike<number>} mask
 */
function restricted(probs, mask) {
  const kept = Array.from(probs, (p, j) => (mask[j] ? p : 0));
  const total = kept.reduce((a, b) => a + b, 0);
  return kept.map((p) => p / total);
}

/** @param {ArrayLike<number>} values */
function argmax(values) {
  let best = 0;
  for (let j = 1; j < values.length; j++) if (values[j] > values[best]) best = j;
  return best;
}

for (const [runtime, load] of Object.entries(RUNTIMES)) {
  describe(runtime, () => {
    test("the env's masks: illegal actions get probability 0, the greedy action goes forward",
      async () => {
        const policy = await load("corridor.onnx");
        assert.equal(policy.maskSize, 8);
        assert.deepEqual(policy.metadata.action_mask,
          { function: null, size: 8, source: "info", trained: true });
        const masks = CELLS.map((cell) => corridorMask(cell));
        const probs = /** @type {Float32Array[]} */ (
          await policy.probs(CELLS, { actionMask: masks }));
        probs.forEach((row, cell) => {
          row.forEach((p, j) => assert.ok(masks[cell][j] ? p > 0 : p === 0, `${cell}: ${row}`));
          assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6);
        });
        // trained with the masks: forward in every cell before the last
        const greedy = await policy.act(CELLS.slice(0, -1), { actionMask: masks.slice(0, -1) });
        assert.deepEqual(greedy, FORWARD.slice(0, LENGTH - 1));
        for (const cell of CELLS.slice(0, -1)) {  // one at a time: the kept single tensors
          assert.equal(await policy.act(cell, { actionMask: masks[cell] }), FORWARD[cell]);
        }
      });

    test("random masks: the unmasked distribution restricted to the legal actions", async () => {
      const random = new Random(1);
      for (const [file, sizes] of [["corridor.onnx", [8]],
                                   ["corridor_branches.onnx", [8, 2]]]) {
        const policy = await load(file);
        const rows = 300;
        const obs = Array.from({ length: rows }, (_, i) => i % LENGTH);
        const masks = randomMasks(random, rows, sizes);
        const width = masks.length / rows;
        const free = /** @type {Float32Array[]} */ (await policy.probs(obs));
        const { actions, distribution } = await policy.decide(obs,
          { actionMask: { data: masks, dims: [rows, width] } });
        for (let i = 0; i < rows; i++) {
          const mask = masks.subarray(i * width, (i + 1) * width);
          const probs = /** @type {Float32Array} */ (distribution.probs[i]);
          const greedy = sizes.length > 1 ? /** @type {number[]} */ (actions[i]) : [actions[i]];
          let start = 0;
          sizes.forEach((n, branch) => {
            const end = start + n;
            const expected = restricted(free[i].subarray(start, end), mask.subarray(start, end));
            probs.subarray(start, end).forEach((p, j) => {
              assert.ok(mask[start + j] ? Math.abs(p - expected[j]) <= 1e-5 : p === 0,
                `${file} row ${i}: ${probs} under ${mask}`);
            });
            assert.equal(greedy[branch], argmax(expected), `${file} row ${i} branch ${branch}`);
            start = end;
          });
        }
      }
    });

    test("no mask is all legal; every form of a mask gives the same answers", async () => {
      const policy = await load("corridor.onnx");
      const free = await policy.probs(2);
      const ones = Array(8).fill(1);
      for (const mask of [undefined, null, ones, ones.map(Boolean), Uint8Array.from(ones)]) {
        assert.deepEqual(await policy.probs(2, { actionMask: mask }), free);
      }
      const mask = corridorMask(2);
      const expected = await policy.probs(2, { actionMask: mask });
      const forms = [mask.map(Boolean), Uint8Array.from(mask), Int8Array.from(mask),
                     Float64Array.from(mask), { data: Uint8Array.from(mask), dims: [8] }];
      for (const form of forms) {
        assert.deepEqual(await policy.probs(2, { actionMask: form }), expected);
      }
      assert.deepEqual([...forms[1]], mask);  // a caller's Uint8Array is read, not written
      // after a masked call, an unmasked one is unmasked again (the kept single tensors)
      assert.deepEqual(await policy.probs(2), free);
      assert.equal(await policy.act(2), argmax(/** @type {Float32Array} */ (free)));
      const batch = [[mask, mask], Uint8Array.from(mask.concat(mask)),
                     { data: mask.concat(mask), dims: [2, 8] }];
      for (const form of batch) {
        assert.deepEqual(await policy.probs([2, 2], { actionMask: form }), [expected, expected]);
      }
      const branches = await load("corridor_branches.onnx");
      const flat = corridorMask(2, true);
      const perBranch = [corridorMask(2), [true, false]];
      const one = await branches.act(2, { actionMask: flat });
      assert.deepEqual(await branches.act(2, { actionMask: perBranch }), one);
      assert.deepEqual(one, [FORWARD[2], 0]);
      for (const form of [[flat, flat], [[perBranch[0], perBranch[0]], [[1, 0], [1, 0]]],
                          Uint8Array.from([...flat, ...flat])]) {  // a typed array: flat
        assert.deepEqual(await branches.act([2, 2], { actionMask: form }), [one, one]);
      }
      assert.deepEqual(await branches.probs(2, { actionMask: perBranch }),
        await branches.probs(2, { actionMask: flat }));
      const { action: raw } = await branches.distribution(2, { actionMask: perBranch });
      assert.deepEqual(raw, one);
    });

    test("files without the input (before contract 6, other kinds) refuse a mask in one line",
      async () => {
        const cases = [["cartpole.onnx", [0, 0, 0, 0], /contract 3, older than action masks/],
                       ["dials.onnx", Array(7).fill(0), /contract 4, older than action masks/],
                       ["cue.onnx", [1, 0], /contract 5, older than action masks/],
                       ["pendulum.onnx", [1, 0, 0], /a gaussian policy's actions are never/],
                       ["switches.onnx", [0, 0, 0, 0], /a bernoulli policy's actions are never/]];
        for (const [file, obs, why] of cases) {
          const policy = await load(file);
          assert.equal(policy.maskSize, null);
          const state = policy.stateSize === null ? undefined : policy.initialState();
          await policy.act(obs, { state });  // without one, as before
          for (const call of [() => policy.act(obs, { state, actionMask: [1, 1] }),
                              () => policy.distribution(obs, { state, actionMask: [] })]) {
            await assert.rejects(call(), (/** @type {Error} */ error) => {
              assert.match(error.message, /^this policy takes no action_mask: /);
              assert.match(error.message, why);
              assert.ok(!error.message.includes("\n"));
              return true;
            });
          }
        }
      });

    test("100,000 sampled actions under random masks: never a masked one", { timeout: 120_000 },
      async () => {
        const random = new Random(2);
        for (const [file, sizes] of [["corridor.onnx", [8]],
                                     ["corridor_branches.onnx", [8, 2]]]) {
          const policy = await load(file, { seed: 3 });
          const rows = 10_000;
          const width = sizes.reduce((a, b) => a + b, 0);
          const obs = { data: Float32Array.from({ length: rows }, (_, i) => i % LENGTH),
                        dims: [rows] };
          let legal = 0;
          for (let call = 0; call < 10; call++) {
            const masks = randomMasks(random, rows, sizes);
            const actions = await policy.act(obs, { deterministic: false,
              actionMask: { data: masks, dims: [rows, width] } });
            for (let i = 0; i < rows; i++) {
              const action = /** @type {number | number[]} */ (actions[i]);
              let start = i * width;
              (Array.isArray(action) ? action : [action]).forEach((a, branch) => {
                assert.equal(masks[start + a], 1, `${file}: row ${i} took masked ${a}`);
                start += sizes[branch];
              });
              legal += 1;
            }
          }
          assert.equal(legal, 100_000);
        }
      });

    test("an episode passes its masks through: greedy Corridor-v0 solved, legal steps only",
      async () => {
        for (const branches of [false, true]) {
          const policy = await load(branches ? "corridor_branches.onnx" : "corridor.onnx");
          const env = new Corridor({ seed: 0, branches });
          const episode = policy.episode();
          for (let i = 0; i < 20; i++) {
            let observation = env.reset();
            const start = env.cell;
            let steps = 0;
            for (;;) {
              const mask = env.actionMask();
              const action = await episode.act(observation, { actionMask: mask });
              const move = Array.isArray(action) ? action[0] : action;
              assert.equal(mask[/** @type {number} */ (move)], 1);
              const step = env.step(/** @type {number | number[]} */ (action));
              steps += 1;
              if (step.terminated || step.truncated) {
                assert.ok(step.terminated);
                break;
              }
              observation = step.observation;
            }
            assert.equal(steps, LENGTH - 1 - start);  // forward every step
          }
        }
      });
  });
}

test("sampling never picks an action of probability 0, at u = 0 or at a cdf step", () => {
  // cdf 0, 0.25, 0.25, 1 (actions 0 and 2 masked): u = 0 reaches entry 0 (action 0's),
  // u = 0.25 entries 1 and 2.
  const probs = Float32Array.of(0, 0.25, 0, 0.75);
  const draws = [0, 0.25, 0.2499, 0.9999999];
  const uniform = () => /** @type {number} */ (draws.shift());
  assert.deepEqual(sampleCategorical(Float32Array.of(...probs, ...probs, ...probs, ...probs),
    4, uniform), [1, 3, 1, 3]);
  const branches = Float32Array.of(0, 1, 0, 0, 1);  // [3, 2]: action 1, then action 1
  assert.deepEqual(sampleMultiCategorical(branches, [3, 2], () => 0), [[1, 1]]);
});
