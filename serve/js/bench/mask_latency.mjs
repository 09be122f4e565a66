#!/usr/bin/env node
// Latency of policy.act for one observation with an action mask beside the same call without
// one (the policy then feeds all true), on a policy whose graph takes a mask:
//
//     node serve/js/bench/mask_latency.mjs [POLICY.onnx] [CALLS] [RUNTIME]
//
// POLICY: default test/fixtures/corridor.onnx; RUNTIME: node (onnxruntime-node, default) or
// web (onnxruntime-web's WebAssembly, in Node). After a warm-up, blocks of 250 calls alternate
// between the two (a slow moment of the machine then hits both) until each has CALLS (default
// 20000); the masks are the legal actions of 64 random states, as an env gives them, one per
// call, a flat array of 0/1 (the form of gymnasium's info["action_mask"]). Prints one JSON
// line: p50 and p99 of each in microseconds, and the ratios masked / unmasked.

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import { Random } from "../src/random.js";

const DEFAULT = fileURLToPath(new URL("../test/fixtures/corridor.onnx", import.meta.url));
const [given, callsText = "20000", runtime = "node"] = process.argv.slice(2);
const path = given || DEFAULT;
const api = await import(runtime === "web" ? "../src/browser.js" : "../src/node.js");
if (runtime === "web") api.ort.env.wasm.numThreads = 1;
const policy = await api.loadPolicy(runtime === "web" ? await readFile(path) : path);
const size = policy.maskSize;
if (size === null) throw new Error(`${path} takes no action mask`);
const branches = policy.actionSpace.nvec ?? [size];
const random = new Random(0);
const observations = Array.from({ length: 64 }, (_, i) => (policy.observationShape.length
  ? Float32Array.from({ length: policy.observationShape[0] }, (_, j) => Math.sin(i + j) * 0.05)
  : i % Number(policy.metadata.observation_space?.n ?? 1)));
const masks = observations.map(() => branches.flatMap((/** @type {number} */ n) => {
  const bits = Array.from({ length: n }, () => (random.uniform() < 0.5 ? 1 : 0));
  bits[Math.floor(random.uniform() * n)] = 1;
  return bits;
}));

/**
 * Microseconds of `calls` calls of policy.act, from observation `from` on.
 * @param {number} calls
 * @param {number} from
 * @param {boolean} masked
 */
async function timed(calls, from, masked) {
  const times = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const k = (from + i) % 64;
    const options = masked ? { actionMask: masks[k] } : {};
    const start = process.hrtime.bigint();
    await policy.act(observations[k], options);
    times[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  return times;
}

await timed(2000, 0, false);  // warm-up
await timed(2000, 0, true);
const calls = Number(callsText);
/** @type {{unmasked: number[], masked: number[]}} */
const all = { unmasked: [], masked: [] };
for (let done = 0; done < calls; done += 250) {
  all.unmasked.push(...await timed(250, done, false));
  all.masked.push(...await timed(250, done, true));
}
/** @param {number[]} times @param {number} q */
const percentile = (times, q) => [...times].sort((a, b) => a - b)[Math.min(times.length - 1,
  Math.floor(q * times.length))];
const [p50, p99] = [0.5, 0.99].map((q) => [percentile(all.unmasked, q),
  percentile(all.masked, q)]);
console.log(JSON.stringify({
  runtime, policy: path, calls,
  unmasked_p50_us: p50[0], masked_p50_us: p50[1], ratio_p50: p50[1] / p50[0],
  unmasked_p99_us: p99[0], masked_p99_us: p99[1], ratio_p99: p99[1] / p99[0],
}));
