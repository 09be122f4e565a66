"""The JavaScript package's fixtures are current: what Python's serve answers today.

serve/js/test/ (run by `node --test`) checks the JavaScript policy against these files;
tests/js_fixtures.py builds them. If a test here fails, serve or gymnasium answers
differently than when they were written: run `python -m tests.js_fixtures` (and commit).
"""

import itertools
import json
import re
import shutil
import subprocess

import gymnasium as gym
import numpy as np
import pytest

import serve
from serve import contract, sampling, state
from tests.js_fixtures import FIXTURES, HAND_WRITTEN, TRAINED, documents, write_hand_policies

CONTRACT_3 = ("cartpole", "acrobot", "pendulum", "image")
CONTRACT_4 = ("switches", "dials", "beacon", "pair", "lock", "mirror")
CONTRACT_5 = ("cue",)
"""Trained fixtures exported at contracts 3, 4 and 5 (the others: at the current contract)."""
JS = FIXTURES.parents[1]


@pytest.fixture(scope="module")
def built() -> dict:
    return documents()


# Numbers may move in their last bits on another CPU (onnxruntime and numpy pick kernels by
# instruction set), and sampled statistics with them; everything else must be equal.
TOLERANCES = {"parity.json": 1e-6, "messages.json": 0.0, "transitions.json": 1e-9}
SAMPLED_TOLERANCE = 0.01


@pytest.mark.parametrize("name", list(TOLERANCES))
def test_json_fixtures_are_what_python_answers_now(built, name):
    committed = json.loads((FIXTURES / name).read_text())
    assert_close(committed, json.loads(json.dumps(built[name])), TOLERANCES[name], name)


def assert_close(committed, built, tolerance: float, where: str) -> None:
    """Equal JSON documents, numbers within `tolerance` (SAMPLED_TOLERANCE under "sampled")."""
    hint = f"{where} is out of date: run python -m tests.js_fixtures"
    if isinstance(built, dict):
        assert isinstance(committed, dict) and committed.keys() == built.keys(), hint
        for key in built:
            assert_close(committed[key], built[key],
                         SAMPLED_TOLERANCE if key == "sampled" else tolerance, f"{where}/{key}")
    elif isinstance(built, list):
        assert isinstance(committed, list) and len(committed) == len(built), hint
        for i, (a, b) in enumerate(zip(committed, built, strict=True)):
            assert_close(a, b, tolerance, f"{where}[{i}]")
    elif isinstance(built, float) and not isinstance(committed, bool):
        assert committed == pytest.approx(built, rel=0, abs=tolerance), hint
    else:
        assert committed == built, hint


def test_hand_written_policies_are_reproduced_byte_for_byte(tmp_path):
    write_hand_policies(tmp_path)
    for name in HAND_WRITTEN:
        file = f"{name}.onnx"
        assert (tmp_path / file).read_bytes() == (FIXTURES / file).read_bytes(), file


@pytest.mark.parametrize("name", TRAINED)
def test_trained_policies_follow_a_supported_contract(name):
    """Files of older contracts keep loading: CONTRACT_3 were exported at contract 3,
    CONTRACT_4 at contract 4, CONTRACT_5 at contract 5."""
    policy = serve.OnnxPolicy(FIXTURES / f"{name}.onnx")
    version = (3 if name in CONTRACT_3 else 4 if name in CONTRACT_4
               else 5 if name in CONTRACT_5 else contract.CONTRACT_VERSION)
    assert policy.metadata[contract.CONTRACT_VERSION_KEY] == version
    assert (FIXTURES / f"{name}.onnx").stat().st_size < 400_000  # small files in git
    if name == "cartpole":  # the example and the browser test play it to the maximum
        assert policy.metadata[contract.EVAL_MEAN_RETURN_KEY] == 500.0
    if name == "image":
        assert policy.observation_dtype == "uint8" and policy.observation_shape == (36, 36, 1)
    if policy.metadata[contract.ENV_ID_KEY].startswith("tests.structured_envs:"):
        # solved: 4 is the best return of each env there
        assert policy.metadata[contract.EVAL_MEAN_RETURN_KEY] >= 3.6


def test_the_parity_fixture_covers_every_kind_of_policy_and_observation(built):
    policies = [serve.OnnxPolicy(FIXTURES / entry["file"], **entry["options"])
                for entry in built["parity.json"].values()]
    assert {p.kind for p in policies} == {*contract.KINDS, "deterministic"}  # and no metadata
    spaces = {p.metadata.get(contract.OBSERVATION_SPACE_KEY, {}).get("type") for p in policies}
    assert set(contract.OBSERVATION_SPACES) - {"Discrete"} <= spaces  # Dict, Tuple, ...
    observations = {entry["file"]: entry["observations"]
                    for entry in built["parity.json"].values() if "observations" in entry}
    assert list(observations["beacon.onnx"]) == ["direction", "image"]  # {part: batch}
    assert len(observations["pair.onnx"]) == 2  # a Tuple's parts in order
    messages = {case["message"] for case in built["messages.json"]}
    assert "obs contains NaN or inf; expected finite numbers" in messages
    assert any(m.startswith("obs must be integers in [0, 255]") for m in messages)
    for structured in ("obs['image'] must be integers in [0, 255]", "obs['direction'] contains "
                       "NaN", "obs parts disagree on the batch", "obs must be an object with "
                       "the parts direction, image; got the parts direction"):
        assert any(m.startswith(structured) for m in messages), structured


def test_npm_dependencies_are_pinned_and_locked():
    package = json.loads((JS / "package.json").read_text())
    lock = json.loads((JS / "package-lock.json").read_text())
    for name, version in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version} is not pinned"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    # onnxruntime-node's install script downloads CUDA binaries, unreachable from CI
    assert package["allowScripts"]["onnxruntime-node"] is False


def test_the_parity_fixture_plays_a_recurrent_policy_through_whole_episodes(built):
    """cue.onnx's episodes: both cues, each solved (a return of 1), the state carried (the
    next states differ from step to step), and the lockstep batch answering as the episodes
    one by one; messages.json refuses its state missing, misshapen and NaN."""
    cue = built["parity.json"]["cue"]
    assert cue["state_size"] == serve.OnnxPolicy(FIXTURES / cue["file"]).state_size == 16
    episodes = cue["episodes"]
    assert {e["observations"][0][0] for e in episodes} == {-1.0, 1.0}
    assert all(sum(e["rewards"]) == 1.0 for e in episodes)
    for e in episodes:
        states = e["outputs"][contract.NEXT_STATE]
        assert all(a != b for a, b in itertools.pairwise(states))
    by_episode = [[e["greedy"][t] for e in episodes] for t in range(len(episodes[0]["greedy"]))]
    assert cue["lockstep"]["greedy"] == by_episode
    assert cue["sampled"]["step"] >= 1  # sampled from a carried state, not zeros
    messages = {case["message"] for case in built["messages.json"]}
    assert state.MISSING in messages and state.STATE_NOT_FINITE in messages
    for start in ("state must have shape (16,) for one observation", "state must have shape "
                  "(2, 16) for a batch of 2", "state must be numbers", state.UNEXPECTED,
                  "{path}: input 'state' is", "{path}: output 'next_state' is missing",
                  "{path}: metadata recurrent is"):
        assert any(m.startswith(start) for m in messages), start


SAMPLE_IN_NODE = """
import { readFileSync } from "node:fs";
import { sampleCategorical, sampleMultiCategorical } from "./src/sampling.js";
const cases = JSON.parse(readFileSync(0, "utf8"));
const answers = cases.map(({ probs, nvec, uniform }) => {
  const draws = [...uniform];
  const next = () => draws.shift();
  const flat = Float32Array.from(probs.flat());
  return nvec.length === 1 ? sampleCategorical(flat, nvec[0], next)
    : sampleMultiCategorical(flat, nvec, next);
});
console.log(JSON.stringify(answers));
"""


def test_javascript_samples_pythons_actions_from_the_same_uniform_draws():
    """serve/js/src/sampling.js against serve/sampling.py on the same probs and the same
    recorded uniform draws, among them 0.0 and draws equal to a cdf entry: the same action,
    draw by draw (categorical, and per branch), and never one of probability 0 (a masked
    action: the graph gives it exactly 0)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("needs Node")
    rng = np.random.default_rng(0)
    cases, expected = [], []
    for nvec in ([8], [6], [8, 2], [3, 4, 2]):
        rows = 400
        logits = rng.normal(size=(rows, sum(nvec)))
        masks = rng.random((rows, sum(nvec))) < 0.6
        bounds = np.cumsum([0, *nvec])
        for a, b in itertools.pairwise(bounds):
            masks[np.arange(rows), rng.integers(a, b, rows)] = True  # one legal per branch
        probs = np.zeros((rows, sum(nvec)), np.float32)
        for a, b in itertools.pairwise(bounds):
            probs[:, a:b] = sampling.softmax(np.where(masks[:, a:b], logits[:, a:b], -np.inf))
        uniform = rng.random((rows, len(nvec)))
        uniform[::7] = 0.0  # the edge the old rule (u > cdf) got wrong: action 0 at u = 0
        for i in range(1, rows, 5):  # exactly on a step of the first branch's cdf (below 1)
            cdf = np.cumsum(probs[i, :nvec[0]], dtype=np.float64)
            steps = (cdf / cdf[-1])[:-1]
            uniform[i, 0] = rng.choice(steps[steps < 1]) if (steps < 1).any() else 0.0
        actions = (sampling.sample_categorical(probs, uniform[:, 0]) if len(nvec) == 1
                   else sampling.sample_multi_categorical(probs, nvec, uniform))
        actions = actions.reshape(rows, -1)
        for branch, start in enumerate(bounds[:-1]):
            assert masks[np.arange(rows), start + actions[:, branch]].all()
        cases.append({"probs": probs.tolist(), "nvec": nvec, "uniform": uniform.ravel().tolist()})
        expected.append(actions.ravel().tolist() if len(nvec) == 1 else actions.tolist())
    proc = subprocess.run([node, "--input-type=module", "-e", SAMPLE_IN_NODE], cwd=JS,
                          input=json.dumps(cases), capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == expected


def test_the_taxi_fixture_delivers_in_gymnasium_with_its_masks():
    """taxi.onnx, the web page's Taxi-v4 demo (keras_pg.REINFORCE("Taxi-v4", seed=0) with its
    preset, learned to its solve criterion and exported; not among TRAINED): a contract 6
    file trained with the masks of gymnasium's info, which greedily delivers in gymnasium's
    own Taxi-v4 given them (a mean return of at least 7)."""
    policy = serve.OnnxPolicy(FIXTURES / "taxi.onnx")
    assert policy.metadata[contract.CONTRACT_VERSION_KEY] == 6
    assert policy.metadata[contract.ACTION_MASK_KEY] == {"size": 6, "trained": True,
                                                         "source": "info", "function": None}
    assert (FIXTURES / "taxi.onnx").stat().st_size < 400_000
    env, returns = gym.make("Taxi-v4"), []
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            action = policy.act(obs, action_mask=info["action_mask"])
            assert info["action_mask"][action] == 1
            obs, reward, terminated, truncated, info = env.step(action)
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    assert np.mean(returns) >= 7, returns


def test_the_fixtures_cover_action_masks(built):
    """parity.json: corridor's and corridor_branches' masks, under which Python gives every
    illegal action probability 0, takes other greedy actions than without (the second half's
    masks forbid them), and never samples an illegal one; messages.json: every refusal of
    serve/masks.py, each reason a policy takes no mask, and each file whose mask input and
    metadata disagree."""
    import numpy as np

    from serve import masks
    from tests.js_masks import MASK_HAND_WRITTEN

    for name in ("corridor", "corridor_branches"):
        entry = built["parity.json"][name]
        legal = np.asarray(entry["action_masks"])
        masked = entry["masked"]
        assert (np.asarray(masked["outputs"][contract.PROBS])[~legal] == 0).all()
        assert masked["greedy"][:8] == entry["greedy"][:8]  # the env's masks: the same
        assert all(a != b for a, b in zip(masked["greedy"][8:], entry["greedy"][8:],
                                          strict=True))
        sampled = masked["sampled"]
        assert (np.asarray(sampled["frequencies"])[~legal[sampled["index"]]] == 0).all()
    messages = [case["message"] for case in built["messages.json"]]
    prefixes = [masks.FORM.split("{")[0], masks.NOT_BINARY.split("{")[0],
                masks.NO_LEGAL_ACTION.split("{")[0], masks.WHY_NO_METADATA,
                masks.WHY_NO_INPUT, masks.WHY_CONTRACT.split("{")[0],
                masks.WHY_KIND.format(kind="gaussian"), masks.GOT_RAGGED,
                masks.GOT_NOT_NUMBERS, "(branch 1)", "(or one per branch"]
    for prefix in prefixes:
        assert any(prefix in message for message in messages), prefix
    loaded = {case["file"] for case in built["messages.json"] if case["call"] == "load"}
    assert {f"{name}.onnx" for name in MASK_HAND_WRITTEN} - loaded == {"unmasked_v6.onnx"}
