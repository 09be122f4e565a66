"""The web page of `python -m serve POLICY --http` in Chromium: the trained CartPole policy
plays in the browser, errors and bad observations show Python's messages, and a policy whose
env has no JavaScript port gets the probe (Discrete, MultiDiscrete and MultiBinary actions:
an action per branch or bit; a Dict observation: an object of parts). A recurrent policy
(cue.onnx, a GRU solving tests/memory_env.py's Cue-v0, which has no port) carries its state
through the probe's steps and the page's player: Python's answers over whole episodes. A
policy trained with action masks (corridor.onnx, tests/masked_env.py's Corridor-v0) takes a
mask in the probe and from an env's info in the player, and never samples a masked action.

The tests drive Debian's chromium (`apt-get install chromium`; Playwright's own browser
download is not reachable here) with the Python `playwright` package, against the service
started by the test on a loopback port. They play the committed fixtures of the JavaScript
package (serve/js/test/fixtures/, see tests/js_fixtures.py).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

import serve
from serve import web
from tests.js_fixtures import FIXTURES
from tests.masked_env import BACK, FORWARD
from tests.servers import running_server
from tests.web_page import CHROMIUM, CHROMIUM_ARGS, open_page, wait_for_state

try:  # a requirement (requirements.txt); the tests say so if it is missing
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    expect = sync_playwright = None

NO_METADATA = ["--observation-shape", "4", "--action-type", "discrete"]
CUE = json.loads((FIXTURES / "parity.json").read_text())["cue"]  # Python's episodes
SCREENSHOT_ENV = "KERAS_PG_WEB_SCREENSHOT"  # where the CartPole test saves its screenshot


@pytest.fixture(scope="module")
def cartpole_port():
    with running_server(FIXTURES / "cartpole.onnx") as port:
        yield port


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium driven by Playwright; skipped (failed under CI) without it."""
    missing = [what for what, ok in [
        ("chromium (apt-get install chromium)", CHROMIUM.exists()),
        ("the playwright package (pip install -r requirements.txt)",
         sync_playwright is not None),
        ("serve/js/node_modules (npm ci --prefix serve/js)",
         (web.NODE_MODULES / "onnxruntime-web").is_dir())] if not ok]
    if missing:
        message = f"the browser tests need {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_the_greedy_cartpole_policy_scores_at_least_475_in_chromium(browser, cartpole_port,
                                                                     tmp_path):
    url = f"http://127.0.0.1:{cartpole_port}/?speed=max&episodes=10"
    with open_page(browser, url) as page:
        assert wait_for_state(page, "done", "error") == "done", page.text_content("#error")
        stats = page.evaluate("({...document.getElementById('stats').dataset})")
        assert int(stats["episodes"]) == 10
        assert float(stats["meanReturn"]) >= 475
        assert float(stats["stepsPerS"]) > 100  # the policy decides every step
        assert not page.is_checked("#stochastic")
        assert page.is_visible("#canvas")
        assert page.locator(".bar").count() == 2  # the action probabilities
        screenshot = Path(os.environ.get(SCREENSHOT_ENV, tmp_path / "page.png"))
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert page.errors == []


def test_bad_files_and_observations_show_pythons_message_instead_of_a_canvas(browser,
                                                                             cartpole_port):
    with open_page(browser, f"http://127.0.0.1:{cartpole_port}/") as page:
        wait_for_state(page, "playing")
        page.set_input_files("#file", str(FIXTURES / "not_onnx.onnx"))
        assert wait_for_state(page, "error") == "error"
        assert page.text_content("#error").startswith(
            "not_onnx.onnx is not a loadable ONNX model: ")
        assert not page.is_visible("#canvas")
        page.set_input_files("#file", str(FIXTURES / "nometa.onnx"))
        expect(page.locator("#error")).to_have_text(python_message(FIXTURES / "nometa.onnx"))
        page.set_input_files("#file", str(FIXTURES / "cartpole.onnx"))
        expect(page.locator("#canvas")).to_be_visible()
        assert not page.is_visible("#error")
        for text, expected in [("[1, 2, 3]", "obs has shape (3,); expected (4,) or (batch, 4)"),
                               ("[1e999, 0, 0, 0]", "obs contains NaN or inf; expected finite "
                                                    "numbers"),
                               ("[1, 2,", "the observation is not JSON: ")]:
            page.fill("#probe-obs", text)
            page.click("#probe-run")
            expect(page.locator("#probe-error")).to_have_text(re.compile(re.escape(expected)))
        assert page.errors == []


def python_message(path: Path, **options) -> str:
    """Python's OnnxPolicy message for `path`, naming the file as the page does."""
    with pytest.raises(ValueError) as info:
        serve.OnnxPolicy(path, **options)
    return str(info.value).replace(str(path), path.name)


def action_bounds(space: dict) -> np.ndarray:
    """The exclusive upper bound of each action of a Discrete (from 0), MultiDiscrete or
    MultiBinary space."""
    if space["type"] == "MultiDiscrete":
        return np.asarray(space["nvec"])
    return np.asarray(2 if space["type"] == "MultiBinary" else space["n"])


@pytest.mark.parametrize("policy,args,why", [
    ("image.onnx", [], "no JavaScript port of <tests.image_envs.SquareSideEnv>"),
    ("nometa.onnx", NO_METADATA, "the policy names no env (it has no keras-pg metadata)"),
    ("dials.onnx", [], "no JavaScript port of tests.structured_envs:Dials-v0"),
    ("switches.onnx", [], "no JavaScript port of tests.structured_envs:Switches-v0"),
    ("beacon.onnx", [], "no JavaScript port of tests.structured_envs:Beacon-v0"),
])
def test_a_policy_without_an_env_port_gets_a_probe(browser, policy, args, why):
    path = FIXTURES / policy
    expected = serve.OnnxPolicy(path, observation_shape=(4,) if args else None,
                                action_type="discrete" if args else None)
    with (running_server(path, *args) as port,
          open_page(browser, f"http://127.0.0.1:{port}/") as page):
        assert wait_for_state(page, "probe", "error") == "probe", page.text_content("#error")
        assert page.text_content("#probe-why").startswith(why)
        parts = ", ".join(f"{name} ({', '.join(map(str, shape))}) {dtype}"
                          for name, (shape, dtype) in (expected.observation_parts or {}).items())
        assert parts in page.text_content("#summary")  # beacon: direction () float32, ...
        assert not page.is_visible("#canvas")
        page.click("#probe-run")  # the observation offered: zeros of the policy's shape
        page.wait_for_function("document.getElementById('probe-output').textContent")
        shown = json.loads(page.text_content("#probe-output"))
        zeros = zero_observation(expected)  # an array, or {part: array}
        assert json.loads(page.input_value("#probe-obs")) == as_lists(zeros)
        greedy = expected.act(zeros)  # an int, or one per branch (bit)
        np.testing.assert_array_equal(shown["action"], greedy)
        outputs, python = shown["outputs"], expected.distribution(zeros)  # or another's logits
        assert outputs.keys() == python.keys()
        for name, values in python.items():
            np.testing.assert_allclose(outputs[name], values, atol=1e-6)
        page.check("#probe-stochastic")
        page.evaluate("document.getElementById('probe-output').textContent = ''")
        page.click("#probe-run")
        page.wait_for_function("document.getElementById('probe-output').textContent")
        sampled = np.asarray(json.loads(page.text_content("#probe-output"))["action"])
        assert sampled.shape == np.shape(greedy) and sampled.dtype.kind == "i"
        assert ((sampled >= 0) & (sampled < action_bounds(expected.action_space))).all()
        page.uncheck("#probe-stochastic")
        image = next((name for name, (_, dtype) in (expected.observation_parts or {}).items()
                      if dtype == np.uint8), None)  # a part of uint8 frames
        if expected.observation_dtype == np.uint8 or image:
            obs = as_lists(zeros)
            (obs[image] if image else obs)[3][4][0] = 300
            page.fill("#probe-obs", json.dumps(obs))
            page.click("#probe-run")
            where = f"obs[{image!r}]" if image else "obs"
            expect(page.locator("#probe-error")).to_have_text(
                f"{where} must be integers in [0, 255] for this policy's uint8 input, got 300.0")
        assert page.errors == []


def zero_observation(policy: serve.OnnxPolicy) -> np.ndarray | dict[str, np.ndarray]:
    """One observation of zeros: an array, or {part: array} for a Dict or Tuple policy."""
    batch = policy.zeros(1)
    return batch[0] if isinstance(batch, np.ndarray) else {k: v[0] for k, v in batch.items()}


def as_lists(obs: np.ndarray | dict[str, np.ndarray]) -> list | dict[str, list]:
    """An observation as JSON: nested lists, or {part: nested lists}."""
    return {k: v.tolist() for k, v in obs.items()} if isinstance(obs, dict) else obs.tolist()


@pytest.fixture(scope="module")
def cue_port():
    with running_server(FIXTURES / CUE["file"]) as port:
        yield port


def run_probe(page, obs) -> dict:
    """The probe's answer for `obs` (one observation or a batch): {"action", "outputs"}."""
    page.fill("#probe-obs", json.dumps(obs))
    page.evaluate("document.getElementById('probe-output').textContent = ''")
    page.click("#probe-run")
    page.wait_for_function("document.getElementById('probe-output').textContent "
                           "|| !document.getElementById('probe-error').hidden")
    assert not page.is_visible("#probe-error"), page.text_content("#probe-error")
    return json.loads(page.text_content("#probe-output"))


def test_a_recurrent_policy_steps_through_episodes_in_the_probe(browser, cue_port):
    """Each run of the probe is the next step of an episode, from the state the run before
    returned: Python's actions, probs and next states over whole episodes (both cues), one
    observation at a time and in lockstep; "new episode" starts again from zeros."""
    with open_page(browser, f"http://127.0.0.1:{cue_port}/") as page:
        assert wait_for_state(page, "probe", "error") == "probe", page.text_content("#error")
        assert "recurrent (gru, state_size 16) categorical policy" in page.text_content(
            "#summary")
        assert page.is_visible("#probe-new-episode")
        for episode in CUE["episodes"][:2]:  # cues +1 and -1
            page.click("#probe-new-episode")
            for t, obs in enumerate(episode["observations"]):
                shown = run_probe(page, obs)
                assert shown["action"] == episode["greedy"][t]
                assert shown["outputs"].keys() == episode["outputs"].keys()
                for name, values in episode["outputs"].items():
                    np.testing.assert_allclose(shown["outputs"][name], values[t], atol=1e-6)
            assert page.get_attribute("#probe-section", "data-step") == str(t + 1)
        page.click("#probe-new-episode")
        lockstep = CUE["lockstep"]
        for t, batch in enumerate(lockstep["observations"]):  # a state per row
            shown = run_probe(page, batch)
            assert shown["action"] == lockstep["greedy"][t]
            np.testing.assert_allclose(shown["outputs"]["next_state"],
                                       lockstep["outputs"]["next_state"][t], atol=1e-6)
        page.fill("#probe-obs", json.dumps(lockstep["observations"][0][:2]))
        page.click("#probe-run")  # the episode's state has 4 rows: Python's message
        expect(page.locator("#probe-error")).to_have_text(
            "state must have shape (2, 16) for a batch of 2 (state_size 16); got (4, 16)")
        assert page.errors == []


PLAYER = """async ([episodes, deterministic]) => {
  // The page's Player, on the page's policy code, playing tests/memory_env.py's Cue-v0 from
  // the cues of Python's episodes.
  const { loadPolicy } = await import("keras-pg-policy");
  const { Player } = await import("./web/player.js");
  const policy = await loadPolicy("./policy.onnx");
  const cues = episodes.map((e) => (e.observations[0][0] > 0 ? 1 : 0));
  const actions = [];  // per episode, the actions the player took
  const env = {
    episode: -1, t: 0, cue: 0, steps: 5,
    reset() {
      this.episode += 1;
      this.t = 0;
      this.cue = cues[this.episode % cues.length];
      return Float32Array.of(2 * this.cue - 1, 0);
    },
    step(action) {
      if (this.t === 0) actions.push([]);
      actions.at(-1).push(action);
      const answer = this.t === this.steps - 1;
      this.t += 1;
      return { observation: Float32Array.of(0, this.t === this.steps - 1 ? 1 : 0),
               reward: answer && action === this.cue ? 1 : 0, terminated: answer,
               truncated: false };
    },
  };
  const player = new Player(policy, env);
  player.deterministic = deterministic;
  const zeroed = [];  // whether each episode started from zeros
  while (player.returns.length < episodes.length) {
    if (player.episodeSteps === 0) zeroed.push(player.state.every((v) => v === 0));
    await player.step();
  }
  return { actions, zeroed, returns: player.returns };
}"""


def test_the_pages_player_carries_a_recurrent_policys_state_through_each_episode(browser,
                                                                                 cue_port):
    """The player the page plays ports with: the state zeroed at each episode's start and
    carried to its end, Python's greedy actions, every episode solved (a return of 1)."""
    with open_page(browser, f"http://127.0.0.1:{cue_port}/") as page:
        assert wait_for_state(page, "probe", "error") == "probe", page.text_content("#error")
        played = page.evaluate(PLAYER, [CUE["episodes"], True])
        assert played["actions"] == [e["greedy"] for e in CUE["episodes"]]
        assert played["zeroed"] == [True] * len(CUE["episodes"])
        assert played["returns"] == [1] * len(CUE["episodes"])
        assert page.errors == []



# -- action masks ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corridor_port():
    with running_server(FIXTURES / "corridor.onnx") as port:
        yield port


SAMPLED_UNDER_MASKS = """async ([calls, rows]) => {
  // The page's policy code sampling `calls` batches of `rows` actions, each row under its own
  // random mask (a third of the actions legal, and one more at random): the masked actions
  // drawn, if any, and the time it took.
  const { loadPolicy, Random } = await import("keras-pg-policy");
  const policy = await loadPolicy("./policy.onnx", { seed: 0 });
  const size = policy.maskSize;
  const random = new Random(1);
  const obs = { data: Float32Array.from({ length: rows }, (_, i) => i % 6), dims: [rows] };
  const start = performance.now();
  let drawn = 0;
  const masked = [];
  for (let call = 0; call < calls; call++) {
    const masks = new Uint8Array(rows * size);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < size; j++) masks[i * size + j] = random.uniform() < 1 / 3 ? 1 : 0;
      masks[i * size + Math.floor(random.uniform() * size)] = 1;
    }
    const actions = await policy.act(obs, { deterministic: false,
                                            actionMask: { data: masks, dims: [rows, size] } });
    actions.forEach((action, i) => {
      if (!masks[i * size + action]) masked.push([call, i, action]);
    });
    drawn += actions.length;
  }
  return { drawn, masked, seconds: (performance.now() - start) / 1000 };
}"""


def test_100000_sampled_actions_under_masks_are_never_masked_in_chromium(browser, corridor_port):
    """onnxruntime-web in the browser: 10 calls of 10,000 rows, each row with its own random
    mask; not one sampled action is a masked one, in bounded time."""
    with open_page(browser, f"http://127.0.0.1:{corridor_port}/") as page:
        assert wait_for_state(page, "probe", "error") == "probe", page.text_content("#error")
        result = page.evaluate(SAMPLED_UNDER_MASKS, [10, 10_000])
        assert result["drawn"] == 100_000 and result["masked"] == []
        assert result["seconds"] < 60
        assert page.errors == []


def test_the_probe_takes_an_action_mask_and_shows_pythons_answer_and_messages(browser,
                                                                            corridor_port):
    """The probe's optional mask: Python's probabilities under it (0 where illegal), the
    greedy legal action; without one, every action legal; a bad mask gets Python's message."""
    policy = serve.OnnxPolicy(FIXTURES / "corridor.onnx")
    with open_page(browser, f"http://127.0.0.1:{corridor_port}/") as page:
        assert wait_for_state(page, "probe", "error") == "probe", page.text_content("#error")
        assert "action mask of 8, trained with masks" in page.text_content("#summary")
        assert page.is_visible("#probe-mask")
        for cell in range(5):
            mask = [int(a in (FORWARD[cell], BACK[cell])) for a in range(8)]
            page.fill("#probe-mask", json.dumps(mask))
            shown = run_probe(page, cell)
            assert shown["action"] == FORWARD[cell]  # trained with the masks: forward
            probs = np.asarray(shown["outputs"]["probs"])
            assert (probs[np.asarray(mask) == 0] == 0).all()
            np.testing.assert_allclose(probs, policy.probs(cell, action_mask=mask), atol=1e-6)
        page.fill("#probe-mask", "")
        shown = run_probe(page, [0, 1])
        np.testing.assert_allclose(shown["outputs"]["probs"], policy.probs([0, 1]), atol=1e-6)
        for mask, obs in [([0] * 8, 2), ([1, 1], 2), ([[1] * 8], [1, 2])]:
            page.fill("#probe-obs", json.dumps(obs))
            page.fill("#probe-mask", json.dumps(mask))
            page.click("#probe-run")
            with pytest.raises(ValueError) as python:
                policy.act(obs, action_mask=mask)
            expect(page.locator("#probe-error")).to_have_text(str(python.value))
        page.fill("#probe-mask", "[1, 0")
        page.click("#probe-run")
        expect(page.locator("#probe-error")).to_have_text(
            re.compile(r"^the action mask is not JSON: "))
        assert page.errors == []


MASKED_PLAYER = """async ([episodes, branches]) => {
  // The page's Player on the page's policy, playing a JavaScript Corridor-v0 whose info
  // carries its masks, as gymnasium's Taxi-v4's does: every action legal, each episode forward.
  const { loadPolicy } = await import("keras-pg-policy");
  const { Player } = await import("./web/player.js");
  const policy = await loadPolicy("./policy.onnx");
  const FORWARD = [3, 6, 1, 4, 7, 2, 5, 0], BACK = [5, 0, 7, 2, 1, 6, 3, 4];
  const illegal = [];
  const starts = [];
  const env = {
    cell: 0, episode: 0, info: {},
    observe() {
      const mask = Array(8).fill(0);
      mask[FORWARD[this.cell]] = mask[BACK[this.cell]] = 1;
      this.info = { action_mask: branches ? [...mask, 1, 0] : mask };
      return this.cell;
    },
    reset() {
      this.cell = this.episode++ % 5;
      starts.push(this.cell);
      return this.observe();
    },
    step(action) {
      const [move, flag] = Array.isArray(action) ? action : [action, 0];
      if (!this.info.action_mask[move] || flag === 1) illegal.push(action);
      if (move === FORWARD[this.cell]) this.cell += 1;
      else if (move === BACK[this.cell]) this.cell = Math.max(this.cell - 1, 0);
      const terminated = this.cell === 5;
      return { observation: this.observe(), reward: terminated ? 1 : -0.01, terminated,
               truncated: false, info: this.info };
    },
  };
  const player = new Player(policy, env);
  while (player.returns.length < episodes) await player.step();
  const steps = player.steps;
  await player.step();  // the first of the next episode, to see the mask it passed
  return { illegal, steps, starts: starts.slice(0, episodes),
           lastMask: Array.from(player.last.mask), cell: starts.at(-1) };
}"""


@pytest.mark.parametrize("file, branches", [("corridor.onnx", False),
                                            ("corridor_branches.onnx", True)])
def test_the_pages_player_passes_the_envs_masks(browser, file, branches):
    """An env port whose info carries `action_mask` has it passed at every step: no illegal
    action, and the greedy policy goes forward from every cell (5 - start steps each)."""
    with (running_server(FIXTURES / file) as port,
          open_page(browser, f"http://127.0.0.1:{port}/") as page):
        assert wait_for_state(page, "probe", "error") == "probe", page.text_content("#error")
        played = page.evaluate(MASKED_PLAYER, [10, branches])
        assert played["illegal"] == []
        assert played["steps"] == sum(5 - start for start in played["starts"])
        cell = played["cell"]
        assert played["lastMask"] == [int(a in (FORWARD[cell], BACK[cell])) for a in range(8)
                                      ] + ([1, 0] if branches else [])
        assert page.errors == []


def test_a_taxi_policy_plays_taxi_v4_in_chromium_with_its_masks(browser):
    """taxi.onnx (keras_pg's Taxi-v4 preset, trained with the masks in gymnasium's info) in the
    page's Taxi-v4 port, which gives the player its masks: the greedy policy delivers (a mean
    return of at least 7 over 20 episodes; without its masks it would loop to the time limit,
    -200), and the probability bars strike the illegal actions through."""
    with (running_server(FIXTURES / "taxi.onnx") as port,
          open_page(browser, f"http://127.0.0.1:{port}/?speed=max&episodes=20") as page):
        assert wait_for_state(page, "done", "error") == "done", page.text_content("#error")
        stats = page.evaluate("({...document.getElementById('stats').dataset})")
        assert int(stats["episodes"]) == 20
        assert float(stats["meanReturn"]) >= 7
        assert "action mask of 6, trained with masks" in page.text_content("#summary")
        assert page.locator(".bar").count() == 6
        assert page.locator(".bar.masked").count() >= 1  # a taxi can never take all 6
        assert page.errors == []
