"""Documenting in /openapi.json the request bodies that routes parse themselves.

FastAPI documents a body it parses; the service parses its bodies in a thread instead
(serve/offload.py), so each route names its model with `body_of`, and `document` adds the
models' JSON schemas to the schema's components.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

REF = "#/components/schemas/{model}"


def body_of(model: type[BaseModel], media_type: str = "application/json") -> dict[str, Any]:
    """A route's `openapi_extra`: its request body is `model`."""
    schema = {"$ref": REF.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


def document(app: FastAPI, models: list[type[BaseModel]],
             security: dict[str, Any] | None = None) -> None:
    """Add `models` (and the models they use) to the app's schema components, and a
    security scheme that every operation requires, if given."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for model in models:
            described = model.model_json_schema(ref_template=REF)
            schemas.update(described.pop("$defs", {}))
            schemas[model.__name__] = described
        if security is not None:
            components["securitySchemes"] = security
            schema["security"] = [{name: []} for name in security]
        app.openapi_schema = schema
        return schema

    # FastAPI's documented way to extend the schema it generates: replace the method
    # (https://fastapi.tiangolo.com/how-to/extending-openapi/)
    app.openapi = openapi  # type: ignore[method-assign]
