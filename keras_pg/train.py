"""The training loop: collect a round -> log its episodes -> update -> (evaluate) -> callbacks
-> checkpoint.

`Trainer` holds a run's state (learner, backend, counters, metrics rows) and trains in
rounds until the run is solved, the step budget is spent, a callback stops it, or
`should_stop()` turns true; it checkpoints into the run directory, if it has one, on the
way and on the way out (Ctrl-C and errors included). With `config.eval_every` it evaluates
the greedy policy every so many env steps, and such an evaluation, not the training mean,
decides solving.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from keras_pg import observations
from keras_pg.algorithm.learner import Learner, UpdateResult
from keras_pg.algorithm.update import NonFiniteLossError
from keras_pg.backends import Backend, Round, RoundInterrupted
from keras_pg.callbacks import CallbackDriver
from keras_pg.config import Config
from keras_pg.evaluate import Evaluation
from keras_pg.observations import Obs
from keras_pg.run import checkpoint
from keras_pg.run.run_dir import EpisodeRow, EvalRow, RunDir, RunDirError, UpdateRow

SOLVED, BUDGET, CALLBACK, INTERRUPTED = "solved", "max_steps", "callback", "interrupted"
OBSERVATION_SAMPLE_BYTES = 8 << 20  # observations kept for export's verification
OBSERVATION_SAMPLE_COUNT = 1000


@dataclass
class Progress:
    """The counters of a run; saved in the checkpoint."""

    updates: int = 0
    episodes: int = 0
    env_steps: int = 0
    train_wall_s: float = 0.0
    first_iteration_s: float = 0.0
    """Wall time of the first round, which includes tracing and compilation."""
    solved: bool = False
    step_budget: int = 0
    """Training stops once env_steps reaches this (rounds are whole, so it may overshoot)."""


class Trainer:
    """A REINFORCE run: `learner` updates on the rounds `backend` collects.

    Args:
        config: the run's settings.
        learner: the networks, optimizers and compiled update.
        backend: collects rounds of complete episodes (see keras_pg.backends).
        target: the solve threshold on the mean return of the last `solve_window` training
            episodes, or of an evaluation with `config.eval_every` (None: never solved, train
            to the budget).
        run_dir: where checkpoints and metrics go (None: nowhere).
        spaces: the env's spaces as JSON (spaces.json), recorded in checkpoints.
        evaluate: `evaluate(n, k)` runs the n-th greedy evaluation during training (1-based,
            k episodes, seeded by n); needed with eval_every.
    """

    def __init__(self, config: Config, learner: Learner, backend: Backend,
                 target: float | None, run_dir: Path | None, spaces: dict[str, Any],
                 evaluate: Callable[[int, int], Evaluation] | None = None) -> None:
        self.config, self.learner, self.backend = config, learner, backend
        self.target, self.spaces = target, spaces
        self.run_dir = run_dir
        self.evaluate = evaluate
        self.progress = Progress()
        self.episode_rows: list[EpisodeRow] = []
        self.update_rows: list[UpdateRow] = []
        self.eval_rows: list[EvalRow] = []
        self.observation_sample: Obs | None = None
        self.last_round: Round | None = None
        self.scheduled: dict[str, float] = {}
        """The scheduled settings' values for the latest update ("lr", "entropy_coef")."""
        self.checkpoint_id: str | None = None
        """The id of the checkpoint in run_dir this trainer loaded or last wrote."""

    # -- the loop ----------------------------------------------------------------------------
    def train(self, step_budget: int, callbacks: CallbackDriver,
              should_stop: Callable[[], bool], checkpoint_every_s: float) -> str:
        """Train until `env_steps` reaches `step_budget` (see `budget_for`), or earlier.

        The stopping test runs on each round's episodes before they are used for an update:
        when they complete the solve, the run ends with the weights that produced them (the
        graph backend updates inside the same compiled call). A round that crosses the step
        budget is still used. Returns why training stopped: SOLVED, BUDGET, CALLBACK or
        INTERRUPTED; a non-finite loss raises NonFiniteLossError unless a callback (such as
        TerminateOnNaN) stops training on it.
        """
        p = self.progress
        p.step_budget = step_budget
        callbacks.train_begin()
        reason, logs, last_save = BUDGET, {}, time.monotonic()
        try:
            while p.env_steps < p.step_budget:
                start = time.perf_counter()
                try:
                    result = self._round(should_stop)
                except NonFiniteLossError:
                    p.train_wall_s += time.perf_counter() - start
                    if not callbacks.update(p.updates, self.logs(None)):
                        raise
                    reason = CALLBACK
                    break
                p.train_wall_s += time.perf_counter() - start
                if result is None:  # solved by episodes that are not used for an update
                    reason = SOLVED
                    break
                self._log_update(result)
                evaluation = self._evaluate_if_due()
                logs = self.logs(result, evaluation)
                if callbacks.update(p.updates - 1, logs):
                    reason = CALLBACK
                    break
                if p.solved:
                    reason = SOLVED
                    break
                if time.monotonic() - last_save >= checkpoint_every_s:
                    self.save()
                    last_save = time.monotonic()
        except RoundInterrupted:
            reason = INTERRUPTED
        finally:
            self.save()
        callbacks.train_end(logs)
        return reason

    def _round(self, should_stop: Callable[[], bool]) -> UpdateResult | None:
        """Collect a round, log its episodes and update on it (None: the round solved the
        run and is not used). The backend may have made the update itself."""
        p = self.progress
        self.scheduled = self.learner.set_progress(min(p.env_steps / self.config.max_steps, 1.0))
        round_ = self.backend.collect(p.updates, should_stop, p.step_budget - p.env_steps)
        self._log_episodes(round_)
        if round_.update is None and p.solved:
            return None
        result = round_.update
        if result is None:
            assert round_.batch is not None  # Round: a backend that did not update sends a batch
            result = self.learner.learn(round_.batch)
        self._keep_observations(round_.observations)
        return result

    def budget_for(self, max_steps: int | None) -> int:
        """The env-step count to train to for `max_steps` more steps (None: config.max_steps
        in all). It counts from the previous budget when that was reached (not from the
        overshoot of the last round), so two calls train exactly as one with their sum."""
        p = self.progress
        if max_steps is None:
            return self.config.max_steps
        start = p.step_budget if 0 < p.step_budget <= p.env_steps else p.env_steps
        return start + max_steps

    def _log_episodes(self, round_: Round) -> None:
        """Record a round's episodes and decide whether the run is solved."""
        p, window = self.progress, self.config.solve_window
        for ret, length in zip(round_.episode_returns, round_.episode_lengths, strict=True):
            p.episodes += 1
            p.env_steps += int(length)
            self.episode_rows.append(EpisodeRow(p.episodes, p.env_steps, float(ret),
                                                int(length), round(p.train_wall_s, 4)))
        p.solved = (self.target is not None and not self.config.eval_every
                    and p.episodes >= window and self.recent_mean() >= self.target)
        self.last_round = round_

    def _evaluate_if_due(self) -> EvalRow | None:
        """Evaluate the greedy policy when `config.eval_every` env steps have passed since the
        last evaluation (None: not due); the run is solved when its mean reaches the target.

        With `config.eval_confirm_episodes`, an evaluation that reaches the target (less
        `config.eval_screen_margin`) is only a screen: a confirmation on that many fresh
        episodes follows at once and decides (its row comes right after, at the same update).
        Returns the deciding evaluation's row.
        Evaluation time counts as training time: it is part of what the run costs."""
        p, every = self.progress, self.config.eval_every
        last = self.eval_rows[-1].env_steps if self.eval_rows else 0
        if not every or p.env_steps // every <= last // every:
            return None
        row = self._evaluate(self.config.eval_every_episodes)
        confirm = self.config.eval_confirm_episodes
        margin = self.config.eval_screen_margin
        if confirm and self.target is not None and row.mean_return >= self.target - margin:
            row = self._evaluate(confirm)
        p.solved = self.target is not None and row.mean_return >= self.target
        return row

    def _evaluate(self, episodes: int) -> EvalRow:
        """The next greedy evaluation during training, on `episodes` episodes, recorded."""
        assert self.evaluate is not None  # the agent gives one whenever eval_every is set
        p, number = self.progress, len(self.eval_rows) + 1
        start = time.perf_counter()
        result = self.evaluate(number, episodes)
        wall_s = time.perf_counter() - start
        p.train_wall_s += wall_s
        row = EvalRow(number, p.updates, p.env_steps, result.mean_return, result.std_return,
                      result.episodes, round(wall_s, 4))
        self.eval_rows.append(row)
        return row

    def _log_update(self, result: UpdateResult) -> None:
        p, m = self.progress, result.metrics
        p.updates += 1
        if p.updates == 1:
            p.first_iteration_s = p.train_wall_s
        self.update_rows.append(UpdateRow(
            p.updates, p.episodes, p.env_steps, float(m.loss), float(m.entropy),
            float(m.grad_norm), float(m.value_loss), result.explained_variance,
            round(p.train_wall_s, 4)))

    def _keep_observations(self, obs: Obs) -> None:
        """Keep up to OBSERVATION_SAMPLE_COUNT of the latest rounds' observations (a random
        sample of each round, newest first), for export's verification."""
        count = min(OBSERVATION_SAMPLE_COUNT,
                    max(1, OBSERVATION_SAMPLE_BYTES // max(observations.row_bytes(obs), 1)))
        rng = np.random.default_rng(self.progress.updates)
        size = observations.rows(obs)
        chosen = np.sort(rng.choice(size, min(count, size), replace=False))
        latest = observations.map_obs(lambda part: part[chosen], obs)
        if self.observation_sample is not None and len(chosen) < count:
            latest = observations.map_obs(
                lambda part: part[:count],
                observations.concatenate([latest, self.observation_sample]))
        self.observation_sample = latest

    def logs(self, result: UpdateResult | None,
             evaluation: EvalRow | None = None) -> dict[str, float]:
        """The callbacks' logs after an update (see callbacks.LOG_KEYS); NaN metrics when
        the update was refused for a non-finite loss, and eval_return NaN when no evaluation
        followed the update."""
        p = self.progress
        nan = math.nan
        m = result.metrics if result is not None else None
        return {
            "mean_return": self.recent_mean(),
            "episode_length": self._recent("length"),
            "loss": float(m.loss) if m is not None else nan,
            "entropy": float(m.entropy) if m is not None else nan,
            "grad_norm": float(m.grad_norm) if m is not None else nan,
            "value_loss": float(m.value_loss) if m is not None else nan,
            "explained_variance": result.explained_variance if result is not None else nan,
            "env_steps": p.env_steps, "episodes": p.episodes, "steps_per_s": self.steps_per_s(),
            "eval_return": evaluation.mean_return if evaluation is not None else nan,
            **self._round_logs(), **self.scheduled,
        }

    def _round_logs(self) -> dict[str, float]:
        """Statistics of the last round's episodes (round_return_mean, _min, _max,
        round_episode_length)."""
        if self.last_round is None:
            return {}
        returns, lengths = self.last_round.episode_returns, self.last_round.episode_lengths
        return {"round_return_mean": float(returns.mean()),
                "round_return_min": float(returns.min()),
                "round_return_max": float(returns.max()),
                "round_episode_length": float(lengths.mean())}

    def recent_mean(self) -> float:
        """Mean return of the last `solve_window` training episodes (nan before any)."""
        return self._recent("episode_return")

    def _recent(self, field: str) -> float:
        """Mean of EpisodeRow `field` over the last `solve_window` episodes (nan before any)."""
        rows = self.episode_rows[-self.config.solve_window:]
        return float(np.mean([getattr(r, field) for r in rows])) if rows else math.nan

    def steps_per_s(self) -> float:
        return self.progress.env_steps / max(self.progress.train_wall_s, 1e-9)

    # -- persistence -------------------------------------------------------------------------
    def save(self, run_dir: Path | None = None) -> None:
        """Write metrics, then the checkpoint, model and observations into `run_dir` (default:
        the run's; nothing without one). A resume drops metrics rows the checkpoint does not
        cover: they belong to rounds it will collect again, identically."""
        run_dir = run_dir or self.run_dir
        if run_dir is None:
            return
        own = self.run_dir is not None and run_dir.resolve() == self.run_dir.resolve()
        if own:
            self.check_not_stale()
        run = RunDir(run_dir)
        run.write_metrics(self.episode_rows, self.update_rows, self.eval_rows)
        checkpoint_id = checkpoint.save(
            run_dir, self.learner.state_arrays(), asdict(self.progress), self.config.to_dict(),
            self.spaces, self.episode_rows, self.update_rows, self.eval_rows)
        if own:
            self.checkpoint_id = checkpoint_id
        run.write_model(self.learner.model)
        if self.observation_sample is not None:
            run.write_observations(self.observation_sample)

    def check_not_stale(self) -> None:
        """A RunDirError if another writer (an agent loaded from the same run directory, a
        `train --resume`) has checkpointed into the run directory since this trainer loaded
        or last wrote it: writing now would silently replace that training with this one's."""
        assert self.run_dir is not None  # its callers check: a run without one has no writers
        progress = checkpoint.written_since(self.run_dir, self.checkpoint_id)
        if progress is not None:
            raise RunDirError(
                f"{self.run_dir} was written by another agent or process since this one "
                f"loaded or last wrote it (it holds {progress['env_steps']:,} env steps, this "
                f"agent {self.progress.env_steps:,}); nothing was written: load it again, "
                f"REINFORCE.load({str(self.run_dir)!r}), to continue from there")

    def restore(self, run_dir: Path) -> None:
        """Continue from the checkpoint of `run_dir`, verified before anything is changed."""
        saved = checkpoint.load(run_dir, self.config.to_dict(), self.spaces)
        self.learner.assign_state(saved.arrays)
        self.progress = Progress(**saved.progress)
        self.episode_rows, self.update_rows = saved.episode_rows, saved.update_rows
        self.eval_rows = saved.eval_rows
        self.checkpoint_id = saved.checkpoint_id
        self.observation_sample = RunDir(run_dir).read_observations()

    def summary(self, evaluation: Evaluation | None) -> dict[str, Any]:
        """The run's outcome (summary.json); `evaluation` is an Evaluation or None."""
        c, p = self.config, self.progress
        return {
            "env_id": c.env_id, "seed": c.seed, "solved": p.solved, "target_return": self.target,
            "episodes": p.episodes, "updates": p.updates, "env_steps": p.env_steps,
            "step_budget": p.step_budget,
            "train_wall_s": round(p.train_wall_s, 3), "steps_per_s": round(self.steps_per_s(), 1),
            "first_iteration_s": round(p.first_iteration_s, 3), "backend": c.backend,
            "actor": self.backend.actor,
            "final_mean_return": self.recent_mean(),
            "evaluations": len(self.eval_rows),
            "last_eval_return": self.eval_rows[-1].mean_return if self.eval_rows else None,
            "eval_mean_return": evaluation.mean_return if evaluation else None,
            "eval_std_return": evaluation.std_return if evaluation else None,
            "eval_episodes": evaluation.episodes if evaluation else 0,
            "eval_solved": bool(evaluation and self.target is not None
                                and evaluation.mean_return >= self.target),
        }
