"""The service's TCP ports: a number in 1-65535 that the host can bind, checked before
`python -m serve` announces the service. uvicorn finds a port in use only once it starts --
after "serving ..." is printed -- and then exits with code 3; grpc's own message is a
traceback from the worker.
"""

from __future__ import annotations

import errno
import socket


def check_port(port: int, flag: str) -> None:
    """A TCP port, 1 to 65535 (uvicorn would take 70000 modulo 65536 without a word)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"{flag} must be an integer in 1-65535, got {port!r}")


def check_free(host: str, port: int, flag: str) -> None:
    """ValueError (one line) if `host:port` cannot be bound: in use, or `host` is not an
    address of this machine. Probed as uvicorn binds: IPv6 for a host with ':', IPv4
    otherwise, with SO_REUSEADDR (a port in TIME_WAIT is free)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ValueError(f"port {port} on {host} is in use; stop what listens there or "
                             f"pass another {flag}") from None
        raise ValueError(f"{flag} {port}: cannot bind {host}:{port} ({exc.strerror or exc}); "
                         "is --host an address of this machine?") from None
