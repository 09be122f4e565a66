"""The article's REINFORCE loop (Yoon 2018) ported to Keras 3 as a user would: the baseline.

One environment, an eager model call per step, np.random.choice sampling, one update per
episode with GradientTape, gamma 0.9, Adam 3e-4, one hidden layer of 128. The article's
errata are fixed (the step loop ends at the end of an episode and advances the state; the
normalization has an epsilon; gymnasium's terminated/truncated API) so that it measures the
loop's speed, not its bugs.
"""

from __future__ import annotations

import time

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf


def run_seed_baseline(env_id: str, wall_budget_s: float, seed: int = 0) -> dict:
    """Train for `wall_budget_s` seconds; returns env steps, episodes and steps/s."""
    keras.utils.set_random_seed(seed)
    env = gym.make(env_id)
    n_actions = int(env.action_space.n)
    model = keras.Sequential([
        keras.Input(env.observation_space.shape),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(n_actions, activation="softmax"),
    ])
    optimizer = keras.optimizers.Adam(3e-4)
    gamma, steps, episodes, returns = 0.9, 0, 0, []
    start = time.perf_counter()
    state, _ = env.reset(seed=seed)
    while time.perf_counter() - start < wall_budget_s:
        states, actions, rewards = [], [], []
        done = False
        while not done:
            probs = model(state[None].astype(np.float32)).numpy()[0]
            action = np.random.choice(n_actions, p=probs / probs.sum())
            new_state, reward, terminated, truncated, _ = env.step(action)
            states.append(state)
            actions.append(action)
            rewards.append(reward)
            state, done = new_state, terminated or truncated
        discounted = np.zeros(len(rewards))
        running = 0.0
        for t in reversed(range(len(rewards))):
            running = rewards[t] + gamma * running
            discounted[t] = running
        discounted = (discounted - discounted.mean()) / (discounted.std() + 1e-9)
        with tf.GradientTape() as tape:
            probs = model(np.array(states, dtype=np.float32))
            taken = tf.gather(probs, actions, axis=1, batch_dims=1)
            loss = -tf.reduce_sum(tf.math.log(taken) * discounted)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        steps += len(rewards)
        episodes += 1
        returns.append(sum(rewards))
        state, _ = env.reset()
    wall = time.perf_counter() - start
    return {"env_steps": steps, "episodes": episodes, "wall_s": round(wall, 3),
            "steps_per_s": round(steps / wall, 1),
            "last_100_mean_return": float(np.mean(returns[-100:]))}
