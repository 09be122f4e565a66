"""Hot reload: a policy.onnx replaced while the service runs is loaded, checked and swapped
in between requests; none fails meanwhile, and a file that fails a check is refused."""

import http.client
import json
import logging
import os
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import serve
from serve.config import ServiceConfig
from serve.models import ServedModel
from serve.policy import PolicyLoadError
from serve.reload import Watcher
from serve.repository import load_models
from tests.linear_policies import W_DISCRETE, continuous_policy, discrete_policy
from tests.servers import request, running_server

OBS = [[0.5, -0.25, 1.0, 2.0], [-1.0, 0.5, 0.25, 0.0]]
REQUESTS, THREADS, SWAPS = 2000, 8, 5


def replace(path: Path, source: Path) -> None:
    """As export does: write a temporary file beside `path`, then rename it over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(source.read_bytes())
    os.replace(tmp, path)


def served_version(port: int) -> int:
    return request(port, "GET", "/v1/metadata")[1]["model"]["version"]


def wait_for_version(port: int, version: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while served_version(port) != version:
        assert time.monotonic() < deadline, f"version {version} never served"
        time.sleep(0.02)


def client(port: int, quota: list, answers: list, failures: list, v2: bool) -> None:
    """Requests until the shared quota is spent, 5 ms apart (so that the load lasts longer
    than the swaps); each answer's probs recorded."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    if v2:
        path, body = "/v2/models/policy/infer", {"inputs": [
            {"name": "obs", "shape": [2, 4], "datatype": "FP32", "data": OBS}],
            "outputs": [{"name": "probs"}]}
    else:
        path, body = "/v1/act", {"obs": OBS}
    payload = json.dumps(body).encode()
    while True:
        try:
            quota.pop()
        except IndexError:
            break
        try:
            conn.request("POST", path, payload, {"Content-Type": "application/json"})
            response = conn.getresponse()
            answer = json.loads(response.read())
        except (OSError, http.client.HTTPException, ValueError) as exc:
            failures.append(repr(exc))
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        if response.status != 200:
            failures.append((response.status, answer))
        elif v2:
            answers.append(np.reshape(answer["outputs"][0]["data"], (2, 2)))
        else:
            answers.append(np.array(answer["probs"]))
        time.sleep(0.005)
    conn.close()


def test_no_request_fails_while_the_file_is_replaced_under_load(tmp_path):
    a = discrete_policy(tmp_path / "a.onnx")
    b = discrete_policy(tmp_path / "b.onnx", weights=-W_DISCRETE)
    expected = [serve.OnnxPolicy(p).probs(OBS) for p in (a, b)]
    served = tmp_path / "policy.onnx"
    replace(served, a)
    quota, answers, failures = list(range(REQUESTS)), [], []
    with running_server(served, "--reload-interval", "0.05") as port:
        threads = [threading.Thread(target=client, args=(port, quota, answers, failures,
                                                         i % 2 == 1)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for swap in range(SWAPS):  # b, a, b, a, b: versions 2 to 6
            replace(served, (b, a)[swap % 2])
            wait_for_version(port, swap + 2)
        swaps_done = len(quota)
        for thread in threads:
            thread.join(timeout=120)
        status, metadata = request(port, "GET", "/v2/models/policy")
    assert failures == [] and len(answers) == REQUESTS
    assert swaps_done > 0, "the load ended before the last swap"
    seen = [next(i for i, e in enumerate(expected) if np.allclose(answer, e, rtol=1e-6))
            for answer in answers]  # StopIteration: an answer from neither policy
    assert set(seen) == {0, 1}
    assert status == 200 and metadata["versions"] == ["6"]
    assert metadata["parameters"]["sha256"] == serve_sha(b)


def serve_sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_a_broken_file_is_refused_logged_and_the_old_policy_keeps_serving(tmp_path):
    a = discrete_policy(tmp_path / "a.onnx")
    served = tmp_path / "policy.onnx"
    replace(served, a)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07half an onnx file")
    other_interface = continuous_policy(tmp_path / "other.onnx")
    nan = discrete_policy(tmp_path / "nan.onnx", weights=np.full((4, 2), np.nan))
    log = tmp_path / "server.log"
    expected = serve.OnnxPolicy(a).probs(OBS)
    refusals = ["is not a loadable ONNX model",
                "its inputs and outputs obs FP32 [-1, 3]; mean FP32 [-1, 1]; std FP32 "
                "[-1, 1]; action FP32 [-1, 1] differ from the served version's obs FP32 "
                "[-1, 4]; probs FP32 [-1, 2]; action INT64 [-1]",
                "a probe observation (zeros) fails: policy output 'probs' is NaN or inf"]
    with running_server(served, "--reload-interval", "0.05", log=log) as port:
        for bad, refusal in zip((garbage, other_interface, nan), refusals, strict=True):
            replace(served, bad)
            deadline = time.monotonic() + 10
            while refusal not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            assert "model 'policy': refused the new file, still serving version 1" in \
                log.read_text()
            status, body = request(port, "POST", "/v1/act", {"obs": OBS})
            assert status == 200 and np.allclose(body["probs"], expected, rtol=1e-6)
            assert served_version(port) == 1
        replace(served, discrete_policy(tmp_path / "b.onnx", weights=-W_DISCRETE))
        wait_for_version(port, 2)
        assert "model 'policy': now serving version 2" in log.read_text()


def test_the_same_bytes_again_are_not_a_new_version(tmp_path):
    served = discrete_policy(tmp_path / "policy.onnx")
    model = ServedModel("policy", lambda: served, serve.OnnxPolicy)
    assert model.reload() is None
    os.utime(served, ns=(1, 1))  # touched: identity changed, bytes not
    assert model.reload() is None and model.current.number == 1
    replace(served, discrete_policy(tmp_path / "b.onnx", weights=-W_DISCRETE))
    version = model.reload()
    assert version is model.current and version.number == 2
    assert model.reload() is None
    served.write_bytes(b"broken")
    with pytest.raises(PolicyLoadError, match="is not a loadable ONNX model"):
        model.reload()
    assert model.reload() is None and model.current is version  # not read again until it changes


def test_the_watcher_survives_any_error_logs_it_in_one_line_and_keeps_polling(tmp_path,
                                                                               caplog):
    """An error no check expects (here the model's directory listing fails) is logged once,
    in one line, while it lasts; the last good version keeps serving, and the next file is
    swapped in."""
    a = discrete_policy(tmp_path / "a.onnx")
    b = discrete_policy(tmp_path / "b.onnx", weights=-W_DISCRETE)
    where: list[Path | None] = [a]

    def locate() -> Path:
        if where[0] is None:
            raise RuntimeError("the listing failed\nsecond line")
        return where[0]

    model = ServedModel("policy", locate, serve.OnnxPolicy)
    caplog.set_level(logging.INFO, logger="serve.reload")
    watcher = Watcher({"policy": model}, 0.01)
    watcher.start()
    try:
        where[0] = None
        time.sleep(0.2)  # ~20 failed checks
        where[0] = b
        deadline = time.monotonic() + 10
        while model.current.number != 2:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.01)
    finally:
        watcher.stop()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["model 'policy': could not check for a new file, still serving version "
                      "1: RuntimeError: the listing failed"]
    assert model.current.policy.path == b
    assert "model 'policy': now serving version 2" in caplog.text


def repository(root: Path, versions: dict[str, Path]) -> Path:
    """A Triton model repository root/policy/<version>/model.onnx, each a copy of its file."""
    for version, source in versions.items():
        (root / "policy" / version).mkdir(parents=True)
        (root / "policy" / version / "model.onnx").write_bytes(source.read_bytes())
    return root


def test_only_ascii_digits_without_a_leading_zero_name_a_version(tmp_path):
    """As Triton ignores them, folders such as '²' (str.isdigit() is True, int() fails) or
    '01' are not versions: 1 is served, not the others; a model with none names its path."""
    a = discrete_policy(tmp_path / "a.onnx")
    b = discrete_policy(tmp_path / "b.onnx", weights=-W_DISCRETE)
    root = repository(tmp_path / "models", {"1": a, "²": b, "٣": b, "01": b, "1.5": b})
    models = load_models(ServiceConfig(repository=str(root)))
    assert models["policy"].current.policy.path == root / "policy" / "1" / "model.onnx"
    only = repository(tmp_path / "unversioned", {"²": a})
    with pytest.raises(PolicyLoadError, match=f"^{re.escape(str(only))} holds no model"):
        load_models(ServiceConfig(repository=str(only)))


def test_a_folder_that_is_not_a_version_added_while_serving_is_skipped(tmp_path):
    """'³' and '01' appear in the repository while it is served: the service keeps its
    version, logs no error, and still swaps in version 2 when it comes."""
    a = discrete_policy(tmp_path / "a.onnx")
    b = discrete_policy(tmp_path / "b.onnx", weights=-W_DISCRETE)
    root = repository(tmp_path / "models", {"1": a})
    log = tmp_path / "server.log"
    with running_server(None, "--model-repository", str(root), "--reload-interval", "0.05",
                        log=log) as port:
        staged = repository(tmp_path / "staged", {"³": b, "01": b, "2": b}) / "policy"
        for name in ("³", "01"):
            os.replace(staged / name, root / "policy" / name)
        time.sleep(0.3)  # several checks
        assert served_version(port) == 1
        os.replace(staged / "2", root / "policy" / "2")
        wait_for_version(port, 2)
        expected = serve.OnnxPolicy(b).probs(OBS)
        status, body = request(port, "POST", "/v1/act", {"obs": OBS})
    assert status == 200 and np.allclose(body["probs"], expected, rtol=1e-6)
    assert "error" not in log.read_text().lower(), log.read_text()
