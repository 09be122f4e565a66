"""The Ray backend: rollout actors, deterministic by worker index, fault-tolerant, on a local
Ray or a real two-node cluster on loopback; and the async vector env."""

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import ray

import keras_pg
from keras_pg.backends.ray_connect import check_ray_answers
from keras_pg.backends.rollout import EnvFailure

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"num_envs": 8, "episodes_per_update": 8, "lr": 0.01, "eval_episodes": 2, "seed": 1}


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module's tests (agents join it and leave it running)."""
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                       runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    yield context.address_info["gcs_address"]
    ray.shutdown()


def rows(agent) -> list[tuple]:
    return [row[:4] for row in agent.history]


def test_the_same_seed_and_worker_count_give_identical_metrics(local_ray):
    runs = []
    for _ in range(2):
        with keras_pg.REINFORCE("CartPole-v1", backend="ray", num_workers=2, **SMALL) as agent:
            agent.learn(max_steps=4000)
            runs.append(rows(agent))
    assert len(runs[0]) >= 40 and runs[0] == runs[1]


def test_a_killed_actor_is_restarted_and_its_share_collected_again(local_ray):
    # Long enough that the kill, 0.5 s in, lands while rounds are collected: with the numpy
    # actor 3,000 steps took less.
    steps = 30_000
    with keras_pg.REINFORCE("CartPole-v1", backend="ray", num_workers=2, **SMALL) as agent:
        agent.learn(max_steps=steps)
        reference = rows(agent)
    with keras_pg.REINFORCE("CartPole-v1", backend="ray", num_workers=2, **SMALL) as agent:
        workers = agent.backend.workers
        victim = ray.get(workers[1].pid.remote())
        killed = threading.Event()

        def kill_soon():
            time.sleep(0.5)  # while the first rounds are being collected
            os.kill(victim, signal.SIGKILL)
            killed.set()

        threading.Thread(target=kill_soon).start()
        agent.learn(max_steps=steps)
        assert killed.is_set()
        assert ray.get(workers[1].pid.remote()) != victim  # a new process
        assert rows(agent) == reference  # no episode lost, none counted twice


class RaisingEnv(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        if self.t == 3:
            raise ValueError("the simulator lost its connection")
        return np.zeros(2, np.float32), 1.0, False, False, {}


def test_an_env_that_raises_in_a_worker_is_one_line(local_ray):
    with keras_pg.REINFORCE(RaisingEnv, backend="ray", num_workers=2, max_episode_steps=10,
                            **SMALL) as agent, pytest.raises(EnvFailure) as info:
        agent.learn(max_steps=100)
    assert str(info.value) in (
        f"worker {i}: the env raised ValueError: the simulator lost its connection"
        for i in (0, 1))


def test_an_unpicklable_factory_and_an_unreachable_address_are_one_line():
    lock = threading.Lock()
    with pytest.raises(ValueError, match=r"cannot be sent to Ray actors \(TypeError: cannot "
                                         r"pickle '_thread.lock' object\); pass a module-level"):
        keras_pg.REINFORCE(lambda: lock and gym.make("CartPole-v1"), backend="ray")
    with pytest.raises(ValueError, match="num_workers must be a positive integer, got 0"):
        keras_pg.REINFORCE("CartPole-v1", backend="ray", num_workers=0)


def test_an_address_that_does_not_answer_is_one_line_within_seconds(tmp_path):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "keras_pg", "train", "--backend", "ray",
                           "--ray-address", "127.0.0.1:9", "--run-dir", str(tmp_path / "run")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no Ray cluster answers at 127.0.0.1:9 ("), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert time.monotonic() - start < 30  # TensorFlow's import, then at most 5 s of waiting
    assert not (tmp_path / "run").exists()


def test_an_http_service_at_the_ray_address_is_one_line_naming_it(tmp_path):
    # The TCP connect succeeds; Ray's own client would then retry for minutes.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{server.server_address[1]}"
    try:
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "keras_pg", "train", "--backend", "ray",
                               "--ray-address", address, "--run-dir", str(tmp_path / "run")],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - start
    finally:
        server.shutdown()
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.startswith(f"error: no Ray cluster answers at {address}: an HTTP server "
                                  f"answered (HTTP/1.0 501 "), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert elapsed < 30  # TensorFlow's import, then an immediate answer
    assert not (tmp_path / "run").exists()


def test_a_silent_listener_or_another_grpc_server_is_refused_within_the_timeout(local_ray):
    import grpc

    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the backlog), never answers
    foreign = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    foreign_port = foreign.add_insecure_port("127.0.0.1:0")
    foreign.start()
    try:
        start = time.monotonic()
        with pytest.raises(ValueError, match=r"did not answer Ray's handshake within 1 s"):
            check_ray_answers(f"127.0.0.1:{silent.getsockname()[1]}", 1.0)
        assert time.monotonic() - start < 3
        with pytest.raises(ValueError, match=r"a gRPC server that is not Ray's answered"):
            check_ray_answers(f"127.0.0.1:{foreign_port}", 1.0)
    finally:
        silent.close()
        foreign.stop(None)
    check_ray_answers(local_ray, 5.0)  # a real Ray's GCS passes


def test_more_workers_than_the_cluster_has_cpus_is_one_line(local_ray):
    with pytest.raises(ValueError, match=r"^num_workers 3 exceeds the Ray cluster's 2 CPUs; "):
        keras_pg.REINFORCE("CartPole-v1", backend="ray", num_workers=3)


def make_cartpole():
    return gym.make("CartPole-v1")


def test_the_async_vector_env_gives_the_sync_metrics():
    # The same single envs (not CartPole's native vectorized one), stepped here or in
    # subprocesses: the same seeds give the same episodes.
    runs = []
    for mode in ("sync", "async"):
        with keras_pg.REINFORCE(make_cartpole, vector_mode=mode, **SMALL) as agent:
            agent.learn(max_steps=2000)
            runs.append(rows(agent))
    assert runs[0] == runs[1]


def test_plain_training_does_not_import_ray():
    script = ("import sys, keras_pg\n"
              "keras_pg.REINFORCE('CartPole-v1', eval_episodes=1).learn(max_steps=500)\n"
              "assert 'ray' not in sys.modules, 'ray was imported'\n")
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=120)


def test_ray_actors_carry_a_recurrent_policys_state_and_reproduce(local_ray):
    """The rollout that carries the state is collect_episodes' (tests/test_recurrent.py);
    here Ray's workers run it with a recurrent policy, and the same seed gives the same
    metrics."""
    from tests.memory_env import SETTINGS

    settings = dict(SETTINGS, eval_episodes=0, num_envs=8)
    runs = []
    for _ in range(2):
        with keras_pg.REINFORCE("tests.memory_env:Cue-v0", network="gru", backend="ray",
                                num_workers=2, seed=0, **settings) as agent:
            summary = agent.learn(max_steps=6_000)
            runs.append(rows(agent))
    assert summary["actor"] == "tensorflow (recurrent)"
    assert len(runs[0]) >= 30 and runs[0] == runs[1]


def test_ray_actors_collect_under_the_envs_action_masks(local_ray):
    """Each worker's envs put their masks in the info (keras_pg.envs.masks), its actor acts
    under them and its share of the batch carries them to the learner: a round of only legal
    actions, and Corridor-v0 learned in 6k steps, which it is not without masks
    (tests/test_masks.py)."""
    from tests.masked_env import BACK, FORWARD

    with keras_pg.REINFORCE("tests.masked_env:Corridor-v0", backend="ray", num_workers=2,
                            seed=0, eval_episodes=100) as agent:
        batch = agent.backend.collect(0, lambda: False).batch
        cells = batch.obs.astype(int)
        assert batch.action_masks is not None and batch.action_masks.sum(axis=1).tolist() == [
            2] * len(cells)
        assert ((batch.actions == np.take(FORWARD, cells))
                | (batch.actions == np.take(BACK, cells))).all()
        summary = agent.learn(max_steps=6_000)
    assert summary["eval_mean_return"] >= 0.95
