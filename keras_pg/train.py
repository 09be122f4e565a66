"""The training loop: collect episodes -> returns -> compiled update -> log -> checkpoint."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_pg import run_dir as rd
from keras_pg.config import Config
from keras_pg.envs import make_vector_env, reward_threshold
from keras_pg.evaluate import evaluate_policy
from keras_pg.graph_envs import make_graph_env
from keras_pg.graph_rollout import make_graph_iteration
from keras_pg.plots import plot_learning_curve
from keras_pg.policy import (
    build_policy,
    build_value,
    make_act_fn,
    make_head,
    observation_normalizer,
)
from keras_pg.progress import Reporter, Status
from keras_pg.returns import explained_variance, normalize
from keras_pg.rollout import Batch, collect_episodes
from keras_pg.seeding import ACTION_STREAM, EVAL_STREAM, TRAIN_STREAM, derived_seed
from keras_pg.signals import Interrupted
from keras_pg.update import UpdateMetrics, UpdateStep


@dataclass
class Progress:
    """The counters of a run; saved in the checkpoint."""

    updates: int = 0
    episodes: int = 0
    env_steps: int = 0
    train_wall_s: float = 0.0
    first_iteration_s: float = 0.0
    """Wall time of the first iteration, which includes tracing and XLA compilation."""
    solved: bool = False
    finished: bool = False


class Trainer:
    """A REINFORCE run of `config` in `run_dir`: the model, optimizer, env and logs."""

    def __init__(self, config: Config, run_dir: Path, reporter: Reporter):
        self.config = config
        self.run_dir = Path(run_dir)
        self.reporter = reporter
        keras.utils.set_random_seed(config.seed)
        if config.backend == "graph":
            self.env, self.graph_env = None, make_graph_env(config.env_id)
            obs_space, action_space = (self.graph_env.observation_space,
                                       self.graph_env.action_space)
        else:
            self.env = make_vector_env(config.env_id, config.num_envs)
            obs_space = self.env.single_observation_space
            action_space = self.env.single_action_space
        self.head = make_head(action_space)
        self.model = build_policy(obs_space, action_space, config.hidden, config.normalize_obs,
                                  config.initial_log_std)
        self.normalizer = observation_normalizer(self.model)
        self.value = (build_value(obs_space, config.hidden, self.model)
                      if config.baseline == "value" else None)
        self.optimizers = [keras.optimizers.Adam(config.lr)]
        if self.value is not None:
            self.optimizers.append(keras.optimizers.Adam(config.value_lr))
            self.predict_value = tf.function(
                self.value, input_signature=[tf.TensorSpec(self.value.input.shape, tf.float32)])
        self.update = UpdateStep(self.model, self.head, self.optimizers[0], config.max_grad_norm,
                                 config.entropy_coef, self.value, self.optimizers[-1],
                                 config.value_epochs)
        if config.backend == "graph":
            self.iteration = make_graph_iteration(
                self.graph_env, self.head, self.update, config.num_envs, config.gamma,
                config.return_eps, self.normalizer)
        else:
            self.act = make_act_fn(self.model, self.head)
        self.target = (config.target_return if config.target_return is not None
                       else reward_threshold(config.env_id))
        self.progress = Progress()
        self.episode_rows: list[tuple] = []
        self.update_rows: list[tuple] = []

    # -- persistence -------------------------------------------------------------------------
    def save(self) -> None:
        """Write metrics, then the checkpoint (a resume truncates metrics to the checkpoint)."""
        rd.write_csv(self.run_dir / rd.METRICS, rd.EPISODE_COLUMNS, self.episode_rows)
        rd.write_csv(self.run_dir / rd.UPDATES, rd.UPDATE_COLUMNS, self.update_rows)
        arrays = {f"{name}_{i}": v.numpy() for name, variables in self._state_variables()
                  for i, v in enumerate(variables)}
        rd.save_checkpoint(self.run_dir / rd.CHECKPOINT, arrays, asdict(self.progress))
        rd.atomic_write(self.run_dir / rd.MODEL, lambda tmp: self.model.save(tmp))

    def restore(self) -> None:
        """Load the checkpoint and the metrics rows it covers."""
        arrays, state = rd.load_checkpoint(self.run_dir / rd.CHECKPOINT)
        for name, variables in self._state_variables():
            for i, v in enumerate(variables):
                v.assign(arrays[f"{name}_{i}"])
        self.progress = Progress(**state)
        self.episode_rows = rd.read_csv(self.run_dir / rd.METRICS)[: self.progress.episodes]
        self.update_rows = rd.read_csv(self.run_dir / rd.UPDATES)[: self.progress.updates]

    def _state_variables(self) -> list[tuple[str, list]]:
        """Everything a resume needs, by name: weights (normalizer statistics included) and
        optimizer state."""
        named = [("model", self.model.weights)]
        if self.value is not None:
            named.append(("value", self.value.weights))
        named += [(f"optimizer{i or ''}", opt.variables) for i, opt in enumerate(self.optimizers)]
        return named

    # -- the loop ----------------------------------------------------------------------------
    def run(self, signals: list[int], checkpoint_every_s: float = 10.0) -> None:
        """Train until solved, out of budget, or a signal; checkpoints on the way out.

        On the gymnasium backend the stopping test runs on each round's episodes before they
        are used for an update: when they complete the solve, the run ends with the weights
        that produced them. The graph backend updates inside the same compiled call.
        """
        step = self._graph_iteration if self.config.backend == "graph" else self._gym_iteration
        last_save = time.monotonic()
        try:
            while not self.progress.finished:
                step(signals)
                if not self.progress.first_iteration_s:
                    self.progress.first_iteration_s = self.progress.train_wall_s
                self._report()
                if time.monotonic() - last_save >= checkpoint_every_s:
                    self.save()
                    last_save = time.monotonic()
        except Interrupted:
            pass
        finally:
            self.save()

    def _gym_iteration(self, signals: list[int]) -> None:
        """Collect a round in the gymnasium vector env, then update unless the run is over."""
        config, p = self.config, self.progress
        start = time.perf_counter()
        batch = collect_episodes(
            self.env, self._actor(signals), config.episodes_per_update, config.gamma,
            seed=derived_seed(config.seed, TRAIN_STREAM, p.updates), to_env=self.head.to_env)
        p.train_wall_s += time.perf_counter() - start
        self._log_episodes(batch.episode_returns, batch.episode_lengths)
        if not p.finished:
            start = time.perf_counter()
            self._log_update(*self._learn(batch))
            p.train_wall_s += time.perf_counter() - start

    def _graph_iteration(self, signals: list[int]) -> None:
        """One compiled iteration of the graph backend (the update is part of it)."""
        if signals:
            raise Interrupted
        p = self.progress
        start = time.perf_counter()
        seed = tf.constant([derived_seed(self.config.seed, TRAIN_STREAM, p.updates), 0],
                           tf.int64)
        result = self.iteration(seed)
        p.train_wall_s += time.perf_counter() - start
        self._log_episodes(result.episode_returns.numpy(), result.episode_lengths.numpy())
        self._log_update(result.metrics, float(result.explained_variance))

    def _report(self) -> None:
        p = self.progress
        self.reporter.update(Status(p.episodes, p.env_steps, self.recent_mean(),
                                    self.steps_per_s()))

    def _learn(self, batch: Batch) -> tuple[UpdateMetrics, float]:
        """One update on `batch`; returns its metrics and the baseline's explained variance.

        The observation statistics absorb the batch only after the update, so the update
        sees the policy exactly as it acted.
        """
        values, explained = 0.0, math.nan
        if self.value is not None:
            values = self.predict_value(batch.obs).numpy()
            explained = explained_variance(values, batch.returns)
        advantages = normalize(batch.returns - values, self.config.return_eps)
        metrics = self.update(batch.obs, batch.actions, advantages, batch.returns)
        if self.normalizer is not None:
            self.normalizer.update(batch.obs)
        return metrics, explained

    def _actor(self, signals: list[int]):
        """The sampling policy for one round: fresh stateless seeds per step; stops on a signal."""
        round_seed = derived_seed(self.config.seed, ACTION_STREAM, self.progress.updates)
        step = iter(range(1 << 62))

        def act(obs: np.ndarray) -> np.ndarray:
            if signals:
                raise Interrupted
            seed = tf.constant([round_seed, next(step)], dtype=tf.int64)
            return self.act(tf.constant(obs, dtype=tf.float32), seed).numpy()

        return act

    def _log_episodes(self, returns: np.ndarray, lengths: np.ndarray) -> None:
        """Record a round's episodes and decide whether the run is over."""
        p, window = self.progress, self.config.solve_window
        for ret, length in zip(returns, lengths, strict=True):
            p.episodes += 1
            p.env_steps += int(length)
            self.episode_rows.append((p.episodes, p.env_steps, float(ret), int(length),
                                      round(p.train_wall_s, 4)))
        p.solved = (self.target is not None and p.episodes >= window
                    and self.recent_mean() >= self.target)
        p.finished = p.solved or p.env_steps >= self.config.max_steps

    def _log_update(self, metrics: UpdateMetrics, explained: float) -> None:
        p = self.progress
        p.updates += 1
        self.update_rows.append((p.updates, p.episodes, p.env_steps, float(metrics.loss),
                                 float(metrics.entropy), float(metrics.grad_norm),
                                 float(metrics.value_loss), explained,
                                 round(p.train_wall_s, 4)))

    def recent_mean(self) -> float:
        """Mean return of the last `solve_window` training episodes (nan before any)."""
        rows = self.episode_rows[-self.config.solve_window:]
        return float(np.mean([r[2] for r in rows])) if rows else math.nan

    def steps_per_s(self) -> float:
        return self.progress.env_steps / max(self.progress.train_wall_s, 1e-9)

    # -- the end -----------------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        """Greedy evaluation, learning curve and summary.json; returns the summary."""
        c, p = self.config, self.progress
        plot_learning_curve(self.run_dir / rd.CURVE, np.array([r[2] for r in self.episode_rows]),
                            self.target, f"REINFORCE on {c.env_id} (seed {c.seed})")
        evaluation = evaluate_policy(self.model, c.env_id, c.eval_episodes,
                                     seed=derived_seed(c.seed, EVAL_STREAM, 0),
                                     num_envs=min(c.eval_episodes, 32))
        summary = {
            "env_id": c.env_id, "seed": c.seed, "solved": p.solved, "target_return": self.target,
            "episodes": p.episodes, "updates": p.updates, "env_steps": p.env_steps,
            "train_wall_s": round(p.train_wall_s, 3), "steps_per_s": round(self.steps_per_s(), 1),
            "first_iteration_s": round(p.first_iteration_s, 3), "backend": c.backend,
            "final_mean_return": self.recent_mean(),
            "eval_mean_return": evaluation.mean_return, "eval_std_return": evaluation.std_return,
            "eval_episodes": evaluation.episodes,
            "eval_solved": self.target is not None and evaluation.mean_return >= self.target,
        }
        rd.write_json(self.run_dir / rd.SUMMARY, summary)
        return summary

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
