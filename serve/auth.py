"""API keys: with any configured, every route but health needs `Authorization: Bearer KEY`
(and every RPC but health the gRPC metadata `authorization: Bearer KEY`, serve/grpc_v2.py).

Keys come from a file (one per line; blank lines and lines starting with # are skipped),
or else from the environment variable KERAS_PG_API_KEY. Each comparison is constant-time
on SHA-256 digests (hmac.compare_digest), so neither a key's characters nor its length leak
through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from serve.errors import error_response

KEY_ENV = "KERAS_PG_API_KEY"
OPEN_PATHS = frozenset({"/healthz", "/v2/health/live", "/v2/health/ready"})
MIN_KEY_LENGTH = 16


def load_keys(key_file: str | None) -> list[bytes]:
    """The SHA-256 digests of the keys in `key_file`, or of $KERAS_PG_API_KEY ([] if
    neither); ValueError (one line) for an unreadable file or a key that is too short."""
    if key_file is not None:
        try:
            lines = Path(key_file).read_text().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"--api-key-file {key_file}: cannot read it ({exc})") from None
        keys = [k.strip() for k in lines if k.strip() and not k.strip().startswith("#")]
        if not keys:
            raise ValueError(f"--api-key-file {key_file} holds no key; expected one per line")
        where = f"--api-key-file {key_file}"
    else:
        keys = [os.environ[KEY_ENV]] if os.environ.get(KEY_ENV) else []
        where = KEY_ENV
    short = [k for k in keys if len(k) < MIN_KEY_LENGTH]
    if short:
        raise ValueError(f"{where}: a key of {len(short[0])} characters; use at least "
                         f"{MIN_KEY_LENGTH} (e.g. python -c 'import secrets; "
                         f"print(secrets.token_urlsafe(32))')")
    return [_digest(k.encode()) for k in keys]


class ApiKeyAuth:
    """ASGI middleware: 401 for a request without a valid bearer key, except on health
    routes (load balancers and Kubernetes probes call them without one)."""

    def __init__(self, app: ASGIApp, keys: list[bytes]) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._allowed(scope):
            return await self.app(scope, receive, send)
        response = error_response(scope["path"], 401, "missing or invalid API key; send "
                                                      "the header Authorization: Bearer KEY",
                                  headers={"WWW-Authenticate": "Bearer"})
        return await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        return authorized(dict(scope["headers"]).get(b"authorization", b""), self.keys)


def authorized(header: bytes, keys: list[bytes]) -> bool:
    """Whether an Authorization value `Bearer KEY` carries one of `keys` (SHA-256 digests,
    from load_keys); the HTTP middleware and the gRPC service (serve/grpc_v2.py) ask it."""
    scheme, _, key = header.partition(b" ")
    if scheme.lower() != b"bearer" or not key:
        return False
    digest = _digest(key.strip())
    matched = False
    for known in keys:  # every key compared: the time does not tell which matched
        matched |= hmac.compare_digest(digest, known)
    return matched


def _digest(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()
