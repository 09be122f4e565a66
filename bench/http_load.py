"""A bounded HTTP load generator for the serve benchmark: N keep-alive connections on
loopback, each sending one request after the other for a fixed time (asyncio, one process,
so the client costs little beside the server)."""

from __future__ import annotations

import asyncio
import time

import numpy as np


async def _client(host: str, port: int, request: bytes, deadline: float,
                  latencies: list[float], statuses: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            statuses.append(status)
    finally:
        writer.close()


def run_load(host: str, port: int, path: str, body: bytes, clients: int = 4,
             seconds: float = 10.0) -> dict:
    """Requests/s, latency p50/p99 (ms) and error count for `clients` concurrent clients."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"load tests target loopback only, got {host}")
    request = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    latencies: list[float] = []
    statuses: list[int] = []

    async def main() -> float:
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(*(_client(host, port, request, deadline, latencies, statuses)
                               for _ in range(clients)))
        return time.perf_counter() - start

    wall = asyncio.run(main())
    ms = np.asarray(latencies) * 1000
    return {"clients": clients, "seconds": round(wall, 2), "requests": len(latencies),
            "requests_per_s": round(len(latencies) / wall, 1),
            "latency_p50_ms": round(float(np.percentile(ms, 50)), 3),
            "latency_p99_ms": round(float(np.percentile(ms, 99)), 3),
            "errors": sum(s != 200 for s in statuses)}
