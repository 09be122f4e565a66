// Bad input gets the text of Python's message (test/fixtures/messages.json): files that are
// missing, not ONNX, without keras-pg metadata or with forged metadata (recurrent ones whose
// state disagrees with it too), load options, observations of the wrong shape, NaN, or out
// of a uint8's range, a recurrent policy's state missing, misshapen or NaN, and action masks
// of the wrong shape or values, with no legal action, or given to a policy that takes none.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { PolicyLoadError } from "../src/node.js";
import { RUNTIMES, decodeObs, fixturePath, readFixture } from "./fixtures.js";

const CASES = readFixture("messages.json");

/**
 * @param {(file: string, options?: object) => Promise<any>} load
 * @param {any} testCase
 */
async function attempt(load, testCase) {
  const policy = await load(testCase.file, testCase.options);
  const obs = decodeObs(testCase.obs);
  // No "state" ("action_mask") key: none passed (Python's default, None).
  const given = {
    ...Object.hasOwn(testCase, "state") ? { state: decodeObs(testCase.state) } : {},
    ...Object.hasOwn(testCase, "action_mask")
      ? { actionMask: decodeObs(testCase.action_mask) } : {},
  };
  const calls = {
    act: () => policy.act(obs, given),
    probs: () => policy.probs(obs, given),
    distribution: () => policy.distribution(obs, given),
    decide: () => policy.decide(obs, given),
    sample: () => policy.act(obs, { ...given, deterministic: false }),
    initial_state: () => policy.initialState(),
  };
  if (testCase.call !== "load") await calls[/** @type {keyof calls} */ (testCase.call)]();
}

for (const [runtime, load] of Object.entries(RUNTIMES)) {
  describe(runtime, () => {
    for (const testCase of CASES) {
      if (runtime === "onnxruntime-web" && testCase.file === "missing.onnx") continue;  // bytes
      const what = `${testCase.call} ${testCase.file} ${JSON.stringify(testCase.options)} `
        + `${JSON.stringify(testCase.obs ?? "").slice(0, 40)}`
        + (Object.hasOwn(testCase, "state") ? ` state ${JSON.stringify(testCase.state)
          .slice(0, 40)}` : "")
        + (Object.hasOwn(testCase, "action_mask") ? ` action_mask ${JSON.stringify(
          testCase.action_mask).slice(0, 40)}` : "");
      test(what, async () => {
        const expected = testCase.message.replaceAll("{path}", fixturePath(testCase.file));
        await assert.rejects(attempt(load, testCase), (/** @type {Error} */ error) => {
          if (testCase.match === "prefix") {
            assert.ok(error.message.startsWith(expected), error.message);
          } else {
            assert.equal(error.message, expected);
          }
          assert.equal(error instanceof PolicyLoadError || error.name === "PolicyLoadError",
            testCase.call === "load");
          return true;
        });
      });
    }
  });
}
