"""Access: API keys on every route but health, CORS closed unless opened, a warning when
the service is reachable beyond this machine without a key."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from serve.auth import load_keys
from serve.config import ServiceConfig
from serve.http import exposure_warning
from tests.linear_policies import discrete_policy
from tests.servers import ROOT, request, request_raw, running_server

KEY = "k" * 20 + "-first"
OTHER_KEY = "second-key-0123456789"
ACT = {"obs": [0, 0, 0, 0]}
UNAUTHORIZED = "missing or invalid API key; send the header Authorization: Bearer KEY"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    keys = tmp / "keys.txt"
    keys.write_text(f"# rotated monthly\n{KEY}\n\n{OTHER_KEY}\n")
    with running_server(discrete_policy(tmp / "policy.onnx"), "--api-key-file", str(keys),
                        "--cors-origin", "https://app.example") as port:
        yield port


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/v1/act", ACT), ("GET", "/v1/metadata", None), ("GET", "/v2", None),
    ("GET", "/v2/models/policy", None), ("GET", "/v2/models/policy/ready", None),
    ("GET", "/openapi.json", None),
])
def test_every_route_but_health_needs_a_key(keyed, method, path, body):
    for headers in ({}, bearer("wrong-key-0123456789"), {"Authorization": KEY},
                    {"Authorization": f"Basic {KEY}"}):
        status, response_headers, content = request_raw(keyed, method, path, body, headers)
        assert status == 401 and response_headers["www-authenticate"] == "Bearer"
        form = "error" if path.startswith("/v2") else "detail"
        assert content == f'{{"{form}": "{UNAUTHORIZED}"}}'.encode()
    for key in (KEY, OTHER_KEY):
        assert request(keyed, method, path, body, bearer(key))[0] == 200


@pytest.mark.parametrize("path", ["/healthz", "/v2/health/live", "/v2/health/ready"])
def test_health_routes_stay_open(keyed, path):
    assert request(keyed, "GET", path)[0] == 200


def test_tritonclient_sends_the_key_as_a_header(keyed):
    client = triton.InferenceServerClient(f"127.0.0.1:{keyed}")
    tensor = triton.InferInput("obs", [1, 4], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 4), np.float32))
    with pytest.raises(InferenceServerException, match="missing or invalid API key"):
        client.infer("policy", [tensor])
    result = client.infer("policy", [tensor], headers=bearer(KEY))
    assert result.as_numpy("action").tolist() == [[0]]  # [batch, 1], as Triton answers


def test_the_schema_declares_the_bearer_scheme(keyed):
    schema = request(keyed, "GET", "/openapi.json", headers=bearer(KEY))[1]
    assert schema["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"}}


def test_cors_answers_only_the_origins_given(keyed, tmp_path):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    status, headers, _ = request_raw(keyed, "OPTIONS", "/v1/act", headers=preflight)
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example"
    status, headers, _ = request_raw(keyed, "POST", "/v1/act", ACT,
                                     {**bearer(KEY), "Origin": "https://app.example"})
    assert status == 200 and headers["access-control-allow-origin"] == "https://app.example"
    status, headers, _ = request_raw(keyed, "POST", "/v1/act", ACT,
                                     {**bearer(KEY), "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in headers
    with running_server(discrete_policy(tmp_path / "policy.onnx")) as port:  # closed
        status, headers, _ = request_raw(port, "POST", "/v1/act", ACT,
                                         {"Origin": "https://app.example"})
        assert status == 200 and "access-control-allow-origin" not in headers
        status, _, _ = request_raw(port, "OPTIONS", "/v1/act", headers=preflight)
        assert status == 405


def test_the_key_can_come_from_the_environment(tmp_path):
    env = {**os.environ, "KERAS_PG_API_KEY": KEY}
    with running_server(discrete_policy(tmp_path / "policy.onnx"), env=env) as port:
        assert request(port, "POST", "/v1/act", ACT)[0] == 401
        assert request(port, "POST", "/v1/act", ACT, bearer(KEY))[0] == 200


def test_keys_are_checked_at_start(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_PG_API_KEY", raising=False)
    assert load_keys(None) == []
    short, empty = tmp_path / "short.txt", tmp_path / "empty.txt"
    short.write_text("secret\n")
    empty.write_text("# no key yet\n")
    with pytest.raises(ValueError, match=r"short.txt: a key of 6 characters; use at least 16"):
        load_keys(str(short))
    with pytest.raises(ValueError, match=r"empty.txt holds no key; expected one per line"):
        load_keys(str(empty))
    proc = subprocess.run([sys.executable, "-m", "serve", str(discrete_policy(
        tmp_path / "p.onnx")), "--http", "--api-key-file", str(tmp_path / "missing.txt")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith(
        f"error: --api-key-file {tmp_path / 'missing.txt'}: cannot read it")


def test_binding_beyond_loopback_without_a_key_warns():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert exposure_warning(ServiceConfig(policy="p.onnx", host=host), []) is None
    exposed = ServiceConfig(policy="p.onnx", host="0.0.0.0")
    assert exposure_warning(exposed, [b"digest"]) is None
    assert exposure_warning(exposed, []) == (
        "warning: serving on 0.0.0.0 without an API key: anyone who can reach this address "
        "can call the policy; pass --api-key-file FILE (or set KERAS_PG_API_KEY)")
