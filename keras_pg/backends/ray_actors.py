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

import logging
import math
import os
import socket
import sys
from collections.abc import Callable

from keras_pg.backends import Round, RoundInterrupted
from keras_pg.config import Config, ConfigError
from keras_pg.envs import EnvSource
from keras_pg.errors import first_line
from keras_pg.learner import Learner
from keras_pg.rollout import Batch, EnvFailure, concatenate

CONNECT_TIMEOUT_S = 5.0


class RolloutWorker:
    """A Ray actor: envs, a CPU copy of the policy, and an EpisodeCollector."""

    def __init__(self, source: EnvSource, config: Config, model_config: dict, head,
                 num_envs: int, index: int):
        import keras

        import keras_pg  # noqa: F401  (registers keras_pg's layers, quietly)
        from keras_pg.backends.vector import EpisodeCollector

        self.env = source.make_vector(num_envs)
        self.model = keras.saving.deserialize_keras_object(model_config)
        self.collector = EpisodeCollector(self.env, self.model, head, config, part=(index,))

    def collect(self, weights: list, round_index: int, episodes: int,
                max_steps: int | None) -> Batch:
        self.model.set_weights(weights)
        return self.collector.collect(round_index, episodes, lambda: False, max_steps)

    def pid(self) -> int:
        """This actor's process id (to watch it, or to kill it in a test)."""
        return os.getpid()


class RayBackend:
    """Rounds collected by Ray actors (see the module docstring)."""

    def __init__(self, config: Config, source: EnvSource, learner: Learner):
        import keras
        import ray

        self.config, self.learner, self.ray = config, learner, ray
        self._check_picklable(source)
        self.started_ray = connect(config.ray_address)
        per_worker = config.envs_per_worker or math.ceil(config.num_envs / config.num_workers)
        cpus = ray.cluster_resources().get("CPU", 1.0)
        actor = ray.remote(num_cpus=min(1.0, cpus / config.num_workers), max_restarts=-1,
                           max_task_retries=0)(RolloutWorker)
        model_config = keras.saving.serialize_keras_object(learner.model)
        self.workers = [actor.remote(source, config, model_config, learner.head, per_worker, i)
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

        def submit(i: int):
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
        if self.started_ray:
            self.ray.shutdown()


def split(total: int, parts: int) -> list[int]:
    """`total` as `parts` near-equal integers, the larger ones first: 10 in 4 -> 3, 3, 2, 2."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def connect(address: str | None) -> bool:
    """Join the Ray cluster at `address` ("auto", "HOST:PORT"), or start a local one (None);
    True if this call started Ray. An address that does not answer is a ConfigError within
    CONNECT_TIMEOUT_S, not a hang."""
    import ray

    if ray.is_initialized():
        return False
    if address not in (None, "auto"):
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), CONNECT_TIMEOUT_S).close()
        except (OSError, ValueError) as exc:
            raise ConfigError(f"no Ray cluster answers at {address} ({first_line(exc)}); start "
                              f"one with `ray start --head` or drop --ray-address") from None
    # Actors import keras_pg (and the user's env module) the way this process did.
    path = os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p and os.path.isdir(p))
    options = {"runtime_env": {"env_vars": {"PYTHONPATH": path}}, "logging_level": logging.ERROR,
               "log_to_driver": False}
    try:
        if address is None:
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except ConnectionError as exc:
        raise ConfigError(f"cannot join the Ray cluster at {address}: {first_line(exc)}"
                          ) from None
    return address is None
