"""The HTTP service: FastAPI routes around one OnnxPolicy, served by uvicorn.

    POST /v1/act       {"obs": [...] or [[...], ...], "deterministic": true}
                       -> {"actions": [...], "probs": [[...], ...]}  (discrete)
                       -> {"actions": [[...]], "mean": [[...]], "std": [[...]]}  (continuous)
                       (an image policy's obs are nested lists of integers in [0, 255])
    GET  /v1/metadata  the policy's ONNX metadata, observation shape and dtype, action space
    GET  /healthz      {"status": "ok"}
    GET  /openapi.json the schema (FastAPI)

Bad requests get a 4xx with a message (malformed JSON 422, bad observations 400, bodies
over the limit 413); the server keeps answering.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from serve.policy import OnnxPolicy

MAX_BODY_BYTES = 1 << 20


class ActRequest(BaseModel):
    obs: list[Any] = Field(description="one observation, or a batch of them (nested lists); "
                                       "integers in [0, 255] for a uint8 (image) input")
    deterministic: bool = Field(True, description="greedy actions; false samples from probs")


class ActResponse(BaseModel):
    actions: list[int] | list[list[float]] = Field(
        description="one action per observation: an integer (discrete) or a vector")
    probs: list[list[float]] | None = Field(
        None, description="action probabilities per observation (discrete policies)")
    mean: list[list[float]] | None = Field(
        None, description="Gaussian mean per observation (continuous policies)")
    std: list[list[float]] | None = Field(
        None, description="Gaussian standard deviation per observation (continuous policies)")


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets 413 before the app sees it."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await self._reject(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                return await self._reject(scope, receive, send)
        body = b"".join(chunks)

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    async def _reject(self, scope, receive, send) -> None:
        response = JSONResponse({"detail": f"request body over {self.max_bytes} bytes"}, 413)
        await response(scope, receive, send)


def create_app(policy: OnnxPolicy, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The FastAPI application serving `policy`."""
    app = FastAPI(title="keras-pg policy", version="1",
                  description=f"ONNX policy {policy.path.name} for "
                              f"{policy.metadata.get('env_id', 'an unknown env')}")

    @app.post("/v1/act", response_model=ActResponse, response_model_exclude_none=True,
              responses={400: {"description": "observations of the wrong shape or range, "
                                                "or NaN"},
                         413: {"description": "body over the size limit"}})
    async def act(request: ActRequest):
        try:
            actions, distribution = policy.decide(request.obs, request.deterministic)
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return {"actions": actions.tolist(),
                **{name: value.tolist() for name, value in distribution.items()}}

    @app.get("/v1/metadata")
    async def metadata() -> dict[str, Any]:
        return {"metadata": policy.metadata, "observation_shape": list(policy.observation_shape),
                "observation_dtype": str(policy.observation_dtype),
                "action_space": policy.action_space}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    return app


def check_port(port: int, name: str = "port") -> None:
    """A TCP port, 1 to 65535 (uvicorn would take 70000 modulo 65536 without a word)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"{name} must be an integer in 1-65535, got {port!r}")


def serve_http(policy: OnnxPolicy, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the service in this process (one worker) until interrupted."""
    import uvicorn

    check_port(port)

    uvicorn.run(create_app(policy), host=host, port=port, log_level="warning",
                access_log=False)
