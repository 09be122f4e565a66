// The environment ports against gymnasium (test/fixtures/transitions.json, written by
// tests/js_transitions.py): from the same float64 state and action, the same next state,
// observation, reward and termination -- CartPole and Taxi bit for bit (Taxi's action mask
// in its info too), Acrobot (RK4) and Pendulum within 1e-6 -- and episodes that reset within
// gymnasium's bounds and truncate at its limits.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ENVS, Taxi, makeEnv } from "../src/envs/index.js";
import { actionMask } from "../src/envs/taxi.js";
import { maxDelta, readFixture } from "./fixtures.js";

const TRANSITIONS = readFixture("transitions.json");

describe("transitions equal gymnasium's", () => {
  for (const [envId, transitions] of Object.entries(TRANSITIONS)) {
    test(envId, () => {
      const env = makeEnv(envId, { seed: 0 });
      const tolerance = envId === "CartPole-v1" || envId === "Taxi-v4" ? 0 : 1e-6;
      let terminations = 0;
      for (const t of transitions) {
        env.state = [...t.state];
        env.elapsed = 0;
        const { observation, reward, terminated, truncated, info } = env.step(t.action);
        const where = `${envId} from ${JSON.stringify(t.state)} with ${JSON.stringify(t.action)}`;
        assert.ok(maxDelta(env.state, t.next_state) <= tolerance, `state: ${where}`);
        assert.ok(maxDelta(observation, t.observation) <= tolerance, `observation: ${where}`);
        assert.ok(Math.abs(reward - t.reward) <= tolerance, `reward: ${where}`);
        assert.equal(terminated, t.terminated, `terminated: ${where}`);
        assert.equal(truncated, false);
        assert.deepEqual(info.action_mask && [...info.action_mask], t.action_mask,
          `action_mask: ${where}`);
        terminations += Number(terminated);
      }
      if (envId === "CartPole-v1") {  // both outcomes well represented
        assert.ok(terminations > 20 && terminations < transitions.length - 20);
      }
      if (envId === "Taxi-v4") {  // drop-offs that end the episode, and refused ones (-10)
        assert.ok(terminations > 0);
        assert.ok(transitions.some((/** @type {any} */ t) => t.reward === -10));
      }
    });
  }
});

describe("episodes", () => {
  test("reset within gymnasium's bounds, float32 observations", () => {
    const bounds = { "CartPole-v1": [0.05, 0.05, 0.05, 0.05], "Acrobot-v1": [0.1, 0.1, 0.1, 0.1],
                     "Pendulum-v1": [Math.PI, 1] };
    for (const [envId, high] of Object.entries(bounds)) {
      const env = makeEnv(envId, { seed: 1 });
      for (let i = 0; i < 50; i++) {
        assert.ok(env.reset() instanceof Float32Array);
        env.state.forEach((v, j) => assert.ok(Math.abs(v) <= high[j], `${envId} ${v}`));
        assert.deepEqual(env.info, {});
      }
    }
  });

  test("Taxi-v4 starts with the passenger waiting away from the destination, its mask in info",
    () => {
      const env = makeEnv("Taxi-v4", { seed: 1 });
      const starts = new Set();
      for (let i = 0; i < 2000; i++) {
        const observation = env.reset();
        const [row, col, passenger, destination] = Taxi.decode(observation);
        assert.ok(passenger < 4 && passenger !== destination && row < 5 && col < 5);
        assert.deepEqual(env.info, { prob: 1.0, action_mask: actionMask(observation) });
        starts.add(observation);
      }
      assert.equal(starts.size, 300);  // gymnasium's 300 starting states, all reached
      // the corner R (0, 0), the passenger there: south, east (no wall), pickup
      assert.deepEqual([...actionMask(Taxi.encode(0, 0, 0, 1))], [1, 0, 1, 0, 1, 0]);
      // (4, 3) B, a wall to the west, the passenger in the taxi: north, east, drop-off
      assert.deepEqual([...actionMask(Taxi.encode(4, 3, 4, 0))], [0, 1, 1, 0, 0, 1]);
    });

  test("truncate at the registered time limit, or the one given", () => {
    for (const [envId, Env] of Object.entries(ENVS)) {
      for (const limit of [undefined, 7]) {
        const env = makeEnv(envId, { seed: 0, maxEpisodeSteps: limit });
        env.reset();
        let steps = 0;
        let done = false;
        while (!done) {
          env.state = env.initialState();  // keep it from terminating first
          const result = env.step(envId === "Pendulum-v1" ? [0] : 0);  // Taxi: south
          steps += 1;
          done = result.terminated || result.truncated;
          assert.equal(result.truncated, steps === (limit ?? Env.maxEpisodeSteps));
        }
        assert.equal(steps, limit ?? Env.maxEpisodeSteps);
      }
    }
  });

  test("the same seed gives the same episode", () => {
    const first = makeEnv("Acrobot-v1", { seed: 3 }).reset();
    assert.deepEqual(makeEnv("Acrobot-v1", { seed: 3 }).reset(), first);
    assert.notDeepEqual(makeEnv("Acrobot-v1", { seed: 4 }).reset(), first);
  });

  test("kwargs the port takes, and one-line errors for the rest", () => {
    const pendulum = makeEnv("Pendulum-v1", { kwargs: { g: 9.81 } });
    assert.equal(pendulum.kwargs.g, 9.81);
    assert.throws(() => makeEnv("CartPole-v1", { kwargs: { sutton_barto_reward: true } }), {
      message: "the JavaScript port of CartPole-v1 does not take the env kwarg "
        + "'sutton_barto_reward' (it takes none)" });
    assert.throws(() => makeEnv("Pendulum-v1", { kwargs: { G: 1 } }), {
      message: "the JavaScript port of Pendulum-v1 does not take the env kwarg 'G' (it takes g)" });
    assert.throws(() => makeEnv("Pendulum-v1", { kwargs: { g: "9.8" } }),
      { message: 'the env kwarg g of Pendulum-v1 must be a number, got "9.8"' });
    assert.throws(() => makeEnv("LunarLander-v3"), {
      message: "no JavaScript port of LunarLander-v3; the ports are CartPole-v1, Acrobot-v1, "
        + "Pendulum-v1, Taxi-v4" });
    assert.throws(() => makeEnv("Taxi-v4", { kwargs: { is_rainy: true } }), {
      message: "the JavaScript port of Taxi-v4 does not take the env kwarg 'is_rainy' (it "
        + "takes none)" });
  });
});
