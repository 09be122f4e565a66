"""The Open Inference Protocol, version 2 (REST): what KServe and Triton clients speak.

    GET  /v2                                   server metadata
    GET  /v2/health/live, /v2/health/ready     200 while the server runs / has its models
    GET  /v2/models/{name}[/versions/{v}]      inputs and outputs (datatype, shape), version
    GET  /v2/models/{name}[/versions/{v}]/ready
    POST /v2/models/{name}[/versions/{v}]/infer
    GET  /v2/models/{name}[/versions/{v}]/config   Triton's model configuration (JSON)
    GET  /v2/models[/{name}[/versions/{v}]]/stats  Triton's inference statistics
    POST /v2/repository/index                      the models and their state

Infer takes JSON tensors ({"name", "shape", "datatype", "data"}) or the binary tensor data
extension (serve/tensors.py), and answers with the model's outputs, or those the request
names, as JSON data or, when asked ("binary_data" per output, "binary_data_output" for
all), as raw bytes. The outputs are the graph's, as OnnxPolicy.distribution returns them,
in their wire shapes (serve/protocol.py: [batch] travels as [batch, 1], as in Triton).
A policy of action masks takes the optional input `action_mask` BOOL (or UINT8, INT8 of 0/1)
[batch, P]: without it every action is legal.
Errors are {"error": "message"}: 400 a bad request, 404 an unknown model or version, 413
over a bound, 415 a compressed body, 422 a policy output that is NaN or inf.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from starlette.responses import Response

from serve import protocol
from serve.codec import Inference, decode_infer, encode_infer
from serve.errors import Failure, RequestError, error_response
from serve.models import ModelVersion, ServedModel
from serve.offload import Offload
from serve.openapi import body_of
from serve.schemas import (
    ErrorResponse,
    InferRequest,
    InferResponse,
    ModelMetadata,
    RepositoryIndexRequest,
    parse,
)

HEADER_LENGTH = "inference-header-content-length"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text} for code, text in [
        (400, "a request the model cannot take"), (404, "no such model or version"),
        (413, "body or batch over the bounds"), (415, "a compressed body"),
        (422, "a policy output that is NaN or inf")]}


def v2_router(models: dict[str, ServedModel], offload: Offload, max_batch: int) -> APIRouter:
    routes = Routes(models, offload, max_batch)
    router = APIRouter(prefix="/v2")
    meta = {"response_model": ModelMetadata, "responses": ERRORS}
    infer = {"response_model": InferResponse, "responses": ERRORS, "methods": ["POST"]}
    named = {"responses": ERRORS, "openapi_extra": path_parameters("name")}
    versioned = {"responses": ERRORS, "openapi_extra": path_parameters("name", "version")}
    # Inference first: a router tries its routes in order, ~5 µs each. Each model route
    # is there with and without /versions/{version} (clients send it when given one).
    endpoints: list[tuple[str, Callable[..., Any], dict[str, Any]]] = [
        ("/models/{name}/infer", routes.infer,
         infer | {"openapi_extra": body_of(InferRequest) | path_parameters("name")}),
        ("/models/{name}/versions/{version}/infer", routes.infer,
         infer | {"openapi_extra": body_of(InferRequest) | path_parameters("name",
                                                                           "version")}),
        ("", routes.server, {}), ("/health/live", routes.live, {}),
        ("/health/ready", routes.ready, {}),
        ("/models/stats", routes.all_stats, {"responses": ERRORS}),
        ("/models/{name}", routes.model, meta),
        ("/models/{name}/versions/{version}", routes.model_version, meta),
        ("/models/{name}/ready", routes.model_ready, {"responses": ERRORS}),
        ("/models/{name}/versions/{version}/ready", routes.model_version_ready,
         {"responses": ERRORS}),
        ("/models/{name}/config", routes.config, named),
        ("/models/{name}/versions/{version}/config", routes.config, versioned),
        ("/models/{name}/stats", routes.stats, named),
        ("/models/{name}/versions/{version}/stats", routes.stats, versioned),
        ("/repository/index", routes.index,
         {"methods": ["POST"], "openapi_extra": body_of(RepositoryIndexRequest)})]
    for path, endpoint, options in endpoints:
        router.add_api_route(path, endpoint, **options)
    return router


def path_parameters(*names: str) -> dict[str, Any]:
    """The OpenAPI declaration of path parameters an endpoint reads from the request itself
    (FastAPI's own parsing of them costs ~20 µs a request, a tenth of an inference's)."""
    return {"parameters": [{"name": name, "in": "path", "required": True,
                            "schema": {"type": "string", "title": name.title()}}
                           for name in names]}


class Routes:
    """The v2 endpoints over `models`."""

    def __init__(self, models: dict[str, ServedModel], offload: Offload, max_batch: int
                 ) -> None:
        self.models, self.offload, self.max_batch = models, offload, max_batch

    async def server(self) -> dict[str, Any]:
        return protocol.SERVER

    async def live(self) -> dict[str, bool]:
        return {"live": True}

    async def ready(self) -> dict[str, bool]:
        return {"ready": True}  # every model is loaded before the server starts

    async def model(self, name: str) -> Response:
        return self._metadata(name, None)

    async def model_version(self, name: str, version: str) -> Response:
        return self._metadata(name, version)

    async def model_ready(self, name: str) -> Response:
        return self._ready(name, None)

    async def model_version_ready(self, name: str, version: str) -> Response:
        return self._ready(name, version)

    async def infer(self, request: Request) -> Response:
        parameters = request.path_params
        return await self._infer(request, parameters["name"], parameters.get("version"))

    async def config(self, request: Request) -> Response:
        return self._answer(request, lambda served, name: protocol.model_config(
            name, served, self.max_batch))

    async def stats(self, request: Request) -> Response:
        parameters = request.path_params
        return self._reply(lambda: protocol.statistics(self.models, parameters["name"],
                                                       parameters.get("version")))

    async def all_stats(self) -> Response:
        return self._reply(lambda: protocol.statistics(self.models, None, None))

    async def index(self, request: Request) -> Response:
        body = await request.body()
        try:
            ready = parse(RepositoryIndexRequest, body or b"{}").ready
        except RequestError as exc:
            return _error(exc)
        return _json(protocol.repository_index(self.models, ready is True))

    def _answer(self, request: Request, answer: Callable[[ModelVersion, str], Any]
                ) -> Response:
        parameters = request.path_params
        return self._reply(lambda: answer(protocol.find(
            self.models, parameters["name"], parameters.get("version")), parameters["name"]))

    def _reply(self, answer: Callable[[], Any]) -> Response:
        try:
            return _json(answer())
        except RequestError as exc:
            return _error(exc)

    def _metadata(self, name: str, version: str | None) -> Response:
        return self._reply(lambda: protocol.model_metadata(
            name, protocol.find(self.models, name, version)))

    def _ready(self, name: str, version: str | None) -> Response:
        try:
            protocol.find(self.models, name, version, status=400)
        except RequestError as exc:
            return _error(exc)
        return _json({"name": name, "ready": True})

    async def _infer(self, request: Request, name: str, version: str | None) -> Response:
        start = time.perf_counter_ns()
        try:
            served = protocol.find(self.models, name, version)
            if request.headers.get("content-encoding", "identity") != "identity":
                raise RequestError(415, "compressed request bodies are not supported; send "
                                        "the body uncompressed")
        except RequestError as exc:
            return _error(exc)
        body = await request.body()
        decode = functools.partial(decode_infer, body, request.headers.get(HEADER_LENGTH),
                                   served.wire.inputs, served.signature.inputs,
                                   [o.name for o in served.signature.outputs], self.max_batch,
                                   served.policy.mask_spec.refusal)
        answer = await self.offload.respond(
            len(body), decode, functools.partial(outputs, served),
            functools.partial(encode_infer, name, served.number))
        if isinstance(answer, Failure):
            return error_response("/v2", answer.status, answer.message)
        content, header_length, done = answer
        protocol.record(served, done.size, time.perf_counter_ns() - start, done.phases)
        if header_length is None:
            return Response(content, media_type="application/json")
        return Response(content, media_type="application/octet-stream",
                        headers={"Inference-Header-Content-Length": str(header_length)})


def outputs(served: ModelVersion, decoded: tuple[dict[str, np.ndarray], Inference]
            ) -> tuple[Inference, dict[str, np.ndarray]] | Failure:
    """(how to answer, every output of the model) for a decoded (batch, how to answer)."""
    batch, request = decoded
    start = time.perf_counter_ns()
    values = protocol.infer(served, batch)
    if isinstance(values, Failure):
        return values
    phases = {**request.phases, "compute_infer": time.perf_counter_ns() - start}
    return request._replace(phases=phases), values


def _json(value: Any) -> Response:
    return Response(json.dumps(value), media_type="application/json")


def _error(exc: RequestError) -> Response:
    return error_response("/v2", exc.status, exc.message)
