"""Invalid-action masks in serve: how a caller's mask is read (serve/masks.py), how a file's
mask input is checked at load (serve/loading.py), and OnnxPolicy acting under masks --
illegal actions get probability exactly 0 and are never taken, greedy or sampled.

The policies are serve/js/test/fixtures/corridor.onnx (categorical, 8 actions) and
corridor_branches.onnx (multi_categorical, nvec [8, 2], masks of 10), trained on
tests/masked_env.py's Corridor-v0 with its masks; cartpole.onnx (contract 3), pendulum.onnx
(gaussian) and switches.onnx (bernoulli) take none.
"""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

import serve
from serve import contract, masks
from serve.sampling import sample_categorical
from tests.test_serve_envs import box, discrete, keras_pg_metadata, write_policy

FIXTURES = Path(__file__).resolve().parents[1] / "serve" / "js" / "test" / "fixtures"
CORRIDOR, BRANCHES = FIXTURES / "corridor.onnx", FIXTURES / "corridor_branches.onnx"


@pytest.fixture(scope="module")
def corridor():
    return serve.OnnxPolicy(CORRIDOR, seed=0)


@pytest.fixture(scope="module")
def branches():
    return serve.OnnxPolicy(BRANCHES, seed=0)


def random_masks(rows: int, sizes: tuple[int, ...], seed: int) -> np.ndarray:
    """bool [rows, sum(sizes)]: each action legal with probability 1/3, one more per branch."""
    rng = np.random.default_rng(seed)
    found = rng.random((rows, sum(sizes))) < 1 / 3
    for start, size in zip(np.cumsum((0, *sizes[:-1])), sizes, strict=True):
        found[np.arange(rows), start + rng.integers(0, size, rows)] = True
    return found


def legal(actions: np.ndarray, found: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """bool [rows]: every branch's action of each row is legal under its mask."""
    actions = actions.reshape(len(found), -1)
    starts = np.cumsum((0, *sizes[:-1]))
    return found[np.arange(len(found))[:, None], starts[None, :] + actions].all(axis=1)


# -- sampling --------------------------------------------------------------------------------
def test_sampling_never_draws_an_action_of_probability_zero():
    """Action k is drawn when cdf[k-1] <= u < cdf[k]: u = 0.0 exactly, or u on a boundary,
    never lands on an action of probability 0 (by hand: cdf [0, 0.5, 0.5, 1])."""
    probs = np.tile(np.array([0.0, 0.5, 0.0, 0.5], np.float32), (5, 1))
    uniform = np.array([0.0, 0.25, 0.4999, 0.5, 0.999999])
    assert sample_categorical(probs, uniform).tolist() == [1, 1, 1, 3, 3]


# -- a caller's mask (serve/masks.py) ----------------------------------------------------------
@pytest.mark.parametrize("given", [
    [0, 1, 1, 0, 0, 0, 0, 0], [False, True, True, False, False, False, False, False],
    np.array([0, 1, 1, 0, 0, 0, 0, 0], np.int8), np.array([0, 1, 1, 0, 0, 0, 0, 0], np.uint8),
    np.array([0.0, 1, 1, 0, 0, 0, 0, 0])])
def test_a_mask_is_true_false_or_0_1(given):
    found = masks.as_masks(given, (8,), 1, True)
    assert found.dtype == bool and found.tolist() == [[False, True, True] + [False] * 5]


def test_a_multi_discrete_mask_may_come_one_array_per_branch():
    one = masks.as_masks(([1] * 8, np.array([0, 1], np.int8)), (8, 2), 1, True)
    assert one.tolist() == [[True] * 8 + [False, True]]
    batch = masks.as_masks([np.ones((3, 8), bool), np.tile([[1, 0]], (3, 1))], (8, 2), 3, False)
    assert batch.shape == (3, 10) and batch[:, 8:].tolist() == [[True, False]] * 3


@pytest.mark.parametrize("given,sizes,rows,single,message", [
    ([1] * 7, (8,), 1, True, "action_mask must be true/false or 0/1 of shape [8] for one "
                             "observation; got shape [7]"),
    ([1] * 8, (8,), 2, False, "action_mask must be true/false or 0/1 of shape [2, 8] for a "
                              "batch of 2; got shape [8]"),
    ([[1] * 8, [1] * 7], (8,), 2, False, "action_mask must be true/false or 0/1 of shape "
                                         "[2, 8] for a batch of 2; got nested lists of "
                                         "different lengths"),
    (["a"] * 8, (8,), 1, True, "action_mask must be true/false or 0/1 of shape [8] for one "
                               "observation; got values that are neither true/false nor "
                               "numbers"),
    ([[1] * 8, [1, 1, 1]], (8, 2), 1, True, "action_mask must be true/false or 0/1 of shape "
                                            "[10] for one observation (or one per branch: "
                                            "[8] and [2]); got nested lists of different "
                                            "lengths"),
    ([1] * 10, (8, 2), 3, False, "action_mask must be true/false or 0/1 of shape [3, 10] for "
                                 "a batch of 3 (or one per branch: [3, 8] and [3, 2]); got "
                                 "shape [10]"),
    ([1, 2, 0, 0, 0, 0, 0, 0], (8,), 1, True, "action_mask must hold true/false or 0/1 only; "
                                              "row 0 has another value at action 1"),
    ([[1] * 8, [1, 0.5] + [0] * 6], (8,), 2, False, "action_mask must hold true/false or 0/1 "
                                                    "only; row 1 has another value at action "
                                                    "1"),
    ([0] * 8, (8,), 1, True, "action_mask allows no action in row 0; every row needs a legal "
                             "action"),
    ([[1] * 8, [0] * 8], (8,), 2, False, "action_mask allows no action in row 1; every row "
                                         "needs a legal action"),
    ([1] * 8 + [0, 0], (8, 2), 1, True, "action_mask allows no action in row 0 (branch 1); "
                                        "every row needs a legal action in every branch"),
    ([[1] * 10, [0] * 8 + [1, 1]], (8, 2), 2, False, "action_mask allows no action in row 1 "
                                                     "(branch 0); every row needs a legal "
                                                     "action in every branch"),
])
def test_a_bad_mask_is_a_one_line_value_error(given, sizes, rows, single, message):
    with pytest.raises(ValueError) as info:
        masks.as_masks(given, sizes, rows, single)
    assert str(info.value) == message


def test_all_legal_masks_are_read_only_views_of_one_array():
    ones = masks.AllLegal(8)
    three, five = ones(3), ones(5)
    assert three.shape == (3, 8) and five.shape == (5, 8) and three.all() and five.all()
    assert not five.flags.writeable and five.base is ones(2).base


# -- OnnxPolicy ------------------------------------------------------------------------------
def test_a_mask_zeroes_the_illegal_actions_and_the_greedy_action_is_legal(corridor):
    assert corridor.action_mask_size == 8
    mask = np.zeros(8, bool)
    mask[[0, 5]] = True
    unmasked = corridor.probs(2)
    probs = corridor.probs(2, action_mask=mask)
    assert (probs[~mask] == 0).all()
    np.testing.assert_allclose(probs[mask], unmasked[mask] / unmasked[mask].sum(), rtol=1e-5)
    assert corridor.act(2, action_mask=mask) == int(np.argmax(np.where(mask, unmasked, -1)))
    assert corridor.act(2) == int(np.argmax(unmasked))  # all legal again after a masked call


def test_no_mask_is_every_action_legal(corridor, branches):
    obs = np.arange(6, dtype=np.float32)
    for policy in (corridor, branches):
        everything = np.ones((6, policy.action_mask_size), bool)
        for method in ("probs", "distribution"):
            got, expected = (getattr(policy, method)(obs, action_mask=everything),
                             getattr(policy, method)(obs))
            for a, b in zip(*(v.values() if isinstance(v, dict) else [v]
                              for v in (got, expected)), strict=True):
                np.testing.assert_array_equal(a, b)
        assert policy.act(obs).tolist() == policy.act(obs, action_mask=everything).tolist()


@pytest.mark.parametrize("name", ["corridor", "branches"])
def test_no_masked_action_is_ever_taken_greedy_or_sampled(request, name):
    """100,000 sampled actions under random masks (and greedy ones): every one legal."""
    policy = request.getfixturevalue(name)
    sizes = tuple(policy.action_space.get("nvec", [policy.action_mask_size]))
    rows = 100_000
    obs = np.random.default_rng(1).integers(0, 6, rows).astype(np.float32)
    found = random_masks(rows, sizes, seed=2)
    sampled = policy.act(obs, deterministic=False, action_mask=found)
    greedy, dist = policy.decide(obs, action_mask=found)
    assert legal(sampled, found, sizes).all() and legal(greedy, found, sizes).all()
    assert (dist[contract.PROBS][~found] == 0).all()
    one = [policy.act(obs[i], deterministic=False, action_mask=found[i]) for i in range(500)]
    assert legal(np.asarray(one), found[:500], sizes).all()


def test_every_method_and_the_episode_take_a_mask(branches):
    mask = [[0, 0, 0, 1, 0, 0, 0, 0], [0, 1]]  # one per branch: move 3, flag 1
    assert branches.act(0, action_mask=mask).tolist() == [3, 1]
    assert branches.act(0, deterministic=False, action_mask=mask).tolist() == [3, 1]
    actions, dist = branches.decide(0, action_mask=mask)
    assert actions.tolist() == [[3, 1]] and dist[contract.PROBS][0].tolist() == [
        0, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    assert branches.distribution([0, 1], action_mask=np.tile(
        [0, 0, 0, 1, 0, 0, 0, 0, 0, 1], (2, 1)))[contract.ACTION].tolist() == [[3, 1]] * 2
    episode = branches.episode()
    assert episode.act(0, action_mask=mask).tolist() == [3, 1]


@pytest.mark.parametrize("file,options,why", [
    ("cartpole.onnx", {}, "its file is contract 3, older than action masks (contract 6); "
                          "re-export it with python -m export to pass one"),
    ("dials.onnx", {}, "its file is contract 4, older than action masks (contract 6); "
                       "re-export it with python -m export to pass one"),
    ("pendulum.onnx", {}, "a gaussian policy's actions are never illegal (masks apply to "
                          "categorical and multi_categorical policies); leave action_mask out"),
    ("switches.onnx", {}, "a bernoulli policy's actions are never illegal (masks apply to "
                          "categorical and multi_categorical policies); leave action_mask out"),
    ("nometa.onnx", {"observation_shape": (4,), "action_type": "discrete"},
     "its file has no keras_pg metadata (and no action_mask input)"),
])
def test_a_policy_without_the_input_refuses_a_mask_saying_why(file, options, why):
    policy = serve.OnnxPolicy(FIXTURES / file, **options)
    assert policy.action_mask_size is None
    obs = policy.zeros(1)[0] if policy.observation_parts is None else policy.zeros(1)
    for call in (lambda: policy.act(obs, action_mask=[1, 1]),
                 lambda: policy.act(obs, deterministic=False, action_mask=[1, 1]),
                 lambda: policy.distribution(obs, action_mask=[1, 1])):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == f"this policy takes no action_mask: {why}"


def test_act_with_a_mask_costs_little_more_than_without(corridor):
    """act on one observation: with a mask (checked, copied into the bound buffer) within
    1.5x of without (~1.15x measured; the bound is loose for shared CI machines)."""
    import timeit

    obs, mask = np.array(3, np.float32), np.zeros(8, bool)
    mask[[1, 6]] = True
    with_mask = min(timeit.repeat(lambda: corridor.act(obs, action_mask=mask), number=500,
                                  repeat=9))
    without = min(timeit.repeat(lambda: corridor.act(obs), number=500, repeat=9))
    assert with_mask < 1.5 * without


# -- loading: the mask input against the metadata ------------------------------------------------
def forged(tmp_path: Path, value) -> Path:
    """corridor.onnx with its metadata action_mask replaced by `value`."""
    model = onnx.load(CORRIDOR)
    for prop in model.metadata_props:
        if prop.key == contract.ACTION_MASK_KEY:
            prop.value = json.dumps(value)
    path = tmp_path / "forged.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("value,problem", [
    (None, "input 'action_mask' is tensor(bool) [batch, 8]; the metadata's action_mask null "
           "says the graph takes none (re-export it with python -m export)"),
    ({"size": 7, "trained": True, "source": "info", "function": None},
     "metadata action_mask has size 7; the action space has 8 actions (re-export it with "
     "python -m export)"),
    ([8], 'metadata action_mask is [8]; expected null or an object with the mask\'s size, '
          'trained, source and function (re-export it with python -m export)'),
    ({"size": 8, "trained": True, "source": "env", "function": None},
     'metadata action_mask has trained true and source "env"; expected true or false, and '
     'null or one of "function", "method", "info", "observation" (re-export it with python '
     '-m export)'),
    ({"size": 8, "trained": True, "source": "function", "function": None},
     'metadata action_mask has function null; the source "function" needs module:function '
     '(re-export it with python -m export)'),
])
def test_a_file_whose_mask_metadata_and_graph_disagree_is_refused(tmp_path, value, problem):
    path = forged(tmp_path, value)
    with pytest.raises(serve.PolicyLoadError) as info:
        serve.OnnxPolicy(path)
    assert str(info.value) == f"{path}: {problem}"


def test_a_mask_in_the_metadata_needs_the_input_and_contract_6(tmp_path):
    from onnx import TensorProto, helper

    mask = contract.action_mask_metadata("categorical", discrete(2), "info")
    nodes = [helper.make_node("MatMul", [contract.INPUT, "w"], ["logits"])]
    weights = {"w": np.eye(4, 2, dtype=np.float32)}
    path = write_policy(tmp_path / "no_input.onnx", TensorProto.FLOAT, (4,), nodes, weights, 2,
                        keras_pg_metadata("CartPole-v1", box(4), discrete(2),
                                          **{contract.ACTION_MASK_KEY: mask}))
    with pytest.raises(serve.PolicyLoadError) as info:
        serve.OnnxPolicy(path)
    assert str(info.value) == (f"{path}: input 'action_mask' is missing; the metadata's "
                               "action_mask of size 2 needs tensor(bool) [batch, 2]")
    old = write_policy(tmp_path / "old.onnx", TensorProto.FLOAT, (4,), nodes, weights, 2,
                       keras_pg_metadata("CartPole-v1", box(4), discrete(2), version=5,
                                         **{contract.ACTION_MASK_KEY: mask}))
    with pytest.raises(serve.PolicyLoadError) as info:
        serve.OnnxPolicy(old)
    assert str(info.value).startswith(f"{old}: metadata action_mask is {{\"function\": null")
    assert str(info.value).endswith("; expected null for a categorical policy of contract 5 "
                                    "(re-export it with python -m export)")


# -- the episode loop reads each state's mask where training read it -------------------------
CORRIDOR_ID = "tests.masked_env:Corridor-v0"
SOURCES = {"method": {"env_kwargs": {"source": "method"}},
           "observation": {"env_kwargs": {"source": "observation"}},
           "function": {"env_kwargs": {"source": "none"},
                        "action_mask_fn": "tests.masked_env:corridor_mask"}}


@pytest.fixture(scope="session")
def source_policies(tmp_path_factory) -> dict[str, Path]:
    """Corridor-v0 policies trained a little with masks from each source but "info" (the
    fixture corridor.onnx's), exported: {source: file}."""
    import export
    import keras_pg

    tmp = tmp_path_factory.mktemp("sources")
    files = {"info": CORRIDOR}
    for source, settings in SOURCES.items():
        with keras_pg.REINFORCE(CORRIDOR_ID, seed=0, eval_episodes=0, **settings) as agent:
            agent.learn(max_steps=1500)
            export.to_onnx(agent, tmp / f"{source}.onnx")
        files[source] = tmp / f"{source}.onnx"
    return files


def no_illegal_move(result: dict) -> bool:
    """Corridor-v0's returns hold no illegal move's -0.1: each step costs 0.01, the goal
    gives 1, so the returns sum to (episodes ending at the goal) - 0.01 steps."""
    reached = sum(r > 0 for r in result["returns"])
    return abs(sum(result["returns"]) - (reached - 0.01 * result["steps"])) < 1e-6


@pytest.mark.parametrize("source", ["info", "method", "observation", "function"])
def test_the_episode_loop_reads_each_states_mask_from_the_trained_source(source_policies,
                                                                         source):
    policy = serve.OnnxPolicy(source_policies[source])
    assert policy.metadata[contract.ACTION_MASK_KEY]["source"] == source
    for deterministic in (True, False):
        result = serve.run_episodes(policy, episodes=30, seed=0, deterministic=deterministic)
        assert no_illegal_move(result), (deterministic, result["returns"])


def test_the_episode_loop_joins_a_mask_given_per_branch(branches):
    """corridor_branches' env gives (move mask [8], flag mask [2]) in its info; the flag's 1
    is illegal, which the untrained flag branch would otherwise pick half the time."""
    result = serve.run_episodes(branches, episodes=30, seed=0, deterministic=False)
    assert no_illegal_move(result)


def test_a_policy_trained_without_masks_acts_with_none_in_the_episode_loop(tmp_path):
    import export
    import keras_pg

    with keras_pg.REINFORCE(CORRIDOR_ID, seed=0, eval_episodes=0,
                            action_masks=False) as agent:
        export.to_onnx(agent, tmp_path / "unmasked.onnx")
    policy = serve.OnnxPolicy(tmp_path / "unmasked.onnx")
    assert policy.action_mask_size == 8  # it takes one, and was trained without
    assert policy.metadata[contract.ACTION_MASK_KEY] == {"size": 8, "trained": False,
                                                         "source": None, "function": None}
    result = serve.run_episodes(policy, episodes=3, seed=0)
    assert not no_illegal_move(result)  # untrained, unmasked: illegal moves


@pytest.mark.parametrize("kwargs,message", [
    ({"source": "none"}, "env 'tests.masked_env:Corridor-v0' gives no action mask in "
                         "info['action_mask']; the policy was trained with masks from there "
                         "(metadata action_mask)"),
    ({"bad": "shape"}, "env 'tests.masked_env:Corridor-v0''s action mask from "
                       "info['action_mask']: action_mask must be true/false or 0/1 of shape "
                       "[8] for one observation; got shape [7]"),
    ({"bad": "values"}, "env 'tests.masked_env:Corridor-v0''s action mask from "
                        "info['action_mask']: action_mask must hold true/false or 0/1 only; "
                        "row 0 has another value at action 1"),
    ({"bad": "empty"}, "env 'tests.masked_env:Corridor-v0''s action mask from "
                       "info['action_mask']: action_mask allows no action in row 0; every row "
                       "needs a legal action"),
])
def test_an_env_whose_masks_fail_ends_the_episodes_in_one_line(corridor, kwargs, message):
    with pytest.raises(ValueError) as info:
        serve.run_episodes(corridor, episodes=30, seed=0, env_kwargs=kwargs)
    assert str(info.value) == message


def test_python_m_serve_plays_a_masked_policy(capsys, source_policies):
    from serve.cli import main

    assert main([str(source_policies["observation"]), "--episodes", "5"]) == 0
    assert capsys.readouterr().out.startswith(f"{CORRIDOR_ID}: return ")
    assert main([str(CORRIDOR), "--episodes", "2", "--env-kwargs", '{"source": "method"}']) == 2
    assert capsys.readouterr().err == (
        f"error: env '{CORRIDOR_ID}' gives no action mask in info['action_mask']; the policy "
        "was trained with masks from there (metadata action_mask)\n")
