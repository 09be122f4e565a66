// A recurrent policy -- test/fixtures/cue.onnx, a GRU of state_size 16 solving
// tests/memory_env.py's Cue-v0 -- against Python's serve.OnnxPolicy over whole episodes
// (test/fixtures/parity.json's "cue"), on onnxruntime-node and onnxruntime-web: each step's
// outputs, greedy action and next state within 1e-6 while the JavaScript policy carries its
// own state, episodes in lockstep (a state per row), `episode()`, sampled actions from a
// carried state; then `episode()` solving a JavaScript port of Cue-v0. Python's messages for
// a missing or misshapen state are in messages.test.js.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { UNEXPECTED, loadPolicy } from "../src/node.js";
import { Cue } from "./cue.js";
import { RUNTIMES, fixturePath, maxDelta, readFixture } from "./fixtures.js";

const CUE = readFixture("parity.json").cue;
const EPISODES = /** @type {any[]} */ (CUE.episodes);
const TOLERANCE = 1e-6;

/**
 * Every output of Python's within TOLERANCE of ours (the same names).
 * @param {Record<string, any>} ours
 * @param {Record<string, any>} python
 * @param {string} where
 */
function assertOutputs(ours, python, where) {
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(python).sort(), where);
  for (const [name, values] of Object.entries(python)) {
    assert.ok(maxDelta(ours[name], values) <= TOLERANCE, `${where}: ${name} differs`);
  }
}

/** @param {Float32Array | Float32Array[]} state */
function isZeros(state) {
  return (Array.isArray(state) ? state : [state]).every((row) => row.every((v) => v === 0));
}

for (const [runtime, load] of Object.entries(RUNTIMES)) {
  describe(runtime, () => {
    test("each episode carrying its state: Python's outputs, actions and next states", async () => {
      const policy = await load(CUE.file, CUE.options);
      assert.equal(policy.stateSize, CUE.state_size);
      for (const [e, episode] of EPISODES.entries()) {
        let state = policy.initialState();
        for (const [t, obs] of episode.observations.entries()) {
          const where = `episode ${e}, step ${t}`;
          const python = Object.fromEntries(Object.entries(episode.outputs).map(
            ([name, values]) => [name, /** @type {any[]} */ (values)[t]]));
          assertOutputs(await policy.distribution(obs, { state }), python, where);
          assert.ok(maxDelta(await policy.probs(obs, { state }), python.probs) <= TOLERANCE);
          const { action, state: next } = await policy.act(obs, { state });
          assert.equal(action, episode.greedy[t], where);
          assert.ok(next instanceof Float32Array && next.length === CUE.state_size);
          assert.ok(maxDelta(next, python.next_state) <= TOLERANCE, `${where}: next state`);
          state = /** @type {Float32Array} */ (next);  // ours, not Python's, carried
        }
      }
    });

    test("episodes in lockstep: one batch, a state per row", async () => {
      const policy = await load(CUE.file, CUE.options);
      const { observations, outputs, greedy } = CUE.lockstep;
      let state = policy.initialState(EPISODES.length);
      for (const [t, batch] of observations.entries()) {
        const python = Object.fromEntries(Object.entries(outputs).map(
          ([name, values]) => [name, /** @type {any[]} */ (values)[t]]));
        assertOutputs(await policy.distribution(batch, { state }), python, `step ${t}`);
        const { actions, distribution } = await policy.decide(batch, { state });
        assert.deepEqual(actions, greedy[t]);
        assert.ok(maxDelta(distribution.next_state, python.next_state) <= TOLERANCE);
        // the state as one flat tensor answers the same
        const flat = { data: Float32Array.from(state.flatMap((row) => [...row])),
                       dims: [state.length, CUE.state_size] };
        assert.deepEqual((await policy.act(batch, { state: flat })).action, greedy[t]);
        const { action, state: next } = await policy.act(batch, { state });
        assert.deepEqual(action, greedy[t]);
        assert.ok(Array.isArray(next) && next.length === EPISODES.length);
        assert.ok(maxDelta(next, python.next_state) <= TOLERANCE);
        state = /** @type {Float32Array[]} */ (next);
      }
    });

    test("episode() carries the state for the caller; reset() starts again", async () => {
      const policy = await load(CUE.file, CUE.options);
      const episode = policy.episode();
      for (const { observations, greedy } of [...EPISODES, ...EPISODES]) {
        episode.reset();
        assert.ok(isZeros(/** @type {Float32Array} */ (episode.state)));
        const actions = [];
        for (const obs of observations) actions.push(await episode.act(obs));
        assert.deepEqual(actions, greedy);
      }
      const lockstep = policy.episode({ batch: EPISODES.length });
      for (const [t, batch] of CUE.lockstep.observations.entries()) {
        assert.deepEqual(await lockstep.act(batch), CUE.lockstep.greedy[t]);
        assert.ok(maxDelta(lockstep.state, CUE.lockstep.outputs.next_state[t]) <= TOLERANCE);
      }
      const before = /** @type {Float32Array[]} */ (lockstep.state);
      lockstep.reset([1, 3]);
      const rows = /** @type {Float32Array[]} */ (lockstep.state);
      assert.deepEqual(rows.map((row) => isZeros(row)), [false, true, false, true]);
      assert.equal(rows[0], before[0]);
      assert.ok(!isZeros(before[1]));  // the rows act returned are left as they were
      lockstep.reset([true, false, false, false]);
      assert.ok(isZeros(/** @type {Float32Array[]} */ (lockstep.state)[0]));
      assert.throws(() => lockstep.reset([4]), /4 is not an episode of this batch of 4/);
      assert.throws(() => policy.episode().reset([0]), /restarts episodes of a batch/);
    });

    test("sampled actions from a carried state follow Python's distribution", async () => {
      const policy = await load(CUE.file, { ...CUE.options, seed: 0 });
      const { episode, step, samples, probs, frequencies } = CUE.sampled;
      const { observations, outputs } = EPISODES[episode];
      const batch = Array(samples).fill(observations[step]);
      const state = Array(samples).fill(Float32Array.from(outputs.next_state[step - 1]));
      const { action, state: next } = await policy.act(batch, { state,
                                                                deterministic: false });
      const ours = [0, 1].map((a) => /** @type {number[]} */ (action)
        .filter((x) => x === a).length / samples);
      probs.forEach((/** @type {number} */ p, /** @type {number} */ i) => {
        const sd = Math.sqrt((p * (1 - p)) / samples);
        assert.ok(Math.abs(ours[i] - p) <= 5 * sd + 1e-9, `${ours[i]} [${i}], p = ${p}`);
        assert.ok(Math.abs(ours[i] - frequencies[i]) <= 5 * Math.SQRT2 * sd + 1e-9);
      });
      // sampling picks the action; the next state is the step's, whichever is drawn
      const python = outputs.next_state[step];
      assert.ok(/** @type {Float32Array[]} */ (next).every(
        (row) => maxDelta(row, python) <= TOLERANCE));
    });

    test("calls in flight at once each carry their own state", async () => {
      const policy = await load(CUE.file, CUE.options);
      let states = EPISODES.map(() => policy.initialState());
      for (let t = 0; t < EPISODES[0].observations.length; t++) {
        const answers = await Promise.all(EPISODES.map(({ observations }, e) =>
          policy.act(observations[t], { state: states[e] })));
        assert.deepEqual(answers.map((a) => a.action), EPISODES.map((e) => e.greedy[t]));
        answers.forEach(({ state }, e) => assert.ok(
          maxDelta(state, EPISODES[e].outputs.next_state[t]) <= TOLERANCE));
        states = answers.map((a) => /** @type {Float32Array} */ (a.state));
      }
    });
  });
}

test("the JavaScript Cue-v0 makes Python's episodes from their cues and actions", () => {
  const env = new Cue();
  for (const { observations, greedy, rewards } of EPISODES) {
    assert.deepEqual([...env.reset(observations[0][0] > 0 ? 1 : 0)], observations[0]);
    greedy.forEach((/** @type {number} */ action, /** @type {number} */ t) => {
      const { observation, reward, terminated } = env.step(action);
      assert.equal(reward, rewards[t]);
      assert.equal(terminated, t === greedy.length - 1);
      if (!terminated) assert.deepEqual([...observation], observations[t + 1]);
    });
  }
  const cues = EPISODES.map(({ observations }) => observations[0][0]);
  assert.ok(cues.includes(1) && cues.includes(-1));  // both sides remembered
});

test("episode() solves Cue-v0: every greedy episode answers its cue", async () => {
  const policy = await loadPolicy(fixturePath(CUE.file));
  const env = new Cue({ seed: 0 });
  const episode = policy.episode();
  const returns = [];
  const cues = new Set();
  for (let i = 0; i < 100; i++) {
    episode.reset();
    let observation = env.reset();
    cues.add(env.cue);
    let total = 0;
    for (;;) {
      const step = env.step(/** @type {number} */ (await episode.act(observation)));
      total += step.reward;
      if (step.terminated || step.truncated) break;
      observation = step.observation;
    }
    returns.push(total);
  }
  assert.deepEqual(returns, Array(100).fill(1));
  assert.equal(cues.size, 2);
  // In lockstep, the episodes that end restarted by reset(rows).
  const envs = Array.from({ length: 8 }, (_, i) => new Cue({ seed: 100 + i }));
  const lockstep = policy.episode({ batch: envs.length });
  let observations = envs.map((e) => e.reset());
  let total = 0;
  for (let step = 0; step < 3 * 5; step++) {
    const actions = /** @type {number[]} */ (await lockstep.act(observations));
    const steps = envs.map((e, i) => e.step(actions[i]));
    total += steps.reduce((sum, s) => sum + s.reward, 0);
    const done = steps.map((s) => s.terminated || s.truncated);
    lockstep.reset(done);
    observations = steps.map((s, i) => (done[i] ? envs[i].reset() : s.observation));
  }
  assert.equal(total, 3 * envs.length);
});

test("a feed-forward policy: stateSize null, no initial state, episode() is act", async () => {
  const policy = await loadPolicy(fixturePath("cartpole.onnx"));
  const { observations, greedy } = readFixture("parity.json").cartpole;
  assert.equal(policy.stateSize, null);
  assert.throws(() => policy.initialState(), { message: UNEXPECTED });
  const episode = policy.episode();
  assert.equal(episode.state, null);
  assert.equal(await episode.act(observations[0]), greedy[0]);
  episode.reset();
  const cue = await loadPolicy(fixturePath(CUE.file));
  assert.equal(cue.metadata.recurrent.cell, "gru");
  const zeros = cue.initialState(3);
  assert.ok(zeros.length === 3 && zeros.every((row) => row instanceof Float32Array
    && row.length === 16 && isZeros(row)));
  assert.ok(cue.initialState() instanceof Float32Array);
  assert.throws(() => cue.initialState(-1), /batch must be a number of episodes/);
});
