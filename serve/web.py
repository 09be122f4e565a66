"""The web page of the HTTP service: the policy playing in the browser.

    GET /                     the page (serve/js/web/index.html)
    GET /policy.onnx          the policy file, which the page loads with onnxruntime-web
    GET /web/config.json      where the page finds the policy, its name, and the load options
                              of a file without keras_pg metadata (--observation-shape,
                              --action-type)
    GET /web/{file}           the page's scripts and style (serve/js/web/)
    GET /js/src/{path}        the JavaScript package (serve/js/src/)
    GET /js/vendor/{file}     onnxruntime-web's WebAssembly build and protobufjs, from
                              serve/js/node_modules (`npm ci` in serve/js installs them)

Everything the page needs comes from the service itself (no CDN): it works offline. The
files are read from a fixed list of directories and names; nothing else is served.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

from serve.contract import ACTION_TYPE_OF_SPACE, CONTRACT_VERSION_KEY
from serve.policy import OnnxPolicy

JS = Path(__file__).resolve().parent / "js"
NODE_MODULES = JS / "node_modules"
VENDOR = {  # URL name -> file in node_modules: what the page loads of the npm packages
    "ort/ort.wasm.min.mjs": "onnxruntime-web/dist/ort.wasm.min.mjs",
    "ort/ort-wasm-simd-threaded.mjs": "onnxruntime-web/dist/ort-wasm-simd-threaded.mjs",
    "ort/ort-wasm-simd-threaded.wasm": "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
    "protobuf.min.js": "protobufjs/dist/light/protobuf.min.js",
}
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".wasm": "application/wasm", ".json": "application/json",
               ".onnx": "application/octet-stream"}
MISSING = """<!doctype html><meta charset="utf-8"><title>keras-pg policy</title>
<p>The web page needs {what}: {missing} is missing. {fix}
The service's JSON routes work without it: <a href="docs">/docs</a>.</p>
"""
NO_JS = ("serve/js, which a pip-installed serve does not ship",
         "Run the service from a keras-pg checkout.")
NO_PACKAGES = ("the npm packages of serve/js (onnxruntime-web, protobufjs)",
               "Install them with <code>npm ci</code> in serve/js (Node 20+), then reload.")


def add_web_routes(app: FastAPI, current: Callable[[], OnnxPolicy]) -> None:
    """Mounts the page and the files it loads on `app`; `current()` is the policy being
    served (hot reload may replace it: the page loads the one served when it opens).
    The routes are plain functions, which FastAPI runs in its thread pool: reading a file
    (onnxruntime-web's .wasm is 14 MB) does not hold up the event loop."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> Response:
        index = JS / "web" / "index.html"
        vendor = (NODE_MODULES / f for f in VENDOR.values())
        missing = index if not index.is_file() else next(
            (f for f in vendor if not f.is_file()), None)
        if missing is not None:
            what, fix = NO_JS if missing == index else NO_PACKAGES
            return HTMLResponse(MISSING.format(what=what, missing=missing, fix=fix), 503)
        return _file(index)

    @app.get("/policy.onnx", include_in_schema=False)
    def policy_file() -> Response:
        return _file(current().path)

    @app.get("/web/config.json", include_in_schema=False)
    def config() -> dict[str, Any]:
        policy = current()
        return {"policy": "./policy.onnx", "options": {"name": policy.path.name,
                                                       **load_options(policy)}}

    @app.get("/web/{name}", include_in_schema=False)
    def web(name: str) -> Response:
        return _file(_inside(JS / "web", name))

    @app.get("/js/src/{path:path}", include_in_schema=False)
    def package(path: str) -> Response:
        return _file(_inside(JS / "src", path))

    @app.get("/js/vendor/{name:path}", include_in_schema=False)
    def vendor(name: str) -> Response:
        if name not in VENDOR:
            raise HTTPException(404)
        return _file(NODE_MODULES / VENDOR[name])


def load_options(policy: OnnxPolicy) -> dict[str, Any]:
    """What the page passes to loadPolicy: nothing for a keras_pg file; the observation shape
    and action type the service was started with for a file without metadata."""
    if CONTRACT_VERSION_KEY in policy.metadata:
        return {}
    return {"observation_shape": list(policy.observation_shape),
            "action_type": ACTION_TYPE_OF_SPACE[policy.action_space["type"]]}


def _inside(root: Path, relative: str) -> Path:
    """root/relative if it is a file under root (no way out through .. or links), else 404."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        raise HTTPException(404)
    return path


def _file(path: Path) -> Response:
    """The file in one response. Not a streaming FileResponse: that one waits for the client
    to disconnect by calling `receive` in a loop, which spins forever on a middleware that
    replays a read body (serve/limits.py BodyLimit) and starves the server."""
    try:
        content = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise HTTPException(404) from None
    media_type = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return Response(content, media_type=media_type, headers={"Cache-Control": "no-cache"})
