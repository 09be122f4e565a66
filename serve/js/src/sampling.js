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
 * The index of each row's largest entry (the first of ties, as numpy's argmax).
 * @param {Float32Array} values [B, n]
 * @param {number} n
 */
export function argmax(values, n) {
  const result = [];
  for (let row = 0; row < values.length; row += n) {
    let best = 0;
    for (let j = 1; j < n; j++) if (values[row + j] > values[row + best]) best = j;
    result.push(best);
  }
  return result;
}

/**
 * Inverse-CDF sampling: one action per row of probs [B, n], from uniform draws in [0, 1);
 * never an action of probability 0.
 * @param {Float32Array} probs
 * @param {number} n actions per row
 * @param {() => number} uniform
 * @returns {number[]}
 */
export function sampleCategorical(probs, n, uniform) {
  const actions = [];
  for (let row = 0; row < probs.length; row += n) {
    actions.push(inverseCdf(probs, row, n, uniform()));
  }
  return actions;
}

/**
 * One action per branch: a row [k] of actions for each row of probs [B, sum(nvec)], whose
 * branches' probabilities are side by side in the order of nvec; k uniform draws per row,
 * in that order (inverse-CDF sampling per branch).
 * @param {Float32Array} probs
 * @param {readonly number[]} nvec the branches' sizes
 * @param {() => number} uniform
 * @returns {number[][]}
 */
export function sampleMultiCategorical(probs, nvec, uniform) {
  const width = nvec.reduce((a, b) => a + b, 0);
  const actions = [];
  for (let row = 0; row < probs.length; row += width) {
    let start = row;
    actions.push(nvec.map((n) => {
      const action = inverseCdf(probs, start, n, uniform());
      start += n;
      return action;
    }));
  }
  return actions;
}

/**
 * Bits: a row [n] for each row of probs [B, n] (each bit's P(1)), 1 where a uniform draw in
 * [0, 1) is below the bit's P(1).
 * @param {Float32Array} probs
 * @param {number} n bits per row
 * @param {() => number} uniform
 * @returns {number[][]}
 */
export function sampleBernoulli(probs, n, uniform) {
  const actions = [];
  for (let row = 0; row < probs.length; row += n) {
    actions.push(Array.from(probs.subarray(row, row + n), (p) => (uniform() < p ? 1 : 0)));
  }
  return actions;
}

/**
 * The action a uniform draw `u` in [0, 1) picks from probs[start .. start + n): the number of
 * entries of their normalized cumulative sum (float64) at or below `u`, at most n - 1 -- as
 * serve/sampling.py counts them. An action of probability 0 (a masked one) is never picked:
 * its cdf entry equals the one before it (or is 0, the first), which `u` then reaches too;
 * counting the entries below `u` instead would pick a first action of probability 0 when
 * u = 0.
 * @param {Float32Array} probs
 * @param {number} start
 * @param {number} n
 * @param {number} u
 */
function inverseCdf(probs, start, n, u) {
  let total = 0;
  for (let j = 0; j < n; j++) total += probs[start + j];
  let cumulative = 0;
  let action = 0;
  for (; action < n - 1; action++) {  // the cdf is nondecreasing: count until it passes u
    cumulative += probs[start + action];
    if (!(u >= cumulative / total)) break;  // NaN counts as numpy's comparison does: not
  }
  return action;
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
