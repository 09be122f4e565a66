"""The web page's routes in `python -m serve POLICY --http` (serve/web.py): the page and
every file it loads come from the service, and nothing else does.

tests/test_web_browser.py opens the page in Chromium.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
from pathlib import Path

import pytest
from fastapi import FastAPI

import serve
from serve import web
from tests.js_fixtures import FIXTURES
from tests.servers import running_server


# -- the service -----------------------------------------------------------------------------
def get(port: int, path: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of GET `path` sent as it is (no URL normalization)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    except OSError:
        return 0, "", b""
    finally:
        conn.close()


@pytest.fixture(scope="module")
def cartpole_port():
    with running_server(FIXTURES / "cartpole.onnx") as port:
        yield port


def needs_npm_packages():
    if not (web.NODE_MODULES / "onnxruntime-web").is_dir():
        pytest.skip("serve/js/node_modules is missing: npm ci --prefix serve/js")


# -- routes ----------------------------------------------------------------------------------
def test_the_page_and_everything_it_loads_come_from_the_service(cartpole_port):
    needs_npm_packages()
    status, media, body = get(cartpole_port, "/")
    assert status == 200 and media.startswith("text/html")
    page = body.decode()
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', page,
                                   re.S).group(1))["imports"]
    scripts = re.findall(r'<(?:script|link)[^>]*(?:src|href)="(\./[^"]+)"', page)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)  # no CDN
    vendor = [f"./js/vendor/{name}" for name in web.VENDOR]  # the .wasm too
    for url in [*imports.values(), *scripts, *vendor]:
        status, media, _ = get(cartpole_port, url[1:])
        expected = {".wasm": "application/wasm", ".css": "text/css"}.get(
            Path(url).suffix, "text/javascript")
        assert status == 200 and media.startswith(expected), (url, status, media)
    status, _, policy_bytes = get(cartpole_port, "/policy.onnx")
    assert policy_bytes == (FIXTURES / "cartpole.onnx").read_bytes()
    status, _, config = get(cartpole_port, "/web/config.json")
    assert json.loads(config) == {"policy": "./policy.onnx", "options": {"name": "cartpole.onnx"}}


@pytest.mark.parametrize("path", [
    "/js/src/../../package.json", "/js/src/..%2f..%2fpackage.json", "/web/..%2f..%2fweb.py",
    "/js/vendor/onnxruntime-web/package.json", "/js/vendor/ort/ort.all.min.mjs",
    "/js/src/missing.js", "/web/missing.css",
])
def test_nothing_outside_the_listed_files_is_served(cartpole_port, path):
    assert get(cartpole_port, path)[0] == 404


def test_a_file_without_metadata_gets_the_load_options_of_the_command_line():
    policy = serve.OnnxPolicy(FIXTURES / "nometa.onnx", observation_shape=(4,),
                              action_type="discrete")
    assert web.load_options(policy) == {"observation_shape": [4], "action_type": "discrete"}
    continuous = serve.OnnxPolicy(FIXTURES / "nometa_continuous.onnx", observation_shape=(3,),
                                  action_type="continuous")
    assert web.load_options(continuous) == {"observation_shape": [3],
                                            "action_type": "continuous"}
    assert web.load_options(serve.OnnxPolicy(FIXTURES / "pendulum.onnx")) == {}


def test_without_the_npm_packages_the_page_says_how_to_install_them(monkeypatch, tmp_path):
    app = FastAPI()
    policy = serve.OnnxPolicy(FIXTURES / "cartpole.onnx")
    web.add_web_routes(app, lambda: policy)
    monkeypatch.setattr(web, "NODE_MODULES", tmp_path)
    status, body = asyncio.run(asgi_get(app, "/"))
    assert status == 503
    assert "npm ci</code> in serve/js" in body.decode()
    monkeypatch.setattr(web, "JS", tmp_path)  # a pip-installed serve: no serve/js at all
    status, body = asyncio.run(asgi_get(app, "/"))
    assert status == 503 and "a pip-installed serve does not ship" in body.decode()
    assert asyncio.run(asgi_get(app, "/policy.onnx"))[0] == 200  # the policy still is


async def asgi_get(app, path: str) -> tuple[int, bytes]:
    """GET `path` from an ASGI app in this process: (status, body)."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app({"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
               "query_string": b"", "headers": [], "http_version": "1.1", "scheme": "http",
               "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": ""},
              receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])
