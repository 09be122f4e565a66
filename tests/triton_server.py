"""A real Triton Inference Server for the conformance tests.

`.ci/triton-env` makes a virtual environment (default `<repo>/.triton-venv`, or the
KERAS_PG_TRITON_VENV environment variable) with nvidia-pytriton, whose wheel ships the
tritonserver binary and its python backend only (no onnxruntime backend). So a repository
written by `python -m export --triton-repo` is served through tests/triton/model.py:
`python_backend_repository` copies it, swapping `platform: "onnxruntime_onnx"` for
`backend: "python"` and nothing else, and `running_triton` runs tritonserver on it, bound
to 127.0.0.1, and stops it (and the python backend's stub processes) afterwards.

Tests call `require_triton()` first: it skips when the venv is missing, or fails when
KERAS_PG_REQUIRE_TRITON=1 (CI, where a missing Triton must not pass silently).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_PY = Path(__file__).resolve().parent / "triton" / "model.py"
VENV_VARIABLE = "KERAS_PG_TRITON_VENV"
REQUIRE_VARIABLE = "KERAS_PG_REQUIRE_TRITON"
ONNX_PLATFORM = 'platform: "onnxruntime_onnx"'
PYTHON_BACKEND = 'backend: "python"'
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0


def triton_venv() -> Path:
    return Path(os.environ.get(VENV_VARIABLE) or ROOT / ".triton-venv")


def _distribution(venv: Path) -> Path | None:
    """site-packages/pytriton/tritonserver of `venv` (bin/, backends/), or None."""
    found = sorted(venv.glob("lib/python3.*/site-packages/pytriton/tritonserver/bin/tritonserver"))
    return found[-1].parents[1] if found else None


def tritonserver_path() -> Path | None:
    """The tritonserver binary of the triton venv, or None when the venv (made by
    .ci/triton-env) is missing or incomplete (no stub beside the python backend)."""
    venv = triton_venv()
    dist = _distribution(venv)
    if dist is None or not (venv / "bin" / "python").exists():
        return None
    if not (dist / "backends" / "python" / "triton_python_backend_stub").is_file():
        return None
    return dist / "bin" / "tritonserver"


def require_triton() -> Path:
    """The tritonserver binary; else pytest.skip, or pytest.fail with
    KERAS_PG_REQUIRE_TRITON=1."""
    import pytest

    binary = tritonserver_path()
    if binary is not None:
        return binary
    message = (f"no Triton Inference Server: {triton_venv()} is missing or incomplete; make it "
               f"with `.ci/triton-env {triton_venv()}` (or set {VENV_VARIABLE})")
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{REQUIRE_VARIABLE}=1 but {message}", pytrace=False)
    pytest.skip(message)


@cache
def _python_libdir(python: Path) -> str:
    """The LIBDIR of the venv's base Python: where its libpython3.X.so.1.0 is, which the
    python backend's stub links (the venv's Python, not another one on the system)."""
    return subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_config_var('LIBDIR') or '')"],
                          capture_output=True, text=True, check=True).stdout.strip()


def triton_environment(binary: Path) -> dict[str, str]:
    """tritonserver's environment: the wheel's bundled libraries and the venv's libpython on
    LD_LIBRARY_PATH; the venv's bin/ first on PATH (the stub's embedded Python finds its
    prefix from `python3` on PATH: the venv's, so its numpy < 2 and onnxruntime); nothing of
    the caller's Python (PYTHONPATH, PYTHONHOME, VIRTUAL_ENV) leaking in."""
    venv = triton_venv()
    libs = binary.parents[2] / "nvidia_pytriton.libs"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    paths = [str(libs), _python_libdir(venv / "bin" / "python"), env.get("LD_LIBRARY_PATH", "")]
    env["LD_LIBRARY_PATH"] = ":".join(p for p in paths if p)
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["PYTHONNOUSERSITE"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    return env


def python_backend_repository(src_repo: Path, dst_repo: Path) -> Path:
    """Copy a repository of `python -m export --triton-repo` to `dst_repo` for Triton's python
    backend: in each NAME/config.pbtxt the line `platform: "onnxruntime_onnx"` becomes
    `backend: "python"` (every other line kept: dims, reshape, max_batch_size,
    dynamic_batching, instance_group, parameters), and tests/triton/model.py goes beside each
    NAME/<version>/model.onnx."""
    src_repo, dst_repo = Path(src_repo), Path(dst_repo)
    shutil.copytree(src_repo, dst_repo, dirs_exist_ok=True)
    configs = sorted(dst_repo.glob("*/config.pbtxt"))
    if not configs:
        raise ValueError(f"{src_repo} holds no NAME/config.pbtxt")
    for config in configs:
        text = config.read_text()
        pattern = r'(?m)^platform:\s*"onnxruntime_onnx"[ \t]*$'
        if len(re.findall(pattern, text)) != 1:
            raise ValueError(f"{config}: expected one line {ONNX_PLATFORM}")
        config.write_text(re.sub(pattern, PYTHON_BACKEND, text))
        for model in config.parent.glob("*/model.onnx"):
            shutil.copy(MODEL_PY, model.parent / "model.py")
    return dst_repo


@dataclass(frozen=True)
class TritonEndpoints:
    http: str  # "127.0.0.1:PORT"
    grpc: str  # "127.0.0.1:PORT"
    log: Path  # tritonserver's stdout and stderr
    pid: int


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _tail(path: Path, lines: int = 30) -> str:
    """Triton's error lines (E...) and the log's last lines, without its tables."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    text = [line for line in text if not line.startswith(("|", "+"))]
    errors = [line for line in text[:-lines] if line.startswith("E")]
    return "\n".join([*errors, *text[-lines:]])


def _ready(http: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{http}/v2/health/ready", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _stop(process: subprocess.Popen, shm_prefix: str) -> None:
    """SIGTERM tritonserver (it lets in-flight requests finish, at most --exit-timeout-secs);
    SIGKILL its process group once it has exited, or after STOP_TIMEOUT_S: the python
    backend's stubs left (they would take ~1.5 s more to notice their parent gone), then
    remove the shared-memory regions of this server's stubs (/dev/shm/<shm_prefix>*)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for region in Path("/dev/shm").glob(f"{shm_prefix}*"):
        region.unlink(missing_ok=True)


@contextlib.contextmanager
def running_triton(repository: Path, *extra_args: str,
                   timeout: float = READY_TIMEOUT_S) -> Iterator[TritonEndpoints]:
    """Run tritonserver on `repository` (every model loaded at start, none later), on free
    ports of 127.0.0.1, no metrics; yield once /v2/health/ready answers 200, or raise
    RuntimeError with the log's tail. `extra_args` are more tritonserver options."""
    binary = require_triton()
    http, grpc = _free_ports(2)
    backends = binary.parents[1] / "backends"
    workdir = Path(tempfile.mkdtemp(prefix="keras-pg-triton-"))
    log = workdir / "tritonserver.log"
    shm_prefix = f"keras-pg-triton-{os.getpid()}-{http}-"
    args = [str(binary), f"--model-repository={repository}",
            f"--backend-directory={backends}",
            "--model-control-mode=none", "--strict-readiness=true", "--exit-on-error=true",
            "--http-address=127.0.0.1", f"--http-port={http}", "--http-thread-count=4",
            "--grpc-address=127.0.0.1", f"--grpc-port={grpc}",
            "--allow-metrics=false", "--allow-gpu-metrics=false", "--allow-cpu-metrics=false",
            "--pinned-memory-pool-byte-size=0", "--cuda-memory-pool-byte-size=0:0",
            "--exit-timeout-secs=1", "--log-verbose=0",
            f"--backend-config=python,shm-region-prefix-name={shm_prefix}",
            "--backend-config=python,shm-default-byte-size=4194304",
            "--backend-config=python,shm-growth-byte-size=1048576",
            *extra_args]
    with open(log, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=workdir,
                                   env=triton_environment(binary), start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not _ready(f"127.0.0.1:{http}"):
            if process.poll() is not None:
                raise RuntimeError(f"tritonserver exited ({process.returncode}) before ready; "
                                   f"its log's tail:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"tritonserver not ready after {timeout:.0f} s; its log's "
                                   f"tail:\n{_tail(log)}")
            time.sleep(0.05)
        yield TritonEndpoints(http=f"127.0.0.1:{http}", grpc=f"127.0.0.1:{grpc}", log=log,
                              pid=process.pid)
    finally:
        _stop(process, shm_prefix)
        shutil.rmtree(workdir, ignore_errors=True)
