"""The HTTP service against a real uvicorn server on 127.0.0.1, started by the test."""

import contextlib
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import serve
from tests.test_serve_envs import (
    IMAGE_SPACE,
    discrete,
    frames,
    image_answer,
    image_policy,
    keras_pg_metadata,
)

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, headers=None, timeout=10.0):
    """(status, parsed JSON) of one request; body is bytes or a JSON-able object."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        conn.request(method, path, body=body,
                     headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


@contextlib.contextmanager
def running_server(policy_path: Path):
    """`python -m serve POLICY --http` on a free loopback port; yields the port."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "serve", str(policy_path), "--http", "--host", "127.0.0.1",
         "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(solved_run):
    with running_server(solved_run / "policy.onnx") as port:
        yield port, serve.OnnxPolicy(solved_run / "policy.onnx")


def test_health_metadata_and_openapi(server):
    port, _ = server
    assert request(port, "GET", "/healthz") == (200, {"status": "ok"})
    status, body = request(port, "GET", "/v1/metadata")
    assert status == 200 and body["metadata"]["env_id"] == "CartPole-v1"
    assert body["observation_shape"] == [4] and body["observation_dtype"] == "float32"
    status, schema = request(port, "GET", "/openapi.json")
    assert status == 200 and "/v1/act" in schema["paths"]


def test_act_single_and_batch_equal_the_in_process_policy(server):
    port, policy = server
    obs = np.random.default_rng(0).uniform(-1, 1, (32, 4))
    status, body = request(port, "POST", "/v1/act", {"obs": obs[0].tolist()})
    assert status == 200 and body["actions"] == [policy.act(obs[0])]
    np.testing.assert_allclose(body["probs"][0], policy.probs(obs[0]), rtol=1e-6)
    status, body = request(port, "POST", "/v1/act", {"obs": obs.tolist()})
    assert status == 200 and body["actions"] == policy.act(obs).tolist()
    assert len(body["probs"]) == 32


def test_stochastic_actions_are_valid(server):
    port, _ = server
    obs = np.zeros((200, 4)).tolist()
    status, body = request(port, "POST", "/v1/act", {"obs": obs, "deterministic": False})
    assert status == 200 and set(body["actions"]) <= {0, 1}


@pytest.mark.parametrize("body,status,detail", [
    (b'{"obs": [0.1,', 422, "JSON decode error"),
    (b"not json at all", 422, "JSON decode error"),
    ({"obs": [0.1, 0.2, 0.3]}, 400, "obs has shape (3,); expected (4,) or (batch, 4)"),
    ({"obs": [[0.1, 0.2], [1, 2, 3, 4]]}, 400, "obs must be numeric"),
    ({"obs": ["a", "b", "c", "d"]}, 400, "obs must be numeric"),
    (b'{"obs": [NaN, 0, 0, 0]}', 400, "obs contains NaN or inf"),
    ({"obs": [1e39, 0, 0, 0]}, 400, "obs contains NaN or inf"),
    ({"observation": [0, 0, 0, 0]}, 422, "Field required"),
    ([0, 0, 0, 0], 422, "valid dictionary"),
    ({"obs": [0, 0, 0, 0], "deterministic": "maybe"}, 422, "valid boolean"),
])
def test_bad_requests_get_4xx_and_the_server_keeps_answering(server, body, status, detail):
    port, policy = server
    got_status, got = request(port, "POST", "/v1/act", body)
    assert got_status == status
    assert detail in json.dumps(got)
    ok, answer = request(port, "POST", "/v1/act", {"obs": [0, 0, 0, 0]})
    assert ok == 200 and answer["actions"] == [policy.act([0, 0, 0, 0])]


def test_bodies_over_the_limit_get_413(server):
    port, _ = server
    big = json.dumps({"obs": [[0.0, 0.0, 0.0, 0.0]] * 60_000}).encode()
    assert len(big) > 1 << 20
    status, body = request(port, "POST", "/v1/act", big)
    assert status == 413 and "over 1048576 bytes" in body["detail"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # no Content-Length
    conn.putrequest("POST", "/v1/act")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for start in range(0, len(big), 1 << 16):
        chunk = big[start:start + (1 << 16)]
        try:
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError):
            break
    try:
        conn.send(b"0\r\n\r\n")
        assert conn.getresponse().status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered 413 and closed while the body was still streaming
    conn.close()
    assert request(port, "GET", "/healthz")[0] == 200


def test_bounded_concurrent_load_has_no_errors(server):
    port, _ = server
    errors, done = [], []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(100):
            conn.request("POST", "/v1/act", body=b'{"obs": [0.01, 0.02, 0.03, 0.04]}',
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            (done if response.status == 200 else errors).append(response.status)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and len(done) == 400


def test_continuous_policy_over_http(tmp_path):
    import gymnasium

    import export
    from tests.policies import mlp_policy

    env = gymnasium.make("Pendulum-v1")
    path = tmp_path / "g.onnx"
    export.to_onnx(mlp_policy(env.observation_space, env.action_space, (8,)), path,
                   env_id="Pendulum-v1")
    with running_server(path) as port:
        status, body = request(port, "POST", "/v1/act", {"obs": [[1.0, 0.0, 0.5]] * 3,
                                                         "deterministic": False})
        assert status == 200 and set(body) == {"actions", "mean", "std"}
        assert np.array(body["actions"]).shape == (3, 1)
        assert all(-2.0 <= a[0] <= 2.0 for a in body["actions"])


def test_image_policy_over_http_takes_lists_of_integers(tmp_path):
    path = image_policy(tmp_path / "image.onnx", keras_pg_metadata(
        "ServeTestChannels-v0", IMAGE_SPACE, discrete(3)))
    batch = frames(4)
    actions, probs = image_answer(batch)
    with running_server(path) as port:
        status, body = request(port, "GET", "/v1/metadata")
        assert status == 200 and body["observation_dtype"] == "uint8"
        assert body["observation_shape"] == [8, 8, 3]
        status, body = request(port, "POST", "/v1/act", {"obs": batch.tolist()})
        assert status == 200 and body["actions"] == actions.tolist()
        np.testing.assert_allclose(body["probs"], probs, atol=1e-5)
        status, body = request(port, "POST", "/v1/act", {"obs": batch[0].tolist()})
        assert status == 200 and body["actions"] == actions[:1].tolist()
        for value in (256, -1, 1.5):
            bad = batch[0].tolist()
            bad[0][0][0] = value
            status, body = request(port, "POST", "/v1/act", {"obs": bad})
            assert status == 400 and body["detail"] == (
                "obs must be integers in [0, 255] for this policy's uint8 input, "
                f"got {float(value)}")
        status, body = request(port, "POST", "/v1/act", {"obs": batch[1].tolist()})
        assert status == 200 and body["actions"] == actions[1:2].tolist()
