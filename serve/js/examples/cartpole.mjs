#!/usr/bin/env node
// A keras-pg CartPole policy playing a JavaScript CartPole-v1 in Node, one act() per step.
//
//     node serve/js/examples/cartpole.mjs runs/cartpole/policy.onnx [episodes] [--stochastic]
//
// prints the mean return (500 is the most an episode can score) and the time per step.

import { loadPolicy } from "keras-pg-policy";
import { CartPole } from "keras-pg-policy/envs";

const args = process.argv.slice(2);
const stochastic = args.includes("--stochastic");
const [path, episodesText = "10"] = args.filter((a) => a !== "--stochastic");
const episodes = Number(episodesText);
if (!path || !Number.isInteger(episodes) || episodes < 1) {
  console.error("usage: node cartpole.mjs POLICY.onnx [EPISODES] [--stochastic]");
  process.exit(2);
}

try {
  const policy = await loadPolicy(path, { seed: 0 });
  if (policy.metadata.env_id !== CartPole.id) {
    throw new Error(`${path} was trained on ${policy.metadata.env_id}, not ${CartPole.id}`);
  }
  const env = new CartPole({ seed: 0, maxEpisodeSteps: policy.metadata.max_episode_steps });
  const returns = [];
  let steps = 0;
  const start = performance.now();
  for (let episode = 0; episode < episodes; episode++) {
    let observation = env.reset();
    let total = 0;
    for (;;) {
      const action = await policy.act(observation, { deterministic: !stochastic });
      const step = env.step(action);
      observation = step.observation;
      total += step.reward;
      steps += 1;
      if (step.terminated || step.truncated) break;
    }
    returns.push(total);
  }
  const seconds = (performance.now() - start) / 1000;
  const mean = returns.reduce((a, b) => a + b, 0) / episodes;
  console.log(`${CartPole.id}: mean return ${mean.toFixed(1)} over ${episodes} episodes `
    + `(${stochastic ? "sampled" : "greedy"}); ${steps} steps, `
    + `${((seconds / steps) * 1e6).toFixed(1)} µs per step`);
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : error}`);
  process.exit(2);
}
