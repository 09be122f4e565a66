#!/usr/bin/env node
// Latency of policy.act for one observation, as bench/js_latency.py runs it beside Python's:
//
//     node serve/js/bench/act_latency.mjs POLICY.onnx [CALLS] [RUNTIME]
//
// RUNTIME: node (onnxruntime-node, default) or web (onnxruntime-web's WebAssembly, in Node).
// The observations are the policy's own env's, one per call, as an app would pass them.
// Prints one JSON line: p50_us, p99_us, calls, runtime.

import { readFile } from "node:fs/promises";

const [path, callsText = "20000", runtime = "node"] = process.argv.slice(2);
const calls = Number(callsText);
const api = await import(runtime === "web" ? "../src/browser.js" : "../src/node.js");
if (runtime === "web") api.ort.env.wasm.numThreads = 1;
const policy = await api.loadPolicy(runtime === "web" ? await readFile(path) : path);
const observations = Array.from({ length: 64 }, (_, i) => Float32Array.from(
  policy.observationShape.length ? { length: policy.observationShape[0] } : [0],
  (_, j) => Math.sin(i + j) * 0.05));
for (let i = 0; i < 2000; i++) await policy.act(observations[i % 64]);  // warm-up
const times = new Float64Array(calls);
for (let i = 0; i < calls; i++) {
  const start = process.hrtime.bigint();
  await policy.act(observations[i % 64]);
  times[i] = Number(process.hrtime.bigint() - start) / 1000;
}
times.sort();
const percentile = (/** @type {number} */ q) => times[Math.min(calls - 1, Math.floor(q * calls))];
console.log(JSON.stringify({ runtime, calls, p50_us: percentile(0.5), p99_us: percentile(0.99) }));
