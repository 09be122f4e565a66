"""The HTTP service against a real uvicorn server on 127.0.0.1, started by the test."""

import asyncio
import http.client
import json
import threading

import numpy as np
import pytest

import serve
from tests.linear_policies import HUGE_OBS, discrete_policy
from tests.servers import big_body, health_latencies, post, request, running_server
from tests.test_serve_envs import (
    IMAGE_SPACE,
    discrete,
    frames,
    image_answer,
    image_policy,
    keras_pg_metadata,
)


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


def test_stochastic_actions_are_sampled_from_the_probs(server):
    # The observation the policy is least sure of, 2,000 times: greedy answers its argmax
    # every time, sampling answers action 1 in a fraction p(1) of them.
    port, policy = server
    candidates = np.random.default_rng(0).uniform(-0.2, 0.2, (1000, 4))
    obs = candidates[np.argmin(np.abs(policy.probs(candidates)[:, 1] - 0.5))]
    p = float(policy.probs(obs)[1])
    assert 0.3 < p < 0.7, f"no observation the policy is unsure of: p(1) = {p}"
    status, body = request(port, "POST", "/v1/act", {"obs": [obs.tolist()] * 2000,
                                                     "deterministic": False})
    assert status == 200 and set(body["actions"]) == {0, 1}
    # 2,000 draws: the fraction is within 0.05 of p(1) but once in ~10^5 (4.5 standard
    # deviations); and the service seeds its Generator (--seed 0), so it answers the same.
    assert abs(np.mean(body["actions"]) - p) < 0.05


@pytest.mark.parametrize("body,status,detail", [
    (b'{"obs": [0.1,', 422, "the body is not valid JSON: EOF while parsing"),
    (b"not json at all", 422, "the body is not valid JSON: expected ident at line 1"),
    ({"obs": [0.1, 0.2, 0.3]}, 400, "obs has shape (3,); expected (4,) or (batch, 4)"),
    ({"obs": [[0.1, 0.2], [1, 2, 3, 4]]}, 400, "obs must be numeric"),
    (b'{"obs": [NaN, 0, 0, 0]}', 400, "obs contains NaN or inf"),
    ({"obs": [1e39, 0, 0, 0]}, 400, "obs contains NaN or inf"),
    ({"observation": [0, 0, 0, 0]}, 422, "obs: Field required"),
    ([0, 0, 0, 0], 422, "the body: Input should be an object, got [0, 0, 0, 0]"),
    # strict types: no string, boolean or "yes" taken for a number or a flag
    ({"obs": ["a", "b", "c", "d"]}, 422, 'obs[0]: Input should be a valid number, got \\"a\\"'),
    ({"obs": ["0.1", 0, 0, 0]}, 422, 'obs[0]: Input should be a valid number, got \\"0.1\\"'),
    ({"obs": [[0, 0, 0, 0], [0, True, 0, 0]]}, 422,
     "obs[1][1]: Input should be a valid number, got true"),
    ({"obs": [0, 0, 0, 0], "deterministic": "maybe"}, 422, "valid boolean"),
    ({"obs": [0, 0, 0, 0], "deterministic": "yes"}, 422,
     'deterministic: Input should be a valid boolean, got \\"yes\\"'),
    ({"obs": [0, 0, 0, 0], "deterministic": 1}, 422, "deterministic: Input should be a "
                                                      "valid boolean, got 1"),
    # a state is a recurrent policy's (tests/test_serve_state.py)
    ({"obs": [0, 0, 0, 0], "state": [0.0, 0.0]}, 400,
     'this policy is feed-forward: it takes no state; leave \\"state\\" out'),
])
def test_bad_requests_get_4xx_and_the_server_keeps_answering(server, body, status, detail):
    port, policy = server
    got_status, got = request(port, "POST", "/v1/act", body)
    assert got_status == status
    assert detail in json.dumps(got)
    ok, answer = request(port, "POST", "/v1/act", {"obs": [0, 0, 0, 0]})
    assert ok == 200 and answer["actions"] == [policy.act([0, 0, 0, 0])]
    assert sorted(answer) == ["actions", "probs"]  # no "state": the policy is feed-forward


def test_bodies_over_the_limit_get_413(server):
    port, _ = server
    big = json.dumps({"obs": [[0.0, 0.0, 0.0, 0.0]] * 60_000}).encode()
    assert len(big) > 1 << 20
    status, body = request(port, "POST", "/v1/act", big)
    assert status == 413 and body["detail"] == ("request body over 1048576 bytes "
                                                "(--max-body-bytes)")
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


def test_continuous_policy_over_http_samples_when_asked(tmp_path):
    import gymnasium
    import keras

    import export
    from tests.policies import mlp_policy

    keras.utils.set_random_seed(0)
    env = gymnasium.make("Pendulum-v1")
    path = tmp_path / "g.onnx"
    export.to_onnx(mlp_policy(env.observation_space, env.action_space, (8,)), path,
                   env_id="Pendulum-v1")
    obs = [[1.0, 0.0, 0.5]] * 200
    with running_server(path) as port:
        greedy_status, greedy = request(port, "POST", "/v1/act", {"obs": obs})
        status, body = request(port, "POST", "/v1/act", {"obs": obs, "deterministic": False})
    assert greedy_status == status == 200 and set(body) == {"actions", "mean", "std"}
    actions = np.array(body["actions"])
    assert actions.shape == (200, 1) and np.all(np.abs(actions) <= 2.0)
    # One observation 200 times: greedy answers the clipped mean every time; sampling draws
    # clip(mean + std * N(0, 1)), a different action each time, on both sides of the mean.
    mean = body["mean"][0][0]
    np.testing.assert_allclose(greedy["actions"], [[np.clip(mean, -2.0, 2.0)]] * 200,
                               rtol=1e-6)
    assert len(np.unique(actions)) > 100
    assert (actions < mean).any() and (actions > mean).any()


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


def test_a_policy_output_that_is_not_finite_is_an_error_not_action_0(server):
    port, policy = server
    with pytest.raises(ValueError, match="policy output 'probs' is NaN or inf for "
                                         "observation 0"):
        policy.act(HUGE_OBS)
    status, body = request(port, "POST", "/v1/act", {"obs": HUGE_OBS})
    assert status == 422 and body["detail"].startswith("policy output 'probs' is NaN or inf")
    assert "overflow the network" in body["detail"]
    assert request(port, "POST", "/v1/act", {"obs": [0, 0, 0, 0]})[0] == 200


def test_health_stays_fast_while_large_batches_run(tmp_path):
    # The case: 20 concurrent requests of just under 1 MiB held /healthz for seconds
    # (2.8 s measured here before the fix); now decoding runs in a worker process.
    body, rows = big_body()
    path = discrete_policy(tmp_path / "policy.onnx")

    async def load(port):
        latencies, stop = [], asyncio.Event()
        probe = asyncio.create_task(health_latencies(port, stop, latencies))
        await asyncio.sleep(0.2)
        statuses = await asyncio.gather(*(post(port, "/v1/act", body) for _ in range(20)))
        stop.set()
        await probe
        return statuses, latencies

    with running_server(path, "--max-batch", str(rows)) as port:
        statuses, latencies = asyncio.run(load(port))
    assert statuses == [200] * 20
    # Before the fix one probe waited 2.8 s; 1 s leaves room for a loaded machine twice as
    # slow as this one (0.51 s was measured once under CI's load), and still catches it.
    assert len(latencies) >= 10 and max(latencies) < 1.0, max(latencies)
    assert float(np.median(latencies)) < 0.1, float(np.median(latencies))
