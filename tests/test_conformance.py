"""Every runtime answers the same request identically: the conformance corpus
(tests/conformance.py) against python -m serve over REST (/v2, and /v1 for what it can say)
and gRPC, a real Triton server over
REST and gRPC (tests/triton_server.py; skipped without its venv unless
KERAS_PG_REQUIRE_TRITON=1), serve.OnnxPolicy and the JavaScript package in Node.

The models are keras_pg exports of every kind -- CartPole and Acrobot (categorical), Pendulum
(gaussian), a CNN on uint8 frames (contract version 3 files: older files keep serving),
Switches (bernoulli) and Dials (multi_categorical), whose `action` is int64 [batch, k], a
Discrete observation space ([batch] input), a MultiDiscrete (Lock) and a MultiBinary (Mirror)
observation ([batch, k] float32), and a Dict (Beacon: a Discrete and a uint8 image part) and a
Tuple (Pair: a Box and a Discrete part) observation, one input per part, and a recurrent
policy (Cue: a GRU remembering tests/memory_env.py's cue, its state one more input and
output), and two policies of action masks (Corridor, categorical, and its MultiDiscrete
variant, tests/masked_env.py: the optional input action_mask, sent or not) -- in one Triton
repository written by export. The recurrent policy also plays whole
episodes through every runtime, each step sending the state the previous one returned.
The answer of `python -m serve` over REST is the reference; where a real Triton answers
otherwise, the difference is listed in KNOWN_DIFFERENCES with its reason, and asserted.
"""

import functools
import json
import os
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as tgrpc

import serve
from export.triton import package
from tests import conformance
from tests.servers import free_port, running_server
from tests.test_triton import lake_policy
from tests.triton_server import python_backend_repository, require_triton, triton_venv

FIXTURES = Path(__file__).resolve().parents[1] / "serve" / "js" / "test" / "fixtures"
MODELS = ("cartpole", "cartpole_int8", "acrobot", "pendulum", "image", "switches", "dials",
          "lake", "beacon", "pair", "lock", "mirror", "cue", "corridor", "corridor_branches")
RECURRENT = "cue"
WIRE = ("serve-rest", "serve-grpc", "triton-rest", "triton-grpc")
IN_PROCESS = ("onnx-policy", "js-node", "serve-v1")
NOT_IN_NODE: tuple[str, ...] = ()  # models the JS package cannot run (none)
# (case, runtime) -> the status that runtime answers instead, and why.
KNOWN_DIFFERENCES = {
    ("malformed-json", "triton-rest"): (500, "Triton answers a body it cannot parse with 500; "
                                             "serve with 400, a client error"),
    ("json-values-short", "triton-rest"): (500, "likewise: JSON data of the wrong size"),
    ("json-strings", "triton-rest"): (500, "likewise: strings where numbers belong"),
    ("nan-observation", "triton-rest"): (200, "Triton runs NaN observations (and answers "
                                              "NaN); every keras-pg runtime refuses them"),
    ("nan-observation", "triton-grpc"): (200, "likewise"),
    ("mask-no-legal-action", "triton-rest"): (200, "Triton runs a row whose mask allows no "
                                                   "action (its probs then spread over "
                                                   "illegal actions); every keras-pg runtime "
                                                   "refuses it"),
    ("mask-no-legal-action", "triton-grpc"): (200, "likewise"),
    ("mask-uint8", "triton-rest"): (400, "Triton takes the datatype its config declares "
                                         "(BOOL); serve also takes 0/1 bytes (UINT8, INT8)"),
    ("mask-uint8", "triton-grpc"): (400, "likewise"),
}
FLOAT_TOLERANCE = {"js-node": 1e-6}  # onnxruntime-node's kernels may round otherwise


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, serve.OnnxPolicy]:
    """The repository's models, written by export (no TensorFlow: the exported files)."""
    tmp = tmp_path_factory.mktemp("conformance")
    repo = tmp / "repo"
    sources = {name: FIXTURES / f"{name}.onnx" for name in MODELS if name != "lake"}
    sources["lake"] = lake_policy(tmp / "lake.onnx")
    return {name: serve.OnnxPolicy(package(source, repo, name)[0])
            for name, source in sources.items()}


DESCRIBED: dict[str, dict[str, dict]] = {}
"""{server: {model: {"metadata": ..., "config": ...}}} of the servers `answers` asked."""
PLAYED: dict[str, conformance.Played] = {}
"""{runtime: the recurrent policy's episodes through it} (`answers` plays them)."""


@pytest.fixture(scope="module")
def answers(models, tmp_path_factory) -> dict[str, dict[str, conformance.Answer]]:
    """{case name: {runtime: its answer}} for the whole corpus (and DESCRIBED)."""
    repo = next(iter(models.values())).path.parents[2]
    cases = conformance.corpus(models)
    found: dict[str, dict[str, conformance.Answer]] = {case.name: {} for case in cases}
    grpc_port = free_port()
    with running_server(None, "--model-repository", str(repo),
                        "--grpc-port", str(grpc_port)) as port:
        _ask(found, cases, models, "serve", f"127.0.0.1:{port}", f"127.0.0.1:{grpc_port}")
        _play(models[RECURRENT], "serve", f"127.0.0.1:{port}", f"127.0.0.1:{grpc_port}")
        DESCRIBED["serve"] = {model: _get(f"127.0.0.1:{port}", model) for model in models}
    if triton_venv().exists() or _required():
        from tests.triton_server import running_triton

        triton_repo = python_backend_repository(repo, tmp_path_factory.mktemp("triton"))
        with running_triton(triton_repo) as triton:
            _ask(found, cases, models, "triton", triton.http, triton.grpc)
            _play(models[RECURRENT], "triton", triton.http, triton.grpc)
            DESCRIBED["triton"] = {model: _get(triton.http, model) for model in models}
    local = [case for case in cases if case.in_process]
    for case in local:
        found[case.name]["onnx-policy"] = conformance.policy_answer(models[case.model], case)
    recurrent = models[RECURRENT]
    PLAYED["onnx-policy"] = conformance.play(conformance.policy_step(recurrent),
                                             recurrent.state_size)
    for name, policy in models.items():  # /v1 serves a single model
        with running_server(policy.path) as port:
            for case in local:
                if case.model == name:
                    found[case.name]["serve-v1"] = conformance.v1_answer(
                        f"127.0.0.1:{port}", policy, case)
            if name == RECURRENT:
                PLAYED["serve-v1"] = conformance.play(
                    conformance.v1_step(f"127.0.0.1:{port}"), policy.state_size)
    node = conformance.node_answers([case for case in local if case.model not in NOT_IN_NODE],
                                    models, tmp_path_factory.mktemp("node"))
    for name, answer in node.items():
        found[name]["js-node"] = answer
    return found


def _required() -> bool:
    return os.environ.get("KERAS_PG_REQUIRE_TRITON") == "1"


def _crashes_triton(case: conformance.Case, models: dict[str, serve.OnnxPolicy]) -> bool:
    """Not sent to Triton: an empty batch for an input Triton reshapes ([batch, 1] -> [batch]:
    a Discrete observation, or part) crashes tritonserver 2.51 (it logs a stack trace, drops
    the connection and answers nothing more); serve answers 400."""
    return case.name.endswith("/batch-0") and any(
        len(node.shape) == 1 for node in models[case.model].session.get_inputs())


def _ask(found, cases, models, server: str, http: str, grpc: str) -> None:
    client = tgrpc.InferenceServerClient(grpc)
    try:
        for case in cases:
            if server == "triton" and _crashes_triton(case, models):
                continue
            if "rest" in case.transports:
                found[case.name][f"{server}-rest"] = conformance.rest_answer(http, case)
            if "grpc" in case.transports:
                found[case.name][f"{server}-grpc"] = conformance.grpc_answer(client, case)
    finally:
        client.close()


def _play(policy: serve.OnnxPolicy, server: str, http: str, grpc: str) -> None:
    """The recurrent policy's episodes over the server's REST and gRPC (PLAYED)."""
    client = tgrpc.InferenceServerClient(grpc)
    try:
        for transport, ask in (("rest", functools.partial(conformance.rest_answer, http)),
                               ("grpc", functools.partial(conformance.grpc_answer, client))):
            PLAYED[f"{server}-{transport}"] = conformance.play(
                conformance.wire_step(ask, RECURRENT), policy.state_size)
    finally:
        client.close()


def test_a_real_triton_server_is_compared():
    require_triton()  # skips (or fails with KERAS_PG_REQUIRE_TRITON=1) without the venv


@pytest.mark.parametrize("model", MODELS)
def test_every_runtime_answers_the_corpus_identically(answers, models, model):
    problems = []
    for case, by_runtime in answers.items():
        if not case.startswith(f"{model}/") and not case.endswith(f"-via-{model}"):
            continue
        reference = by_runtime["serve-rest"]
        for runtime, answer in by_runtime.items():
            problems += [f"{case} [{runtime}]: {p}"
                         for p in _differences(case, runtime, reference, answer)]
    assert not problems, "\n".join(problems)
    asked = {runtime for case, by_runtime in answers.items() if case.startswith(model)
             for runtime in by_runtime}
    in_process = set(IN_PROCESS) - ({"js-node"} if model in NOT_IN_NODE else set())
    assert {"serve-rest", "serve-grpc", *in_process} <= asked


def _differences(case: str, runtime: str, reference: conformance.Answer,
                 answer: conformance.Answer) -> list[str]:
    kind = case.split("/", 1)[1].split("-via-")[0]
    status, _ = KNOWN_DIFFERENCES.get((kind, runtime), (reference.status, ""))
    if answer.status != status:
        return [f"status {answer.status} ({answer.message[:160]}), expected {status}"]
    if status != 200 or (kind, runtime) in KNOWN_DIFFERENCES:
        return []
    if list(answer.outputs) != list(reference.outputs):
        return [f"outputs {list(answer.outputs)}, expected {list(reference.outputs)}"]
    found = []
    for name, (datatype, shape, values) in reference.outputs.items():
        got_type, got_shape, got = answer.outputs[name]
        if (got_type, list(got_shape)) != (datatype, list(shape)):
            found.append(f"{name} is {got_type} {got_shape}, expected {datatype} {shape}")
        elif not np.allclose(got, values, rtol=0, atol=FLOAT_TOLERANCE.get(runtime, 0.0)):
            found.append(f"{name} = {got.ravel()[:6]}..., expected {values.ravel()[:6]}...")
    return found


def test_the_reference_answers_are_the_graphs(answers, models):
    """serve-rest's values are onnxruntime's on the file, wire-shaped: [batch] as [batch, 1]."""
    checked = 0
    for case in conformance.corpus(models):
        reference = answers[case.name]["serve-rest"]
        if not case.in_process or reference.status != 200:
            continue
        policy = models[case.model]
        feeds = conformance.graph_inputs(case, policy)
        if policy.action_mask_size is not None:  # a case without a mask: all legal
            feeds.setdefault("action_mask", np.ones((len(next(iter(feeds.values()))),
                                                     policy.action_mask_size), bool))
        graph = policy.session.run(None, feeds)
        for node, value in zip(policy.session.get_outputs(), graph, strict=True):
            expected = value[:, None] if value.ndim == 1 else value
            np.testing.assert_array_equal(reference.outputs[node.name][2], expected)
            checked += 1
    assert checked >= 4 * len(models)


def test_in_process_runtimes_refuse_with_the_same_message(answers):
    refused = [(case, by_runtime) for case, by_runtime in answers.items()
               if by_runtime.get("onnx-policy") and by_runtime["onnx-policy"].status != 200
               and case.split("/")[0] not in NOT_IN_NODE]
    assert len(refused) >= len(MODELS) - len(NOT_IN_NODE)
    for case, by_runtime in refused:
        assert by_runtime["js-node"].message == by_runtime["onnx-policy"].message, case


@pytest.mark.parametrize("model", MODELS)
def test_metadata_and_config_agree_with_triton(answers, model):
    """The same model metadata (but `platform`: Triton's python backend here says "python"),
    the same config fields export writes (Triton fills in defaults for the rest), and the
    same statistics layout after the corpus."""
    require_triton()
    from google.protobuf import json_format
    from tritonclient.grpc import model_config_pb2

    ours, theirs = DESCRIBED["serve"][model], DESCRIBED["triton"][model]
    for key in ("name", "versions", "inputs", "outputs"):
        assert ours["metadata"][key] == theirs["metadata"][key], key
    served = json_format.ParseDict(ours["config"], model_config_pb2.ModelConfig())
    loaded = json_format.ParseDict(theirs["config"], model_config_pb2.ModelConfig(),
                                   ignore_unknown_fields=True)
    for field in ("name", "max_batch_size", "input", "output", "parameters"):
        assert getattr(served, field) == getattr(loaded, field), field
    assert [(g.count, g.kind) for g in served.instance_group] == [
        (g.count, g.kind) for g in loaded.instance_group]
    assert (served.dynamic_batching.max_queue_delay_microseconds
            == loaded.dynamic_batching.max_queue_delay_microseconds)
    (mine,), (tritons,) = ours["stats"]["model_stats"], theirs["stats"]["model_stats"]
    assert mine.keys() == tritons.keys()
    assert mine["inference_stats"].keys() == tritons["inference_stats"].keys()
    assert mine["batch_stats"][0].keys() == tritons["batch_stats"][0].keys()


def _get(address: str, model: str) -> dict:
    def get(path: str):
        with urllib.request.urlopen(f"http://{address}{path}", timeout=10) as response:
            return json.loads(response.read())

    return {"metadata": get(f"/v2/models/{model}"), "config": get(f"/v2/models/{model}/config"),
            "stats": get(f"/v2/models/{model}/stats")}


def test_every_runtime_carries_the_state_through_whole_episodes(answers):
    """The recurrent policy plays the same Cue-v0 episodes -- four alone (one observation a
    step), six in lockstep (a batch) -- through every runtime, each step sending the state
    the previous step returned: the same observations, actions and next states (float32,
    bit for bit) as serve.OnnxPolicy's, which remembers every cue."""
    reference = PLAYED["onnx-policy"]
    assert reference.returns == [1.0] * 10 and len(reference.actions) == 5 * 5
    expected = {"serve-rest", "serve-grpc", "serve-v1", "onnx-policy"} | (
        {"triton-rest", "triton-grpc"} if "triton" in DESCRIBED else set())
    assert expected <= set(PLAYED)
    for runtime, played in PLAYED.items():
        assert played.returns == reference.returns, runtime
        for t, (obs, actions, states) in enumerate(zip(
                played.observations, played.actions, played.states, strict=True)):
            np.testing.assert_array_equal(obs, reference.observations[t], err_msg=runtime)
            np.testing.assert_array_equal(actions, reference.actions[t], err_msg=runtime)
            assert states.dtype == np.float32, runtime
            np.testing.assert_array_equal(states, reference.states[t], err_msg=runtime)
