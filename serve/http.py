"""The HTTP service: FastAPI routes around the served policies, run by uvicorn.

    /v1/act, /v1/metadata        keras-pg's own routes (serve/v1.py), for the default model
    /v2/...                      the Open Inference Protocol (serve/v2.py), every model
                                 (and over gRPC on --grpc-port: serve/grpc_v2.py)
    GET /healthz                 {"status": "ok"}
    GET /openapi.json, /docs     the schema

Around the routes, outermost first: CORS (only with --cors-origin), API keys (serve/auth.py),
the body bound (serve/limits.py). Request work runs in threads, large bodies' decoding in
worker processes (serve/offload.py); a thread watches the files for replacements
(serve/reload.py).
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from serve.auth import ApiKeyAuth, load_keys
from serve.config import ServiceConfig
from serve.limits import BodyLimit
from serve.offload import Offload
from serve.openapi import document
from serve.policy import OnnxPolicy
from serve.reload import Watcher
from serve.repository import load_models
from serve.schemas import ActRequest, InferRequest
from serve.v1 import v1_router
from serve.v2 import v2_router
from serve.web import add_web_routes

MAX_BODY_BYTES = ServiceConfig.max_body_bytes
CONFIG_ENV = "KERAS_PG_SERVE_CONFIG"  # the ServiceConfig of uvicorn's worker processes
BEARER = {"bearer": {"type": "http", "scheme": "bearer"}}
GRPC_GRACE_S = 2.0  # for RPCs in flight at shutdown


def create_app(policy: OnnxPolicy | None = None, config: ServiceConfig | None = None
               ) -> FastAPI:
    """The FastAPI application serving `policy`, or the models `config` names.

    `create_app(policy)` serves one loaded policy under its file's stem with the default
    bounds (and reloads the file when it is replaced, once served by uvicorn);
    `create_app(config=...)` loads what the config names (PolicyLoadError if it cannot).
    """
    config = _config_or_default(config, policy)
    models = load_models(config, policy)
    watcher = Watcher(models, config.reload_interval)
    offload = Offload(config.inference_threads, config.decode_processes)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        grpc_service = None
        if config.grpc_port is not None:
            from serve.grpc_v2 import grpc_server  # grpcio: the optional extra "grpc"

            grpc_service = grpc_server(models, config)  # the same models: reloads show
            grpc_service.start()
        offload.start()
        if config.reload_interval > 0:
            watcher.start()
        yield
        watcher.stop()
        offload.stop()
        if grpc_service is not None:
            grpc_service.stop(grace=GRPC_GRACE_S).wait()

    first = next(iter(models.values()))
    policy = first.current.policy
    app = FastAPI(title="keras-pg policy", version="1", lifespan=lifespan,
                  description=f"ONNX policies {', '.join(models)} (first for "
                              f"{policy.metadata.get('env_id', 'an unknown env')}): /v1 "
                              "routes for the default model, the Open Inference Protocol "
                              "(v2) for every model")
    if len(models) == 1:  # /v1 has no model name: it serves the only one
        app.include_router(v1_router(first, offload, config.max_batch))
    app.include_router(v2_router(models, offload, config.max_batch))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    add_web_routes(app, lambda: first.current.policy)  # GET /: the policy in the browser

    keys = load_keys(config.api_key_file)
    document(app, [ActRequest, InferRequest], BEARER if keys else None)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    if keys:
        app.add_middleware(ApiKeyAuth, keys=keys)
    if config.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type",
                                          "Inference-Header-Content-Length"],
                           expose_headers=["Inference-Header-Content-Length"])
    return app


def _config_or_default(config: ServiceConfig | None, policy: OnnxPolicy | None
                       ) -> ServiceConfig:
    """`config`, or else the default one serving `policy`'s file."""
    if config is not None:
        return config
    if policy is None:
        raise TypeError("create_app needs a policy or a config; got neither")
    return ServiceConfig(policy=str(policy.path))


def app_from_environment() -> FastAPI:
    """The app of a uvicorn worker process (`--workers N`), from $KERAS_PG_SERVE_CONFIG."""
    return create_app(config=ServiceConfig.from_json(os.environ[CONFIG_ENV]))


def exposure_warning(config: ServiceConfig, keys: list[bytes]) -> str | None:
    """The warning for a service reachable beyond this machine without an API key."""
    if config.loopback or keys:
        return None
    return (f"warning: serving on {config.host} without an API key: anyone who can reach "
            f"this address can call the policy; pass --api-key-file FILE (or set "
            f"KERAS_PG_API_KEY)")


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration plus the logger `serve` at INFO (hot reload's swaps
    and refusals), applied in every worker process."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["serve"] = {"handlers": ["default"], "level": "INFO",
                                  "propagate": False}
    return config


def serve_http(config: ServiceConfig, policy: OnnxPolicy | None = None) -> None:
    """Run the service until interrupted: in this process, or in `config.workers` worker
    processes that each build the app from the config."""
    import uvicorn

    warning = exposure_warning(config, load_keys(config.api_key_file))
    if warning:
        print(warning, file=sys.stderr, flush=True)
    options: dict[str, Any] = {"host": config.host, "port": config.port,
                               "log_level": "warning", "access_log": False,
                               "log_config": log_config()}
    if config.workers == 1:
        uvicorn.run(create_app(policy, config), **options)
        return
    os.environ[CONFIG_ENV] = config.to_json()
    uvicorn.run("serve.http:app_from_environment", factory=True, workers=config.workers,
                **options)
