#!/usr/bin/env node
// Latency of policy.act for one observation, as bench/js_latency.py runs it beside Python's:
//
//     node serve/js/bench/act_latency.mjs POLICY.onnx [CALLS] [RUNTIME]
//     node serve/js/bench/act_latency.mjs POLICY.onnx --blocks [RUNTIME]
//
// RUNTIME: node (onnxruntime-node, default) or web (onnxruntime-web's WebAssembly, in Node).
// The observations are the policy's own env's, one per call, as an app would pass them.
// With CALLS: CALLS timed calls after a warm-up; prints one JSON line: p50_us, p99_us, calls,
// runtime. With --blocks: warms up, prints {"ready": true}, then answers each line of stdin,
// a number N, with N timed calls as one JSON line {"times_us": [...]}, so that a caller can
// alternate blocks of calls with another runtime's (a slow moment of the machine then hits
// both).

import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";

const [path, callsText = "20000", runtime = "node"] = process.argv.slice(2);
const api = await import(runtime === "web" ? "../src/browser.js" : "../src/node.js");
if (runtime === "web") api.ort.env.wasm.numThreads = 1;
const policy = await api.loadPolicy(runtime === "web" ? await readFile(path) : path);
const observations = Array.from({ length: 64 }, (_, i) => Float32Array.from(
  policy.observationShape.length ? { length: policy.observationShape[0] } : [0],
  (_, j) => Math.sin(i + j) * 0.05));
for (let i = 0; i < 2000; i++) await policy.act(observations[i % 64]);  // warm-up
let next = 0;  // the observation of the next call: blocks go on where the last one ended

/**
 * Microseconds of `calls` calls of policy.act.
 * @param {number} calls
 */
async function timed(calls) {
  const times = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const obs = observations[next++ % 64];
    const start = process.hrtime.bigint();
    await policy.act(obs);
    times[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  return times;
}

if (callsText === "--blocks") {
  console.log(JSON.stringify({ ready: true }));
  for await (const line of createInterface({ input: process.stdin })) {
    const times = await timed(Number(line));
    console.log(JSON.stringify({ times_us: Array.from(times) }));
  }
} else {
  const calls = Number(callsText);
  const times = (await timed(calls)).sort();
  const percentile = (/** @type {number} */ q) => times[Math.min(calls - 1,
    Math.floor(q * calls))];
  console.log(JSON.stringify({ runtime, calls, p50_us: percentile(0.5),
                               p99_us: percentile(0.99) }));
}
