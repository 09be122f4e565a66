"""The Ray backend on a real two-node cluster on loopback, started and stopped by the test
(a module of its own: `ray stop` ends every Ray process of the machine)."""

import os
import subprocess
import sys
from pathlib import Path

from keras_pg.run import run_dir as rd
from keras_pg.run.run_dir import RunDir

ROOT = Path(__file__).resolve().parents[1]


def test_a_two_node_cluster_on_loopback_trains_cartpole(tmp_path):
    # A loopback cluster inside the test: no token authentication between its nodes.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "disabled"}
    port = "6391"
    ray_cli = [sys.executable, "-m", "ray.scripts.scripts"]
    subprocess.run([*ray_cli, "start", "--head", f"--port={port}", "--num-cpus=1",
                    "--include-dashboard=false", "--node-ip-address=127.0.0.1"],
                   env=env, check=True, capture_output=True, timeout=120)
    try:
        subprocess.run([*ray_cli, "start", f"--address=127.0.0.1:{port}", "--num-cpus=1",
                        "--node-ip-address=127.0.0.1"], env=env, check=True,
                       capture_output=True, timeout=120)
        proc = subprocess.run(
            [sys.executable, "-m", "keras_pg", "train", "--backend", "ray", "--num-workers",
             "2", "--ray-address", f"127.0.0.1:{port}", "--max-steps", "3000",
             "--eval-episodes", "2", "--quiet", "--run-dir",
             str(tmp_path / "run")], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        nodes = subprocess.run([*ray_cli, "status", f"--address=127.0.0.1:{port}"], env=env,
                               capture_output=True, text=True, timeout=60).stdout
        assert nodes.count("node_") >= 2, nodes  # two nodes were in the cluster
        assert RunDir(tmp_path / "run").read_summary()["env_steps"] >= 3000
    finally:
        subprocess.run([*ray_cli, "stop", "--force"], env=env, capture_output=True,
                       timeout=120)


def test_the_learner_killed_with_sigkill_resumes_exactly(tmp_path):
    import signal
    import time

    from keras_pg.run import checkpoint

    flags = ["--backend", "ray", "--num-workers", "2", "--num-envs", "8",
             "--episodes-per-update", "8", "--lr", "0.01", "--max-steps", "6000",
             "--eval-episodes", "2", "--quiet", "--target-return", "1e9"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}

    def train(*args):
        return subprocess.Popen([sys.executable, "-m", "keras_pg", "train", *args], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    reference = train("--run-dir", str(tmp_path / "reference"), *flags)
    killed = train("--run-dir", str(tmp_path / "run"), "--checkpoint-every", "0.1", *flags)
    assert reference.wait(timeout=300) == 0, reference.communicate()
    deadline = time.monotonic() + 300
    while True:
        try:
            if checkpoint.read(tmp_path / "run" / rd.CHECKPOINT)[1]["progress"]["updates"] >= 3:
                break
        except rd.RunDirError:
            pass
        assert killed.poll() is None and time.monotonic() < deadline, killed.communicate()
        time.sleep(0.1)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    resumed = subprocess.run([sys.executable, "-m", "keras_pg", "train", "--quiet", "--resume",
                              str(tmp_path / "run")], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    rows = [[row[:4] for row in RunDir(tmp_path / name).episodes()]
            for name in ("reference", "run")]
    assert len(rows[0]) > 24 and rows[0] == rows[1]
