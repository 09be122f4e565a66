"""Bounds on what one request may ask of the service: its body's size and its batch.

Both answer 413 (Payload Too Large) before the work: the body before it is read in full,
the batch before inference. ServiceConfig.max_body_bytes and max_batch set them.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve.errors import RequestError, error_response


def check_batch(size: int, max_batch: int) -> None:
    if size > max_batch:
        raise RequestError(413, f"batch of {size} observations is over the limit of "
                                f"{max_batch} (--max-batch)")


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets 413 before the app sees it.

    The body is read here in full (it is bounded), so the routes get it at once.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await self._reject(scope, receive, send)
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                return await self._reject(scope, receive, send)
        body = [b"".join(chunks)]

        async def replay() -> Message:
            """The body once; then what the client sends next (a disconnect), which a
            streaming response waits for: replaying the body again would spin for ever."""
            if body:
                return {"type": "http.request", "body": body.pop(), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(scope["path"], 413, f"request body over {self.max_bytes} "
                                                      "bytes (--max-body-bytes)")
        await response(scope, receive, send)
