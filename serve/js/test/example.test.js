// The Node example of docs/javascript.md: a trained CartPole policy plays the JavaScript CartPole.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { fixturePath } from "./fixtures.js";

const EXAMPLE = fileURLToPath(new URL("../examples/cartpole.mjs", import.meta.url));

/** @param {string[]} args @returns {Promise<{stdout: string, stderr: string, code?: number}>} */
function run(...args) {
  return promisify(execFile)(process.execPath, [EXAMPLE, ...args]).catch((error) => error);
}

test("the trained policy scores the maximum, 500, in every greedy episode", async () => {
  const { stdout } = await run(fixturePath("cartpole.onnx"), "3");
  assert.match(stdout, /^CartPole-v1: mean return 500\.0 over 3 episodes \(greedy\); 1500 steps/);
});

test("a policy of another env, or no policy, is a one-line error", async () => {
  const other = await run(fixturePath("acrobot.onnx"));
  assert.equal(other.code, 2);
  assert.equal(other.stderr, `error: ${fixturePath("acrobot.onnx")} was trained on `
    + "Acrobot-v1, not CartPole-v1\n");
  const usage = await run();
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^usage: node cartpole\.mjs POLICY\.onnx/);
});
