/**
 * Drawing actions from a policy's outputs: serve/sampling.py in JavaScript (pure functions on
 * flat row-major arrays).
 * @module
 */

/**
 * Row-wise softmax of logits [B, n].
 * @param {Float32Array} logits
 * @param {number} n actions per row
 * @returns {Float32Array}
 */
export function softmax(logits, n) {
  const probs = new Float32Array(logits.length);
  for (let row = 0; row < logits.length; row += n) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, logits[row + j]);
    let sum = 0;
    for (let j = 0; j < n; j++) sum += (probs[row + j] = Math.exp(logits[row + j] - max));
    for (let j = 0; j < n; j++) probs[row + j] /= sum;
  }
  return probs;
}

/**
 * Inverse-CDF sampling: one action per row of probs [B, n], from uniform draws in [0, 1):
 * the number of entries of the row's normalized cumulative sum (float64) below the draw,
 * at most n - 1.
 * @param {Float32Array} probs
 * @param {number} n actions per row
 * @param {() => number} uniform
 * @returns {number[]}
 */
export function sampleCategorical(probs, n, uniform) {
  const actions = [];
  const cdf = new Float64Array(n);
  for (let row = 0; row < probs.length; row += n) {
    let total = 0;
    for (let j = 0; j < n; j++) cdf[j] = total += probs[row + j];
    const u = uniform();
    let action = 0;
    while (action < n - 1 && u > cdf[action] / total) action++;
    actions.push(action);
  }
  return actions;
}

/**
 * mean + std * N(0, 1), clipped to [low, high]: float32 [B, d].
 * @param {Float32Array} mean [B, d]
 * @param {Float32Array} std [B, d]
 * @param {() => number} normal
 * @param {Float32Array} low [d]
 * @param {Float32Array} high [d]
 * @returns {Float32Array}
 */
export function sampleGaussian(mean, std, normal, low, high) {
  const d = low.length;
  const actions = new Float32Array(mean.length);
  for (let i = 0; i < mean.length; i++) {
    const value = mean[i] + std[i] * normal();
    actions[i] = Math.min(Math.max(value, low[i % d]), high[i % d]);
  }
  return actions;
}

/**
 * The mean clipped to [low, high] (the greedy action of a Gaussian policy).
 * @param {Float32Array} mean [B, d]
 * @param {Float32Array} low [d]
 * @param {Float32Array} high [d]
 * @returns {Float32Array}
 */
export function clip(mean, low, high) {
  const d = low.length;
  return mean.map((value, i) => Math.min(Math.max(value, low[i % d]), high[i % d]));
}
