"""The Ray backend (`--backend ray`): rollout actors on Ray, the learner in this process.

`num_workers` actors each own `envs_per_worker` envs (a gymnasium vector env of any env the
gymnasium backend takes) and a CPU copy of the policy. Each round the learner puts the
weights in the object store once; every actor collects its share of the round's complete
episodes with seeds derived from (seed, round, worker index), so the result does not depend
on which actor answers first; the learner concatenates the shares in worker order and
updates. An actor that dies mid-round is restarted by Ray and its share collected again
(the same seeds: no episode lost, none counted twice). An env that raises in an actor is
one line naming the worker and the env's error. Ray is imported only by this module.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from keras_pg.algorithm.batch import Batch, concatenate
from keras_pg.algorithm.learner import Learner
from keras_pg.backends import Round, RoundInterrupted
from keras_pg.backends.ray_connect import connect
from keras_pg.backends.rollout import EnvFailure
from keras_pg.config import Config, ConfigError
from keras_pg.envs.source import EnvSource
from keras_pg.errors import first_line
from keras_pg.policy import Head, describe_actor

if TYPE_CHECKING:  # for its name only: Ray is imported when a RayBackend is made
    from ray import ObjectRef


class RolloutWorker:
    """A Ray actor: envs, a CPU copy of the policy, and an EpisodeCollector."""

    def __init__(self, source: EnvSource, config: Config, model_config: dict[str, Any],
                 head: Head, num_envs: int, index: int) -> None:
        import keras

        import keras_pg  # noqa: F401  (registers keras_pg's layers, quietly)
        from keras_pg.backends.vector import EpisodeCollector

        self.env = source.make_vector(num_envs)
        self.model = keras.saving.deserialize_keras_object(model_config)
        self.collector = EpisodeCollector(self.env, self.model, head, config, part=(index,),
                                          masked=source.mask_source is not None)

    def collect(self, weights: list[np.ndarray], round_index: int, episodes: int,
                max_steps: int | None) -> Batch:
        self.model.set_weights(weights)
        return self.collector.collect(round_index, episodes, lambda: False, max_steps)

    def pid(self) -> int:
        """This actor's process id (to watch it, or to kill it in a test)."""
        return os.getpid()


class RayBackend:
    """Rounds collected by Ray actors (see the module docstring)."""

    def __init__(self, config: Config, source: EnvSource, learner: Learner) -> None:
        import keras
        import ray

        self.config, self.learner, self.ray = config, learner, ray
        self._check_picklable(source)
        self.actor = describe_actor(learner.model, config.actor)  # what every worker picks
        self.started_ray = connect(config.ray_address)
        try:
            check_worker_count(config.num_workers, ray.cluster_resources().get("CPU", 0.0))
        except ConfigError:
            self.close_ray()
            raise
        per_worker = config.envs_per_worker or math.ceil(config.num_envs / config.num_workers)
        actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=0)(RolloutWorker)
        model_config = keras.saving.serialize_keras_object(learner.model)
        # Ray types a new actor as ActorHandle[T] | type[T], so that methods decorated with
        # @ray.method type-check; RolloutWorker's are plain (Ray is imported lazily).
        self.workers: list[Any] = [
            actor.remote(source, config, model_config, learner.head, per_worker, i)
            for i in range(config.num_workers)]

    def _check_picklable(self, source: EnvSource) -> None:
        try:
            self.ray.cloudpickle.dumps(source)
        except Exception as exc:  # cloudpickle raises TypeError, PicklingError, ...
            raise ConfigError(
                f"the env {source.name} cannot be sent to Ray actors ({type(exc).__name__}: "
                f"{first_line(exc, 120)}); pass a module-level function or 'module:EnvId'"
            ) from None

    def collect(self, round_index: int, should_stop: Callable[[], bool],
                max_steps: int | None = None) -> Round:
        shares = split(self.config.episodes_per_update, len(self.workers))
        budgets = ([None] * len(shares) if max_steps is None else
                   [math.ceil(max_steps * s / self.config.episodes_per_update) for s in shares])
        weights = self.ray.put(self.learner.model.get_weights())  # once, for every actor

        def submit(i: int) -> ObjectRef[Batch]:
            return self.workers[i].collect.remote(weights, round_index, shares[i], budgets[i])

        pending = {submit(i): i for i, share in enumerate(shares) if share}
        results: dict[int, Batch] = {}
        while pending:
            ready, _ = self.ray.wait(list(pending), num_returns=1, timeout=0.1)
            if should_stop():
                raise RoundInterrupted
            for ref in ready:
                i = pending.pop(ref)
                try:
                    results[i] = self.ray.get(ref)
                except self.ray.exceptions.RayActorError:  # the actor died: Ray restarts it
                    pending[submit(i)] = i  # and its share is collected again, identically
                except self.ray.exceptions.RayTaskError as exc:
                    cause = exc.cause if exc.cause is not None else exc
                    raise EnvFailure(f"worker {i}: the env raised {type(cause).__name__}: "
                                     f"{first_line(cause)}") from None
        batch = concatenate([results[i] for i in sorted(results)])
        return Round(batch.episode_returns, batch.episode_lengths, batch, None, batch.obs)

    def close(self) -> None:
        for worker in self.workers:
            self.ray.kill(worker)
        self.close_ray()

    def close_ray(self) -> None:
        """Shut Ray down if this backend started it."""
        if self.started_ray:
            self.ray.shutdown()


def split(total: int, parts: int) -> list[int]:
    """`total` as `parts` near-equal integers, the larger ones first: 10 in 4 -> 3, 3, 2, 2."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def check_worker_count(num_workers: int, cluster_cpus: float) -> None:
    """A ConfigError unless every worker can have a CPU of the cluster: each is a process
    with its own copy of the policy and envs, and more of them than CPUs only queue."""
    if num_workers > cluster_cpus:
        raise ConfigError(
            f"num_workers {num_workers} exceeds the Ray cluster's {cluster_cpus:g} CPUs; each "
            f"worker is a process that needs one: use at most {int(cluster_cpus)} (and more "
            f"envs per worker, envs_per_worker / --envs-per-worker), or add nodes")
