"""The README's Python examples run as written: in the repository, and from outside it with
the package installed by pip."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def run_python(code: str, cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_every_python_block_of_the_readme_runs_in_order(tmp_path):
    """The blocks run in one process, in order; the ones that talk to the HTTP service
    (tritonclient) run after it, against `python -m serve cartpole.onnx --http`."""
    blocks = python_blocks()
    client = [i for i, block in enumerate(blocks) if "InferenceServerClient" in block]
    local = [block for i, block in enumerate(blocks) if i not in client]
    assert len(local) >= 3 and "keras_pg.REINFORCE(" in local[0] and client
    proc = run_python("\n".join(local), tmp_path, ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("solved -4.0\n"), proc.stdout
    assert "Traceback" not in proc.stderr
    for name in ("policy.onnx", "config.json", "checkpoint.npz", "model.keras"):
        assert (tmp_path / "runs" / "goleft" / name).exists(), name
    assert (tmp_path / "cartpole.onnx").exists()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "serve", "cartpole.onnx", "--http",
                               "--port", str(port)], cwd=tmp_path, env={
                                   **os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server)
        for i in client:
            code = blocks[i].replace("localhost:8000", f"localhost:{port}")
            proc = run_python(code, tmp_path, ROOT)
            assert proc.returncode == 0, proc.stderr[-3000:]
    finally:
        server.terminate()
        server.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, "the service exited"
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.1)


def test_pip_installs_the_package_and_the_readme_example_runs_outside_the_repository(tmp_path):
    # Built from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".ci-venv", "runs", "tests", "bench", "__pycache__", "build",
        "node_modules",
        "*.egg-info", ".ruff_cache", ".pytest_cache"))
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                           "--no-build-isolation", "--target", str(site), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert {"keras_pg", "export", "serve"} <= {p.name for p in site.iterdir()}
    assert (site / "keras_pg" / "backends" / "graph.py").exists()
    assert (site / "keras_pg" / "envs" / "graph" / "cartpole.py").exists()
    user_dir = tmp_path / "user"
    user_dir.mkdir()
    where = run_python("import keras_pg, export, serve; print(keras_pg.__file__, "
                       "export.__file__, serve.__file__)", user_dir, site)
    assert where.returncode == 0 and where.stdout.count(str(site)) == 3, where.stdout
    proc = run_python(python_blocks()[0], user_dir, site)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (user_dir / "runs" / "goleft" / "policy.onnx").exists()
    for command in ("keras-pg", "keras-pg-export", "keras-pg-serve"):
        help_text = subprocess.run([str(site / "bin" / command), "--help"], capture_output=True,
                                   text=True, env={**os.environ, "PYTHONPATH": str(site)},
                                   timeout=120)
        assert help_text.returncode == 0 and help_text.stdout.startswith("usage:"), command
