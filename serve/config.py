"""ServiceConfig: everything `python -m serve --http` runs with, checked once.

Uvicorn's worker processes each build the app from it: `to_json` and `from_json` carry it to
them through an environment variable (serve/http.py).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import threading
from dataclasses import dataclass

from serve import contract
from serve.ports import check_port

NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # a model name: a Triton directory, a URL part
LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class ServiceConfig:
    """What the HTTP service serves, where, and within which bounds."""

    policy: str | None = None
    """A .onnx file to serve (give this or `repository`)."""
    model_name: str | None = None
    """`policy`'s name in the v2 routes (default: the file's stem, "policy")."""
    repository: str | None = None
    """A Triton model repository: each DIR/NAME/<version>/model.onnx is served as NAME
    (the highest version)."""
    host: str = "127.0.0.1"
    """The address to bind; anything but loopback without an API key prints a warning."""
    port: int = 8000
    grpc_port: int | None = None
    """Also serve the Open Inference Protocol over gRPC on this port of `host` (none by
    default; serve/grpc_v2.py)."""
    workers: int = 1
    """uvicorn worker processes, each with its own sessions and file watcher."""
    api_key_file: str | None = None
    """A file of API keys, one per line; every route but health then needs
    `Authorization: Bearer KEY`. Without it, the environment variable KERAS_PG_API_KEY."""
    cors_origins: tuple[str, ...] = ()
    """Origins a browser page may call the service from (none by default)."""
    max_body_bytes: int = 1 << 20
    """Larger request bodies get 413 before they are read in full."""
    max_batch: int = contract.TRITON["max_batch_size"]
    """Requests of more observations get 413 before inference."""
    reload_interval: float = 0.5
    """Seconds between checks of the served files for a replacement (0: no hot reload), at
    most threading.TIMEOUT_MAX (a thread's wait takes no more)."""
    inference_threads: int = 2
    """Requests worked on at once, in threads beside the event loop."""
    decode_processes: int = 1
    """Worker processes that decode and encode bodies over 64 KiB (0: threads do it, and
    large bodies then slow the event loop's other requests)."""
    intra_op_threads: int = 1
    """onnxruntime threads per call."""
    seed: int | None = None
    """Seeds the sampling of `/v1/act` with `"deterministic": false`."""
    observation_shape: tuple[int, ...] | None = None
    """For an .onnx without keras_pg metadata (with `action_type`)."""
    action_type: str | None = None

    def __post_init__(self) -> None:
        if (self.policy is None) == (self.repository is None):
            raise ValueError("give a policy file or --model-repository DIR (one of them)")
        if self.model_name is not None and self.repository is not None:
            raise ValueError("--model-name names a single policy file; a repository's models "
                             "are named by their directories")
        if self.model_name is not None:
            check_name(self.model_name, "--model-name")
        _positive_ints(self, ("workers", "max_body_bytes", "max_batch", "inference_threads",
                              "intra_op_threads"))
        check_port(self.port, "--port")
        if self.grpc_port is not None:
            check_port(self.grpc_port, "--grpc-port")
            if self.grpc_port == self.port:
                raise ValueError(f"--grpc-port must differ from --port, got {self.port} "
                                 "for both")
        if isinstance(self.decode_processes, bool) or not isinstance(
                self.decode_processes, int) or self.decode_processes < 0:
            raise ValueError(f"--decode-processes must be an integer >= 0, got "
                             f"{self.decode_processes!r}")
        _check_interval(self.reload_interval)
        for origin in self.cors_origins:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"--cors-origin must be a scheme and host such as "
                                 f"https://example.com (no path), got {origin!r}")

    @property
    def loopback(self) -> bool:
        """Whether `host` is reachable from this machine only."""
        if self.host in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServiceConfig:
        values = json.loads(text)
        for key in ("cors_origins", "observation_shape"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)


def check_name(name: str, what: str = "model name") -> None:
    """A model name: letters, digits, `_`, `.` and `-`, not starting with `.` or `-` (it is
    a directory of a Triton repository and a part of URLs)."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"{what} must be letters, digits, '_', '.' or '-' (not starting with "
                         f"'.' or '-'), got {name!r}")


def _check_interval(seconds: float) -> None:
    """A wait the watcher thread can make: Event.wait raises OverflowError for inf and for
    anything over threading.TIMEOUT_MAX, and the watcher would die."""
    number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
    if not number or not 0 <= seconds <= threading.TIMEOUT_MAX:
        raise ValueError(f"--reload-interval must be a number of seconds from 0 (no hot "
                         f"reload) to {threading.TIMEOUT_MAX:.0f}, got {seconds!r}")


def _positive_ints(config: ServiceConfig, fields: tuple[str, ...]) -> None:
    for field in fields:
        value = getattr(config, field)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            flag = "--" + field.replace("_", "-")
            raise ValueError(f"{flag} must be a positive integer, got {value!r}")
