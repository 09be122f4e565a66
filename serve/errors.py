"""How the HTTP service reports a refused request.

Routes under /v2 answer in the Open Inference Protocol's form, `{"error": "message"}`
(what Triton and KServe clients read); the others in FastAPI's, `{"detail": ...}`.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from starlette.responses import Response

V2_PREFIX = "/v2"


class RequestError(Exception):
    """A request the service refuses: the HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Failure(NamedTuple):
    """A refused request as a value (it pickles as it is, across worker processes)."""

    status: int
    message: str


def error_response(path: str, status: int, message: str,
                   headers: dict[str, str] | None = None) -> Response:
    """`message` with `status`, in the form the route at `path` uses."""
    key = "error" if path == V2_PREFIX or path.startswith(V2_PREFIX + "/") else "detail"
    return Response(json.dumps({key: message}), status, headers=headers,
                    media_type="application/json")
