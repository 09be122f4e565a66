"""Running a request's work away from the event loop, so that health checks and small
requests keep their milliseconds while large batches run.

Inference runs in a bounded set of threads: onnxruntime releases the GIL while it computes.
Decoding and encoding a large body cannot share the process that way -- pydantic's JSON
parser and json.dumps hold the GIL for one C call of ~60 ms per MiB, and the event loop
waits for every such call (20 requests of 1 MiB held /healthz for 1.5 s from threads) -- so
bodies over LARGE_BODY are decoded and encoded in worker processes. Small bodies run all
three steps in one thread: a process round trip would cost more than their whole work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from serve.errors import Failure

LARGE_BODY = 64 << 10  # bytes; a body up to here is decoded in ~1 ms
Decoded = TypeVar("Decoded")
Result = TypeVar("Result")
Encoded = TypeVar("Encoded")


class Offload:
    """Threads (at most `threads` requests at once) and, between start() and stop(),
    `processes` worker processes for large bodies (0: threads only)."""

    def __init__(self, threads: int, processes: int) -> None:
        self.threads, self.processes = threads, processes
        self._limiter: anyio.CapacityLimiter | None = None  # made in the event loop
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def start(self) -> None:
        if self.processes > 0:
            # spawn: the server's process has threads, which fork would copy mid-state.
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn"))
            for _ in range(self.processes):  # start them now, not at the first large body
                self._pool.submit(int)

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.threads)
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def respond(self, size: int, decode: Callable[[], Decoded | Failure],
                      run: Callable[[Decoded], Result | Failure],
                      encode: Callable[[Result], Encoded]) -> Encoded | Failure:
        """encode(run(decode())), or the first Failure among them. `decode` and `encode`
        must pickle (functools.partial of module-level functions): for a body of `size`
        over LARGE_BODY they run in a worker process."""
        if self._pool is None or size <= LARGE_BODY:
            return await self.thread(_chain, decode, run, encode)
        loop = asyncio.get_running_loop()
        decoded = await loop.run_in_executor(self._pool, decode)
        if isinstance(decoded, Failure):
            return decoded
        result = await self.thread(run, decoded)
        if isinstance(result, Failure):
            return result
        return await loop.run_in_executor(self._pool, encode, result)


def _chain(decode: Callable[[], Decoded | Failure], run: Callable[[Decoded], Result | Failure],
           encode: Callable[[Result], Encoded]) -> Encoded | Failure:
    decoded = decode()
    if isinstance(decoded, Failure):
        return decoded
    result = run(decoded)
    return result if isinstance(result, Failure) else encode(result)
