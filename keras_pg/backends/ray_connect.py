"""Joining a Ray cluster, or starting a local one, without hanging on a wrong address.

`ray.init(address=...)` retries for minutes when something other than Ray listens there (an
HTTP service, a database): the TCP connect succeeds and Ray's own client keeps trying. So
before Ray is asked, one gRPC call to the cluster's control store (GCS) -- the first call
`ray.init` makes itself -- answers within CONNECT_TIMEOUT_S, and an address where Ray does not
answer is one ConfigError saying what answered instead. Ray is imported only when joining.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any

from keras_pg.config import ConfigError
from keras_pg.errors import first_line

CONNECT_TIMEOUT_S = 5.0
GCS_PROBE = "/ray.rpc.NodeInfoGcsService/GetClusterId"


def connect(address: str | None) -> bool:
    """Join the Ray cluster at `address` ("auto", "HOST:PORT"), or start a local one (None);
    True if this call started Ray. An address where Ray does not answer is a ConfigError
    within about CONNECT_TIMEOUT_S, not a hang."""
    import ray

    if ray.is_initialized():
        return False
    if address not in (None, "auto"):
        check_ray_answers(address, CONNECT_TIMEOUT_S)
    # Actors import keras_pg (and the user's env module) the way this process did.
    path = os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p and os.path.isdir(p))
    options: dict[str, Any] = {"runtime_env": {"env_vars": {"PYTHONPATH": path}},
                               "logging_level": logging.ERROR, "log_to_driver": False}
    try:
        if address is None:
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except ConnectionError as exc:
        raise ConfigError(f"cannot join the Ray cluster at {address}: {first_line(exc)}"
                          ) from None
    return address is None


def check_ray_answers(address: str, timeout_s: float) -> None:
    """Raise a one-line ConfigError unless a Ray cluster's GCS answers at `address`
    ("HOST:PORT") within `timeout_s` seconds; the message names what answered instead."""
    host, _, port_text = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    hint = "start one with `ray start --head` or drop --ray-address"
    try:
        port = int(port_text)
        socket.create_connection((host, port), timeout_s).close()
    except (OSError, ValueError, OverflowError) as exc:
        raise ConfigError(f"no Ray cluster answers at {address} ({first_line(exc)}); {hint}"
                          ) from None
    answered = _grpc_answer(address, timeout_s)
    if answered is not None:
        raise ConfigError(f"no Ray cluster answers at {address}: {answered}; {hint}")


def _grpc_answer(address: str, timeout_s: float) -> str | None:
    """None when Ray's GCS answers the probe call at `address`; otherwise what did answer."""
    import grpc

    channel = grpc.insecure_channel(address)
    probe = channel.unary_unary(GCS_PROBE, request_serializer=bytes,
                                response_deserializer=bytes)
    try:
        probe(b"", timeout=timeout_s)
        return None
    except grpc.RpcError as exc:
        code = exc.code()
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return None  # Ray with token authentication: ray.init reports its own error
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return "a gRPC server that is not Ray's answered (it has no Ray GCS service)"
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return (f"something accepts connections there but did not answer Ray's handshake "
                    f"within {timeout_s:g} s")
        return _http_answer(address, timeout_s) or (
            f"the service there does not speak Ray's protocol ({first_line(exc.details() or '')})")
    finally:
        channel.close()


def _http_answer(address: str, timeout_s: float) -> str | None:
    """'an HTTP server answered (HTTP/1.1 404 Not Found, server: uvicorn)' when an HTTP/1
    server listens at `address`, else None."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)),
                                      timeout_s) as conn:
            conn.sendall(b"HEAD / HTTP/1.0\r\nHost: keras-pg\r\n\r\n")
            reply = conn.recv(4096).decode("latin-1")
    except (OSError, ValueError):
        return None
    lines = reply.splitlines()
    if not lines or not lines[0].startswith("HTTP/"):
        return None
    server = next((line.split(":", 1)[1].strip() for line in lines[1:]
                   if line.lower().startswith("server:")), None)
    return (f"an HTTP server answered ({lines[0].strip()}"
            + (f", server: {server})" if server else ")"))
