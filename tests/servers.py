"""`python -m serve ... --http` on a free loopback port, started and stopped by a test, and
the clients that call it (the tests' and bench/'s).
"""

import asyncio
import contextlib
import http.client
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, headers=None, timeout=10.0):
    """(status, parsed JSON) of one request; body is bytes or a JSON-able object."""
    status, _, content = request_raw(port, method, path, body, headers, timeout)
    return status, json.loads(content or b"null")


def request_raw(port, method, path, body=None, headers=None, timeout=10.0):
    """(status, headers as a lowercase dict, body bytes) of one request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        conn.request(method, path, body=body,
                     headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return (response.status, {k.lower(): v for k, v in response.getheaders()},
                response.read())
    finally:
        conn.close()


@contextlib.contextmanager
def running_server(policy_path: Path | None, *args: str, env: dict | None = None,
                   log: Path | None = None, health_headers: dict | None = None):
    """`python -m serve [POLICY] --http ARGS` on a free loopback port; yields the port.

    The server's stderr goes to `log` (if given); it is stopped when the block ends.
    """
    port = free_port()
    command = [sys.executable, "-m", "serve", *([str(policy_path)] if policy_path else []),
               "--http", "--host", "127.0.0.1", "--port", str(port), *args]
    with contextlib.ExitStack() as stack:
        stderr = (stack.enter_context(open(log, "w")) if log is not None
                  else subprocess.DEVNULL)
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr,
                                env=env)
        try:
            _wait_until_up(proc, port, health_headers, log)
            yield port
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def _wait_until_up(proc, port, headers, log) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if request(port, "GET", "/healthz", headers=headers, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: "
                                 f"{log.read_text() if log else ''}")
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)


def big_body(limit: int = 1 << 20) -> tuple[bytes, int]:
    """(the largest /v1/act body under `limit` bytes, its observations): observations of one
    decimal, the most observations per byte (as in the issue's report): ~43,700 of them."""
    rows = np.round(np.random.default_rng(0).uniform(-1, 1, (50_000, 4)), 1).tolist()
    low, high = 1, len(rows)
    while low < high:
        middle = (low + high + 1) // 2
        if len(json.dumps({"obs": rows[:middle]})) < limit:
            low = middle
        else:
            high = middle - 1
    return json.dumps({"obs": rows[:low]}).encode(), low


async def post(port: int, path: str, body: bytes) -> int:
    """The status of one POST of the JSON `body` to `path`, on a connection of its own."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 60)
    writer.close()
    return int(answer.split(b" ", 2)[1])


async def health_latencies(port: int, stop: asyncio.Event, latencies: list[float]) -> None:
    """GET /healthz every 20 ms until `stop` is set, appending each one's seconds to
    `latencies`."""
    while not stop.is_set():
        start = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        await writer.drain()
        await reader.read()
        writer.close()
        latencies.append(time.perf_counter() - start)
        await asyncio.sleep(0.02)
