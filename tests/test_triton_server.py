"""Conformance against a real Triton Inference Server (tests/triton_server.py): the
repository `python -m export --triton-repo` writes, served by tritonserver's python backend
running onnxruntime on each model.onnx (tests/triton/model.py), answers over HTTP and gRPC
exactly what onnxruntime answers on the same file.

Skipped without the triton venv (.ci/triton-env); failed instead when
KERAS_PG_REQUIRE_TRITON=1. One server for the whole module: it takes seconds to start.
"""

import concurrent.futures
import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
from tritonclient.utils import InferenceServerException

from tests import triton_server
from tests.linear_policies import continuous_policy, discrete_policy
from tests.test_triton import lake_policy
from tests.triton_server import (
    ONNX_PLATFORM,
    PYTHON_BACKEND,
    python_backend_repository,
    require_triton,
    running_triton,
)

ROOT = Path(__file__).resolve().parents[1]
POLICIES = {"cartpole": discrete_policy, "pendulum": continuous_policy, "lake": lake_policy}
CUE = ROOT / "serve" / "js" / "test" / "fixtures" / "cue.onnx"  # recurrent: a GRU, state 16
MASKED = {name: ROOT / "serve" / "js" / "test" / "fixtures" / f"{name}.onnx"
          for name in ("corridor", "corridor_branches")}  # input action_mask [batch, 8], [.., 10]
RNG = np.random.default_rng(0)
OBS = {"cartpole": lambda n: RNG.uniform(-2, 2, (n, 4)).astype(np.float32),
       "pendulum": lambda n: RNG.uniform(-2, 2, (n, 3)).astype(np.float32),
       "lake": lambda n: RNG.integers(0, 16, n).astype(np.float32)}
# What Triton's metadata says: the batch is -1; [batch] alone is declared dims [1] (reshape).
METADATA = {
    "cartpole": ([("obs", "FP32", [-1, 4])],
                 [("probs", "FP32", [-1, 2]), ("action", "INT64", [-1, 1])]),
    "lake": ([("obs", "FP32", [-1, 1])],
             [("probs", "FP32", [-1, 4]), ("action", "INT64", [-1, 1])]),
    "pendulum": ([("obs", "FP32", [-1, 3])],
                 [("mean", "FP32", [-1, 1]), ("std", "FP32", [-1, 1]),
                  ("action", "FP32", [-1, 1])]),
}


def export(policy: Path, repo: Path, name: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "export", str(policy), "--triton-repo",
                           str(repo), "--model-name", name], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def triton(tmp_path_factory):
    require_triton()
    tmp = tmp_path_factory.mktemp("triton")
    exported = tmp / "exported"
    for name, build in POLICIES.items():
        export(build(tmp / f"{name}.onnx"), exported, name)
    export(CUE, exported, "cue")
    for name, path in MASKED.items():
        export(path, exported, name)
    repo = python_backend_repository(exported, tmp / "served")
    # A model whose config says obs is [batch, 5] while its model.onnx takes [batch, 4]:
    # onnxruntime fails inside model.py, for that request only.
    shutil.copytree(repo / "cartpole", repo / "broken")
    config = repo / "broken" / "config.pbtxt"
    config.write_text(config.read_text().replace('name: "cartpole"', 'name: "broken"')
                      .replace("dims: [ 4 ]", "dims: [ 5 ]"))
    with running_triton(repo) as endpoints:
        yield SimpleNamespace(http=endpoints.http, grpc=endpoints.grpc, exported=exported)


def onnxruntime_answer(triton, name: str, obs: np.ndarray, **more: np.ndarray
                       ) -> dict[str, np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(triton.exported / name / "1" / "model.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {"obs": obs, **more}), strict=True))


def as_triton(value: np.ndarray) -> np.ndarray:
    """Triton's view of a [batch] tensor is [batch, 1] (dims [1], reshape [])."""
    return value.reshape(-1, 1) if value.ndim == 1 else value


def get(triton, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://{triton.http}{path}", timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_live_ready_and_every_model_loaded(triton):
    http = thttp.InferenceServerClient(triton.http)
    grpc = tgrpc.InferenceServerClient(triton.grpc)
    assert http.is_server_live() and http.is_server_ready()
    assert grpc.is_server_live() and grpc.is_server_ready()
    for name in [*POLICIES, "broken"]:
        assert http.is_model_ready(name) and grpc.is_model_ready(name)
    assert not http.is_model_ready("nosuch") and not grpc.is_model_ready("nosuch")
    assert get(triton, "/v2/models/nosuch/ready") == (400,
                                                       b'{"error":"Model version not ready"}')
    index = http.get_model_repository_index()
    assert [(m["name"], m["version"], m["state"]) for m in index] == [
        (name, "1", "READY") for name in ["broken", "cartpole", "corridor", "corridor_branches",
                                          "cue", "lake", "pendulum"]]
    assert http.get_server_metadata()["name"] == "triton"


@pytest.mark.parametrize("name", POLICIES)
def test_metadata_and_config_are_the_exported_ones(triton, name):
    http = thttp.InferenceServerClient(triton.http)
    grpc = tgrpc.InferenceServerClient(triton.grpc)
    inputs, outputs = METADATA[name]
    for metadata in (http.get_model_metadata(name),
                     grpc.get_model_metadata(name, as_json=True)):
        assert metadata["versions"] == ["1"] and metadata["platform"] == "python"
        for declared, expected in ((metadata["inputs"], inputs),
                                   (metadata["outputs"], outputs)):
            assert [(t["name"], t["datatype"], [int(d) for d in t["shape"]])
                    for t in declared] == expected
    config = http.get_model_config(name)
    assert config["backend"] == "python" and config["max_batch_size"] == 8192
    assert config["dynamic_batching"]["max_queue_delay_microseconds"] == 100
    assert config["parameters"] == {"intra_op_thread_count": {"string_value": "1"}}
    assert [(g["kind"], g["count"]) for g in config["instance_group"]] == [("KIND_CPU", 1)]
    grpc_config = grpc.get_model_config(name, as_json=True)["config"]
    assert grpc_config["max_batch_size"] == 8192 and grpc_config["backend"] == "python"


def test_the_repository_differs_only_by_its_backend_line(triton, tmp_path):
    served = python_backend_repository(triton.exported, tmp_path / "served")
    for name in POLICIES:
        before = (triton.exported / name / "config.pbtxt").read_text().splitlines()
        after = (served / name / "config.pbtxt").read_text().splitlines()
        assert [(a, b) for a, b in zip(before, after, strict=True) if a != b] == [
            (ONNX_PLATFORM, PYTHON_BACKEND)]
        assert (served / name / "1" / "model.py").read_bytes() == (
            triton_server.MODEL_PY.read_bytes())
        assert (served / name / "1" / "model.onnx").read_bytes() == (
            triton.exported / name / "1" / "model.onnx").read_bytes()


def http_infer(triton, name, obs, binary):
    client = thttp.InferenceServerClient(triton.http)
    tensor = thttp.InferInput("obs", list(obs.shape), "FP32")
    tensor.set_data_from_numpy(obs, binary_data=binary)
    outputs = [thttp.InferRequestedOutput(o, binary_data=binary)
               for o, *_ in METADATA[name][1]]
    result = client.infer(name, [tensor], outputs=outputs, request_id="r-1")
    assert result.get_response()["id"] == "r-1"
    return result


def grpc_infer(triton, name, obs, binary):
    client = tgrpc.InferenceServerClient(triton.grpc)
    tensor = tgrpc.InferInput("obs", list(obs.shape), "FP32")
    tensor.set_data_from_numpy(obs)
    return client.infer(name, [tensor], request_id="r-1")


@pytest.mark.parametrize("protocol", ["http-binary", "http-json", "grpc"])
@pytest.mark.parametrize("name", POLICIES)
def test_inference_equals_onnxruntime_on_the_same_file(triton, name, protocol):
    infer = grpc_infer if protocol == "grpc" else http_infer
    for batch in (1, 3):
        obs = OBS[name](batch)
        sent = obs.reshape(-1, 1) if obs.ndim == 1 else obs  # lake: [batch, 1] on the wire
        result = infer(triton, name, sent, protocol == "http-binary")
        expected = onnxruntime_answer(triton, name, obs)
        assert [o["name"] for o in result.get_response(
            **({"as_json": True} if protocol == "grpc" else {}))["outputs"]] == list(expected)
        for output, value in expected.items():
            got = result.as_numpy(output)
            assert got.dtype == value.dtype
            np.testing.assert_array_equal(got, as_triton(value))


def test_a_recurrent_model_takes_the_state_and_answers_next_state(triton):
    """The state is a plain input and output: the client sends it, model.py feeds it to
    onnxruntime like any input, and Triton refuses a request without it."""
    state_in, state_out = ("state", "FP32", [-1, 16]), ("next_state", "FP32", [-1, 16])
    http = thttp.InferenceServerClient(triton.http)
    grpc = tgrpc.InferenceServerClient(triton.grpc)
    for metadata in (http.get_model_metadata("cue"),
                     grpc.get_model_metadata("cue", as_json=True)):
        assert state_in in [(t["name"], t["datatype"], [int(d) for d in t["shape"]])
                            for t in metadata["inputs"]]
        assert state_out in [(t["name"], t["datatype"], [int(d) for d in t["shape"]])
                             for t in metadata["outputs"]]
    config = http.get_model_config("cue")
    assert {t["name"]: t["dims"] for t in config["input"]} == {"obs": [2], "state": [16]}
    assert "sequence_batching" not in config
    rng = np.random.default_rng(1)
    obs = rng.uniform(-1, 1, (3, 2)).astype(np.float32)
    state = rng.uniform(-1, 1, (3, 16)).astype(np.float32)
    expected = onnxruntime_answer(triton, "cue", obs, state=state)
    for client, module in ((http, thttp), (grpc, tgrpc)):
        tensors = [module.InferInput(name, list(value.shape), "FP32")
                   for name, value in (("obs", obs), ("state", state))]
        for tensor, value in zip(tensors, (obs, state), strict=True):
            tensor.set_data_from_numpy(value)
        result = client.infer("cue", tensors)
        for output, value in expected.items():
            np.testing.assert_array_equal(result.as_numpy(output), as_triton(value))
        with pytest.raises(InferenceServerException) as error:
            client.infer("cue", tensors[:1])
        assert str(error.value.status()) in ("400", "StatusCode.INVALID_ARGUMENT")
        assert "expected 2 inputs but got 1 inputs for model 'cue'" in error.value.message()


def mask_tensors(module, cells: np.ndarray, masks: np.ndarray | None) -> list:
    """obs [rows, 1] FP32 (a Discrete observation: [batch] as [batch, 1]) and, if given, the
    action_mask [rows, P] BOOL, as `module`'s (tritonclient.http or .grpc) InferInputs."""
    tensors = [module.InferInput("obs", [len(cells), 1], "FP32")]
    tensors[0].set_data_from_numpy(cells.reshape(-1, 1))
    if masks is not None:
        tensors.append(module.InferInput("action_mask", list(masks.shape), "BOOL"))
        tensors[1].set_data_from_numpy(masks)
    return tensors


def random_masks(rng: np.random.Generator, rows: int, sizes: tuple[int, ...]) -> np.ndarray:
    """bool [rows, sum(sizes)]: each action legal with probability 1/3, one more per branch."""
    found = rng.random((rows, sum(sizes))) < 1 / 3
    for start, size in zip(np.cumsum((0, *sizes[:-1])), sizes, strict=True):
        found[np.arange(rows), start + rng.integers(0, size, rows)] = True
    return found


@pytest.mark.parametrize("name,sizes", [("corridor", (8,)), ("corridor_branches", (8, 2))])
def test_a_masked_model_takes_its_mask_or_none_as_onnx_policy_does(triton, name, sizes):
    """The config declares action_mask optional; model.py feeds all true when a request
    leaves it out, as serve.OnnxPolicy does: the same outputs either way."""
    import serve

    http = thttp.InferenceServerClient(triton.http)
    grpc = tgrpc.InferenceServerClient(triton.grpc)
    size = sum(sizes)
    for metadata in (http.get_model_metadata(name), grpc.get_model_metadata(name, as_json=True)):
        assert ("action_mask", "BOOL", [-1, size]) in [
            (t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in metadata["inputs"]]
    mask_input = next(t for t in http.get_model_config(name)["input"]
                      if t["name"] == "action_mask")
    assert mask_input["optional"] is True and mask_input["data_type"] == "TYPE_BOOL"
    policy = serve.OnnxPolicy(MASKED[name])
    rng = np.random.default_rng(3)
    cells = rng.integers(0, 6, 5).astype(np.float32)
    for masks in (random_masks(rng, 5, sizes), None):
        expected = policy.distribution(cells, action_mask=masks)
        for client, module in ((http, thttp), (grpc, tgrpc)):
            result = client.infer(name, mask_tensors(module, cells, masks))
            for output, value in expected.items():
                np.testing.assert_array_equal(result.as_numpy(output), as_triton(value))


def test_triton_never_returns_a_masked_action(triton):
    """100,000 rows (20 requests of 5,000: Triton's max_batch_size is 8,192) under random
    masks, over HTTP and gRPC: every greedy action legal, every illegal probability 0."""
    http = thttp.InferenceServerClient(triton.http)
    grpc = tgrpc.InferenceServerClient(triton.grpc)
    rng = np.random.default_rng(4)
    for i in range(20):
        cells = rng.integers(0, 6, 5000).astype(np.float32)
        masks = random_masks(rng, 5000, (8,))
        client, module = (http, thttp) if i % 2 else (grpc, tgrpc)
        result = client.infer("corridor", mask_tensors(module, cells, masks))
        actions = result.as_numpy("action").ravel()
        assert masks[np.arange(5000), actions].all()
        assert (result.as_numpy("probs")[~masks] == 0).all()


def test_concurrent_requests_are_each_answered_as_alone(triton):
    """Dynamic batching hands model.py several requests at once: each is answered alone."""
    rows = OBS["cartpole"](24)
    expected = onnxruntime_answer(triton, "cartpole", rows)

    def one(i):
        return http_infer(triton, "cartpole", rows[i:i + 1], True)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(len(rows))))
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result.as_numpy("probs"), expected["probs"][i:i + 1])
        np.testing.assert_array_equal(result.as_numpy("action"), [[expected["action"][i]]])


def test_bad_requests_are_refused_by_triton(triton):
    http = thttp.InferenceServerClient(triton.http)
    grpc = tgrpc.InferenceServerClient(triton.grpc)
    cases = [("nosuch", "FP32", np.zeros((1, 4), np.float32), "404", "StatusCode.NOT_FOUND"),
             ("cartpole", "FP64", np.zeros((1, 4)), "400", "StatusCode.INVALID_ARGUMENT"),
             ("cartpole", "FP32", np.zeros((1, 5), np.float32), "400",
              "StatusCode.INVALID_ARGUMENT")]
    for name, datatype, obs, http_status, grpc_status in cases:
        for client, module, status in ((http, thttp, http_status), (grpc, tgrpc, grpc_status)):
            tensor = module.InferInput("obs", list(obs.shape), datatype)
            tensor.set_data_from_numpy(obs)
            with pytest.raises(InferenceServerException) as error:
                client.infer(name, [tensor])
            assert error.value.status() == status, error.value.message()


def test_an_onnxruntime_failure_is_that_requests_error(triton):
    obs = np.zeros((1, 5), np.float32)
    for client, module, status in ((thttp.InferenceServerClient(triton.http), thttp, "500"),
                                   (tgrpc.InferenceServerClient(triton.grpc), tgrpc,
                                    "StatusCode.INTERNAL")):
        tensor = module.InferInput("obs", [1, 5], "FP32")
        tensor.set_data_from_numpy(obs)
        with pytest.raises(InferenceServerException) as error:
            client.infer("broken", [tensor])
        assert error.value.status() == status
        assert "Got invalid dimensions for input: obs" in error.value.message()
        assert client.is_model_ready("broken")
    # The python backend counts a response carrying an error as a success in the model's
    # statistics (an onnxruntime backend would count a failure): not asserted here.
    status, body = get(triton, "/v2/models/broken/stats")
    assert status == 200 and json.loads(body)["model_stats"][0]["inference_count"] == 2


def test_require_triton_skips_or_fails_without_the_venv(monkeypatch, tmp_path):
    monkeypatch.setenv(triton_server.VENV_VARIABLE, str(tmp_path / "none"))
    monkeypatch.delenv(triton_server.REQUIRE_VARIABLE, raising=False)
    assert triton_server.tritonserver_path() is None
    with pytest.raises(pytest.skip.Exception, match=r"make it with `\.ci/triton-env"):
        require_triton()
    monkeypatch.setenv(triton_server.REQUIRE_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception, match="KERAS_PG_REQUIRE_TRITON=1 but no Triton"):
        require_triton()
