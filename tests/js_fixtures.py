"""Fixtures for the JavaScript package's tests (serve/js/test/): keras-pg policies, and what
Python's `serve.OnnxPolicy` answers for them, which the JavaScript policy must answer too.

    python -m tests.js_fixtures                         # the JSON files, from the committed
                                                        # policies
    python -m tests.js_fixtures --train switches dials  # first retrains and re-exports those

--train takes the names of TRAINED. Retrain only the policies you mean to change: the
committed cartpole (with cartpole_int8), acrobot, pendulum and image files were exported at
contract 3 by an older keras_pg, whose training today's presets do not reproduce (cartpole
must keep its greedy return of 500: the example and the browser test play it).

serve/js/test/fixtures/ holds
    *.onnx             policies trained and exported by keras_pg (cartpole: solved; acrobot,
                       pendulum, image: a few updates; switches (bernoulli), dials
                       (multi_categorical), and beacon (Dict), pair (Tuple), lock
                       (MultiDiscrete) and mirror (MultiBinary observations): solved in
                       seconds; cue: a GRU policy solving tests/memory_env.py's Cue-v0, a
                       recurrent file; corridor (categorical) and corridor_branches
                       (multi_categorical): tests/masked_env.py's Corridor-v0, trained with
                       its action masks, contract 6 files with the input action_mask;
                       taxi: Taxi-v4's preset, solved with Taxi's masks), and
                       small ones written with onnx.helper (no metadata, forged
                       metadata, recurrent graphs that disagree with theirs) whose bytes this
                       module reproduces
    parity.json        per policy: observations ({part: batch} of a Dict, a Tuple's parts'
                       batches in a list), Python's outputs, greedy actions, and sampled
                       actions' statistics for one observation; per recurrent policy (cue),
                       whole episodes instead, step by step, the state carried; per policy
                       of action masks (corridor, corridor_branches) also the env's masks
                       of its observations, "action_masks" [B, P], and "masked": the
                       outputs, greedy actions and sampled statistics under them (the
                       others: without a mask, all legal)
    messages.json      inputs that Python refuses (files, load options, observations, a
                       recurrent policy's state, action masks: tests/js_masks.py) and its
                       message, "{path}" standing for the file's path
    transitions.json   gymnasium's transitions for the env ports (tests/js_transitions.py)

tests/test_js.py checks that the committed files are what this module builds now.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import serve
from serve import contract
from tests.js_masks import MASK_HAND_WRITTEN, mask_message_cases, write_mask_policies
from tests.js_transitions import build_transitions
from tests.test_serve_envs import box, discrete, keras_pg_metadata, write_policy

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "serve" / "js" / "test" / "fixtures"
SAMPLES = 20_000  # sampled actions per policy, for their frequencies (of images: a tenth)
IMAGE_SIDE = 36  # the smallest image for the Nature CNN: a small file
NO_METADATA = {"observation_shape": [4], "action_type": "discrete"}


# -- policies --------------------------------------------------------------------------------
def trained_runs() -> dict[str, Callable[[], tuple[Any, int | None]]]:
    """Per trained policy, a function making its agent, and the env steps `learn` trains
    (None: to the agent's own stop, the solve criterion or its max_steps)."""
    import keras_pg
    from tests.image_envs import SquareSideEnv
    from tests.memory_env import SETTINGS as MEMORY

    settings = {"seed": 0, "num_envs": 8, "episodes_per_update": 16, "max_steps": 20_000,
                "preset": "none", "lr": 0.01}  # tests/test_factored_heads.py's settings

    def structured(env: str, **options: Any) -> Callable[[], tuple[Any, None]]:
        return lambda: (keras_pg.REINFORCE(f"tests.structured_envs:{env}-v0", **settings,
                                           **options), None)

    return {
        "cartpole": lambda: (keras_pg.REINFORCE("CartPole-v1", seed=0), None),
        "acrobot": lambda: (keras_pg.REINFORCE("Acrobot-v1", seed=0), 16_000),
        "pendulum": lambda: (keras_pg.REINFORCE("Pendulum-v1", seed=0), 12_800),
        "image": lambda: (keras_pg.REINFORCE(SquareSideEnv, env_kwargs={"side": IMAGE_SIDE},
                                             seed=0, max_episode_steps=10, hidden=(16,)),
                          5_000),
        "switches": structured("Switches"),
        "dials": structured("Dials"),
        "beacon": structured("Beacon", hidden=(16,)),  # a smaller file: its CNN is most of it
        "pair": structured("Pair"),
        "lock": structured("Lock"),
        "mirror": structured("Mirror"),
        "cue": lambda: (keras_pg.REINFORCE("tests.memory_env:Cue-v0", network="gru", seed=0,
                                           max_steps=24_000, **MEMORY), None),
        "corridor": lambda: (keras_pg.REINFORCE("tests.masked_env:Corridor-v0", seed=0), 20_000),
        "corridor_branches": lambda: (keras_pg.REINFORCE(
            "tests.masked_env:Corridor-v0", env_kwargs={"branches": True}, seed=0), 20_000),
        "taxi": lambda: (keras_pg.REINFORCE("Taxi-v4", seed=0), None),  # its preset, masked
    }


TRAINED = ("cartpole", "acrobot", "pendulum", "image", "switches", "dials", "beacon", "pair",
           "lock", "mirror", "cue", "corridor", "corridor_branches", "taxi")
"""The policies keras_pg trains and exports (cartpole's agent also writes cartpole_int8)."""


def train_policies(names: list[str]) -> None:
    """Retrain and export the keras_pg policies `names` (TensorFlow; seconds each, cartpole
    about a minute on 2 cores)."""
    import export

    runs = trained_runs()
    for name in names:
        agent, steps = runs[name]()
        agent.learn(max_steps=steps)
        export.to_onnx(agent, FIXTURES / f"{name}.onnx")
        if name == "cartpole":
            export.to_onnx(agent, FIXTURES / "cartpole_int8.onnx", quantize="int8")


HAND_WRITTEN = ("nometa", "nometa_continuous", "contract_newer", "bad_kind", "wrong_outputs",
                "wrong_dtype", "missing_key", "not_onnx", "bad_nvec", "bad_bits",
                "wrong_branches", "wrong_bits", "bad_part", "empty_parts", "wrong_parts",
                "wrong_obs_nvec", "wrong_part_shape", "bad_recurrent", "wrong_state",
                "no_next_state", "unexpected_state", *MASK_HAND_WRITTEN)


def write_hand_policies(directory: Path = FIXTURES) -> None:
    """The policies written with onnx.helper (HAND_WRITTEN): no metadata, or metadata the
    contract refuses; and a file that is not ONNX."""
    directory.mkdir(parents=True, exist_ok=True)
    logits_graph(directory / "nometa.onnx", 4, 2)
    logits_graph(directory / "nometa_continuous.onnx", 3, 1)
    left = [helper.make_node("MatMul", [contract.INPUT, "w"], ["logits"])]
    forged = {
        "contract_newer": keras_pg_metadata("CartPole-v1", box(4), discrete(2),
                                            version=contract.CONTRACT_VERSION + 1),
        "bad_kind": keras_pg_metadata("CartPole-v1", box(4), discrete(2), policy_kind="beta"),
        "wrong_outputs": keras_pg_metadata("CartPole-v1", box(4), discrete(3)),
        "wrong_dtype": keras_pg_metadata("X-v0", {"type": "Box", "shape": [2, 2, 1],
                                                  "dtype": "uint8", "low": [0] * 4,
                                                  "high": [255] * 4}, discrete(2)),
        # a categorical graph (probs [batch, 2], action [batch]) under the new kinds' metadata
        "bad_nvec": structured_metadata({"type": "MultiDiscrete", "nvec": [3, 0]}),
        "bad_bits": structured_metadata({"type": "MultiBinary", "n": "2"}),
        "wrong_branches": structured_metadata({"type": "MultiDiscrete", "nvec": [1, 1]}),
        "wrong_bits": structured_metadata({"type": "MultiBinary", "n": 3}),
        # the one-input graph (obs [batch, 4]) under observation spaces of parts it lacks
        "bad_part": observation_metadata({"type": "Dict", "spaces": {
            "a": box(4), "b": {"type": "Text", "max_length": 8}}}),
        "empty_parts": observation_metadata({"type": "Dict", "spaces": {}}),
        "wrong_parts": observation_metadata({"type": "Dict", "spaces": {"a": box(4),
                                                                        "b": discrete(2)}}),
        "wrong_obs_nvec": observation_metadata({"type": "MultiDiscrete", "nvec": [3, 3, 3]}),
    }
    missing = keras_pg_metadata("CartPole-v1", box(4), discrete(2))
    del missing[contract.ENV_KWARGS_KEY]
    forged["missing_key"] = missing
    for name, metadata in forged.items():
        shape = (2, 2, 1) if name == "wrong_dtype" else (4,)
        nodes = left if name != "wrong_dtype" else [
            helper.make_node("Reshape", [contract.INPUT, "flat"], ["x"]),
            helper.make_node("MatMul", ["x", "w"], ["logits"])]
        weights = {"w": np.eye(4, 2, dtype=np.float32), "flat": np.array([-1, 4], np.int64)}
        if name != "wrong_dtype":
            del weights["flat"]
        write_policy(directory / f"{name}.onnx", TensorProto.FLOAT, shape, nodes, weights, 2,
                     metadata)
    (directory / "not_onnx.onnx").write_bytes(b"this is not an ONNX file\n")
    # a graph of the parts "0" [batch, 4] and "1" [batch], whose metadata's part "0" is Box(3)
    parts_graph(directory / "wrong_part_shape.onnx", observation_metadata(
        {"type": "Tuple", "spaces": [box(3), discrete(2)]}))
    # recurrent graphs of state [batch, 4] whose metadata says otherwise
    gru = contract.recurrent_metadata("gru", 4)
    for name, recurrent, next_state in [
            ("bad_recurrent", {**gru, "state_size": 0}, True),
            ("wrong_state", contract.recurrent_metadata("gru", 8), True),
            ("no_next_state", gru, False),
            ("unexpected_state", None, True)]:  # feed-forward metadata
        recurrent_graph(directory / f"{name}.onnx", keras_pg_metadata(
            "CartPole-v1", box(4), discrete(2), **{contract.RECURRENT_KEY: recurrent}),
            next_state)
    write_mask_policies(directory)


def structured_metadata(action_space: dict[str, Any]) -> dict[str, Any]:
    """Contract metadata of a policy acting in a MultiDiscrete or MultiBinary space."""
    kind = next(k for k, space in contract.KINDS.items() if space == action_space["type"])
    return keras_pg_metadata("CartPole-v1", box(4), action_space,
                             **{contract.POLICY_KIND_KEY: kind})


def observation_metadata(observation_space: dict[str, Any]) -> dict[str, Any]:
    """Contract metadata of a categorical policy of 2 actions observing `observation_space`."""
    return keras_pg_metadata("CartPole-v1", observation_space, discrete(2))


def parts_graph(path: Path, metadata: dict[str, Any]) -> None:
    """A categorical policy of a Tuple observation (Box(4), Discrete), one input per part:
    logits = x0 W + x1 v [batch, 2] from "0" [batch, 4] and "1" [batch]."""
    nodes = [helper.make_node("MatMul", ["0", "w"], ["h"]),
             helper.make_node("Unsqueeze", ["1", "axis"], ["column"]),
             helper.make_node("Mul", ["column", "v"], ["g"]),
             helper.make_node("Add", ["h", "g"], ["logits"]),
             helper.make_node("Softmax", ["logits"], [contract.PROBS], axis=1),
             helper.make_node("ArgMax", ["logits"], [contract.ACTION], axis=1, keepdims=0)]
    batch = contract.BATCH_DIM
    graph = helper.make_graph(
        nodes, "parts",
        [helper.make_tensor_value_info("0", TensorProto.FLOAT, [batch, 4]),
         helper.make_tensor_value_info("1", TensorProto.FLOAT, [batch])],
        [helper.make_tensor_value_info(contract.PROBS, TensorProto.FLOAT, [batch, 2]),
         helper.make_tensor_value_info(contract.ACTION, TensorProto.INT64, [batch])],
        [numpy_helper.from_array(np.eye(4, 2, dtype=np.float32), "w"),
         numpy_helper.from_array(np.array([1], np.int64), "axis"),
         numpy_helper.from_array(np.array([[0.5, -0.5]], np.float32), "v")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    helper.set_model_props(model, contract.encode_metadata(metadata))
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def recurrent_graph(path: Path, metadata: dict[str, Any], next_state: bool = True) -> None:
    """One step of a recurrent categorical policy of CartPole's spaces, state [batch, 4]:
    h = tanh(obs W + state U) is `next_state` (an output unless `next_state` is False), and
    the logits h V [batch, 2]."""
    size, batch = 4, contract.BATCH_DIM
    nodes = [helper.make_node("MatMul", [contract.INPUT, "w"], ["x"]),
             helper.make_node("MatMul", [contract.STATE, "u"], ["r"]),
             helper.make_node("Add", ["x", "r"], ["pre"]),
             helper.make_node("Tanh", ["pre"], [contract.NEXT_STATE]),
             helper.make_node("MatMul", [contract.NEXT_STATE, "v"], ["logits"]),
             helper.make_node("Softmax", ["logits"], [contract.PROBS], axis=1),
             helper.make_node("ArgMax", ["logits"], [contract.ACTION], axis=1, keepdims=0)]
    outputs = [helper.make_tensor_value_info(contract.ACTION, TensorProto.INT64, [batch]),
               helper.make_tensor_value_info(contract.PROBS, TensorProto.FLOAT, [batch, 2])]
    if next_state:
        outputs.append(helper.make_tensor_value_info(contract.NEXT_STATE, TensorProto.FLOAT,
                                                     [batch, size]))
    graph = helper.make_graph(
        nodes, "recurrent",
        [helper.make_tensor_value_info(contract.INPUT, TensorProto.FLOAT, [batch, 4]),
         helper.make_tensor_value_info(contract.STATE, TensorProto.FLOAT, [batch, size])],
        outputs,
        [numpy_helper.from_array(np.eye(4, size, dtype=np.float32), "w"),
         numpy_helper.from_array(0.5 * np.eye(size, dtype=np.float32), "u"),
         numpy_helper.from_array(np.eye(size, 2, dtype=np.float32), "v")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    helper.set_model_props(model, contract.encode_metadata(metadata))
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def logits_graph(path: Path, obs_dim: int, out_dim: int) -> None:
    """Another tool's policy: input `x` [N, obs_dim] -> `y` = x W + b [N, out_dim]; no
    metadata (serve takes `y` as logits, or as the action of a continuous policy)."""
    w = np.linspace(-1, 1, obs_dim * out_dim, dtype=np.float32).reshape(obs_dim, out_dim)
    b = np.linspace(0.5, -0.5, out_dim, dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
        "other_tool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", obs_dim])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", out_dim])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


# -- what Python answers ---------------------------------------------------------------------
PARITY = {  # name -> (load options, observations)
    "cartpole": ({}, "CartPole-v1"),
    "acrobot": ({}, "Acrobot-v1"),
    "pendulum": ({}, "Pendulum-v1"),
    "image": ({}, "image"),
    "switches": ({}, "tests.structured_envs:Switches-v0"),
    "dials": ({}, "tests.structured_envs:Dials-v0"),
    "beacon": ({}, "tests.structured_envs:Beacon-v0"),  # Dict: {part: batch}
    "pair": ({}, "tests.structured_envs:Pair-v0"),  # Tuple: [part 0's batch, part 1's]
    "lock": ({}, "tests.structured_envs:Lock-v0"),
    "mirror": ({}, "tests.structured_envs:Mirror-v0"),
    "nometa": (NO_METADATA, "CartPole-v1"),
    "nometa_continuous": ({"observation_shape": [3], "action_type": "continuous"},
                          "Pendulum-v1"),
}
RECURRENT_PARITY = {"cue": ({}, "tests.memory_env:Cue-v0")}  # name -> (load options, env)
MASKED_PARITY = {"corridor": {}, "corridor_branches": {"branches": True}}
"""name -> the env_kwargs of tests/masked_env.py's Corridor-v0 its observations come from."""
EPISODES = 4  # of each recurrent policy, seeds 0, 1, ...: Cue-v0's cues +1, -1, +1, +1


Observations = np.ndarray | dict[str, np.ndarray] | tuple[np.ndarray, ...]
"""A batch [B, ...], or per part of a Dict ({key: [B, ...]}) or Tuple (a tuple) observation."""


def observations(source: str, n: int = 16) -> Observations:
    """n observations met in the env (by a random policy), seeded, as a batch: float32 or
    uint8 frames, or per part of a Dict or Tuple observation."""
    if source == "image":
        from tests.image_envs import SquareSideEnv

        env = SquareSideEnv(side=IMAGE_SIDE)
    else:
        env = gym.make(source)
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    found = []
    while len(found) < n:
        found.append(obs)
        for _ in range(3):
            obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                obs, _ = env.reset()
    if isinstance(obs, dict):
        return {key: np.stack([o[key] for o in found]) for key in obs}
    if isinstance(obs, tuple):
        return tuple(np.stack([o[i] for o in found]) for i in range(len(obs)))
    return np.stack(found)


def as_json(batch: Observations) -> Any:
    """A batch as JSON: nested lists, {part: nested lists}, or a Tuple's parts in a list."""
    if isinstance(batch, dict):
        return {key: value.tolist() for key, value in batch.items()}
    if isinstance(batch, tuple):
        return [value.tolist() for value in batch]
    return batch.tolist()


def repeated(batch: Observations, index: int, count: int) -> Observations:
    """Observation `index` of a batch, `count` times: a batch of the same form."""
    def repeat(values: np.ndarray) -> np.ndarray:
        return np.repeat(values[index:index + 1], count, axis=0)

    if isinstance(batch, dict):
        return {key: repeat(value) for key, value in batch.items()}
    return tuple(map(repeat, batch)) if isinstance(batch, tuple) else repeat(batch)


def build_parity() -> dict[str, Any]:
    """Per policy: observations, Python's outputs for the batch, and sampled statistics."""
    result = {}
    for name, (options, source) in PARITY.items():
        policy = serve.OnnxPolicy(FIXTURES / f"{name}.onnx", seed=0, **options)
        batch = observations(source)
        entry = {"file": f"{name}.onnx", "options": options, "observations": as_json(batch),
                 "outputs": {k: v.tolist() for k, v in policy.distribution(batch).items()},
                 "greedy": policy.act(batch).tolist()}
        if policy.kind != "deterministic":
            entry["sampled"] = sampled(policy, batch)
        result[name] = entry
    for name, (options, env_id) in RECURRENT_PARITY.items():
        result[name] = recurrent_parity(name, options, env_id)
    for name, env_kwargs in MASKED_PARITY.items():
        result[name] = masked_parity(name, env_kwargs)
    return result


def masked_parity(name: str, env_kwargs: dict[str, Any], n: int = 16) -> dict[str, Any]:
    """A policy of action masks: n observations of Corridor-v0 met by a random policy of
    legal actions, and masks of them: the env's (info["action_mask"], branches joined) for
    the first half, random ones forbidding the greedy action for the second (`forbidding`);
    Python's answers without a mask (as every entry) and under the masks ("masked")."""
    from tests.masked_env import ACTIONS

    policy = serve.OnnxPolicy(FIXTURES / f"{name}.onnx", seed=0)
    env = gym.make("tests.masked_env:Corridor-v0", **env_kwargs)
    env.action_space.seed(0)
    obs, info = env.reset(seed=0)
    found, masks = [], []
    while len(found) < n:
        found.append(obs)
        masks.append(np.concatenate(info["action_mask"])
                     if env_kwargs.get("branches") else info["action_mask"])
        obs, _, terminated, truncated, info = env.step(
            env.action_space.sample(mask=info["action_mask"]))
        if terminated or truncated:
            obs, info = env.reset()
    batch, legal = np.asarray(found, np.float32), np.asarray(masks).astype(bool)
    assert legal.shape == (n, policy.action_mask_size) and legal[:, :ACTIONS].sum(1).min() == 2
    greedy = policy.act(batch[n // 2:]).reshape(n - n // 2, -1)
    legal[n // 2:] = forbidding(greedy, policy.mask_spec.branches or (), seed=0)
    entry = {"file": f"{name}.onnx", "options": {}, "observations": batch.tolist(),
             "outputs": {k: v.tolist() for k, v in policy.distribution(batch).items()},
             "greedy": policy.act(batch).tolist(), "sampled": sampled(policy, batch),
             "action_masks": legal.tolist()}
    entry["masked"] = {
        "outputs": {k: v.tolist() for k, v in policy.distribution(
            batch, action_mask=legal).items()},
        "greedy": policy.act(batch, action_mask=legal).tolist(),
        "sampled": sampled(policy, batch, legal)}
    return entry


def recurrent_parity(name: str, options: dict[str, Any], env_id: str) -> dict[str, Any]:
    """Whole episodes of a recurrent policy (of one input), played greedily from seeds 0, 1,
    ...: per episode its observations and, step by step, Python's outputs (next_state among
    them), greedy action and reward when the episode carries its state; the same episodes in
    lockstep, one batch with a state per row; and sampled actions' statistics at one step."""
    policy = serve.OnnxPolicy(FIXTURES / f"{name}.onnx", seed=0, **options)
    episodes = [greedy_episode(policy, env_id, seed) for seed in range(EPISODES)]
    return {"file": f"{name}.onnx", "options": options, "state_size": policy.state_size,
            "episodes": [{key: as_json(value) for key, value in e.items()} for e in episodes],
            "lockstep": lockstep(policy, [e["observations"] for e in episodes]),
            "sampled": sampled_step(policy, episodes)}


def greedy_episode(policy: serve.OnnxPolicy, env_id: str, seed: int) -> dict[str, Any]:
    """One greedy episode, the state carried: observations [T, ...], outputs {name: [T, ...]}
    (what `distribution(obs, state)` answers at each step), greedy actions [T], rewards [T]."""
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    state, done = policy.initial_state(), False
    steps: list[tuple[np.ndarray, dict[str, np.ndarray], Any, float]] = []
    while not done:
        outputs = policy.distribution(obs, state)
        action, state = policy.act(obs, state)
        following, reward, terminated, truncated, _ = env.step(action)
        steps.append((obs, outputs, action, float(reward)))
        obs, done = following, terminated or truncated
    return {"observations": np.stack([step[0] for step in steps]),
            "outputs": {name: np.stack([step[1][name] for step in steps])
                        for name in steps[0][1]},
            "greedy": np.asarray([step[2] for step in steps]),
            "rewards": np.asarray([step[3] for step in steps])}


def lockstep(policy: serve.OnnxPolicy, observations: list[np.ndarray]) -> dict[str, Any]:
    """Episodes of one length played as one batch: observations [T, B, ...], and at each step
    Python's outputs and greedy actions, each row carrying its own state (`episode(batch=B)`)."""
    steps = np.stack(observations, axis=1)
    episode = policy.episode(batch=len(observations))
    outputs, greedy = [], []
    for obs in steps:
        outputs.append(policy.distribution(obs, episode.state))
        greedy.append(episode.act(obs))
    return {"observations": steps.tolist(),
            "outputs": {name: np.stack([o[name] for o in outputs]).tolist()
                        for name in outputs[0]},
            "greedy": np.stack(greedy).tolist()}


def sampled_step(policy: serve.OnnxPolicy, episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Statistics of SAMPLES sampled actions at the step after the first (from a state the
    episode carried, not zeros) whose distribution is widest: its probs and the actions'
    `frequencies`."""
    widest = [(float(entropy(e["outputs"][contract.PROBS], policy.kind)[t]), i, t)
              for i, e in enumerate(episodes) for t in range(1, len(e["greedy"]))]
    _, index, step = max(widest)
    episode = episodes[index]
    state = episode["outputs"][contract.NEXT_STATE][step - 1]
    obs = episode["observations"][step]
    actions, _ = policy.act(np.repeat(obs[None], SAMPLES, axis=0),
                            np.repeat(state[None], SAMPLES, axis=0), deterministic=False)
    probs = episode["outputs"][contract.PROBS][step]
    return {"episode": index, "step": step, "samples": SAMPLES, "probs": probs.tolist(),
            "frequencies": frequencies(policy, actions, len(probs)).tolist()}


def forbidding(actions: np.ndarray, branches: tuple[int, ...], seed: int) -> np.ndarray:
    """bool [B, sum(branches)]: random masks (each action legal with probability 1/2) where
    each row's `actions` [B, k] are illegal and another action of each branch is legal."""
    rng = np.random.default_rng(seed)
    masks = rng.random((len(actions), sum(branches))) < 0.5
    for i, (start, size) in enumerate(zip(np.cumsum((0, *branches[:-1])), branches,
                                          strict=True)):
        rows = np.arange(len(actions))
        other = (actions[:, i] + rng.integers(1, size, len(actions))) % size
        masks[rows, start + actions[:, i]] = False
        masks[rows, start + other] = True
    return masks


def sampled(policy: serve.OnnxPolicy, batch: Observations,
            masks: np.ndarray | None = None) -> dict[str, Any]:
    """Statistics of SAMPLES sampled actions for the observation with the widest distribution
    (under its action mask, if `masks` [B, P]): its probs and the actions' `frequencies`, or
    the mean, std and share at either bound of each dimension (gaussian)."""
    _, dist = policy.decide(batch, action_mask=masks)
    if policy.kind == "gaussian":
        index = int(np.argmax(dist[contract.STD].sum(axis=1)))
    else:
        index = int(np.argmax(entropy(dist[contract.PROBS], policy.kind)))
    dtypes = [dtype for _, dtype in (policy.observation_parts or {}).values()]
    images = policy.observation_dtype == np.uint8 or np.dtype(np.uint8) in dtypes
    samples = SAMPLES // 10 if images else SAMPLES
    actions = policy.act(repeated(batch, index, samples), deterministic=False,
                         action_mask=None if masks is None else repeated(masks, index, samples))
    stats = {"index": index, "samples": samples}
    if policy.kind != "gaussian":
        probs = dist[contract.PROBS][index]
        return stats | {"probs": probs.tolist(),
                        "frequencies": frequencies(policy, actions, len(probs)).tolist()}
    low, high = (np.asarray(policy.action_space[k], np.float32) for k in ("low", "high"))
    return stats | {"mean": actions.mean(axis=0).tolist(), "std": actions.std(axis=0).tolist(),
                    "at_low": (actions == low).mean(axis=0).tolist(),
                    "at_high": (actions == high).mean(axis=0).tolist()}


def frequencies(policy: serve.OnnxPolicy, actions: np.ndarray, size: int) -> np.ndarray:
    """Sampled actions' frequencies [size], side by side as the probs are: each action's in
    each branch (categorical: one branch of `size`; multi_categorical: the branches of nvec,
    in order), or each bit's frequency of 1 (bernoulli)."""
    if policy.kind == "bernoulli":
        return actions.mean(axis=0)
    branches = actions.reshape(len(actions), -1)
    sizes = policy.action_space.get("nvec", [size])
    return np.concatenate([np.bincount(branches[:, i], minlength=n)
                           for i, n in enumerate(sizes)]) / len(actions)


def entropy(probs: np.ndarray, kind: str) -> np.ndarray:
    """Each row's entropy [B] of probs [B, n]: the sum over its categoricals (side by side),
    or over its bits (bernoulli: P(1) each)."""
    def terms(p: np.ndarray) -> np.ndarray:
        return -p * np.log(np.maximum(p, 1e-12))

    return (terms(probs) + (terms(1 - probs) if kind == "bernoulli" else 0)).sum(axis=1)


def build_messages() -> list[dict[str, Any]]:
    """Python's one-line message for each refused input; `match` "prefix" where the rest is
    onnxruntime's own wording, which differs between its Python and JavaScript builds."""
    cases = []
    for file, options in [
        ("missing.onnx", {}), ("not_onnx.onnx", {}), ("nometa.onnx", {}),
        ("nometa.onnx", {"action_type": "discrete"}),
        ("nometa.onnx", {"observation_shape": [0], "action_type": "discrete"}),
        ("nometa.onnx", {"observation_shape": [3], "action_type": "discrete"}),
        ("cartpole.onnx", {"observation_shape": [3]}),
        ("cartpole.onnx", {"action_type": "continuous"}),
        ("contract_newer.onnx", {}), ("missing_key.onnx", {}), ("bad_kind.onnx", {}),
        ("wrong_outputs.onnx", {}), ("wrong_dtype.onnx", {}), ("bad_nvec.onnx", {}),
        ("bad_bits.onnx", {}), ("wrong_branches.onnx", {}), ("wrong_bits.onnx", {}),
        ("dials.onnx", {"action_type": "discrete"}),
        ("bad_part.onnx", {}), ("empty_parts.onnx", {}), ("wrong_parts.onnx", {}),
        ("wrong_obs_nvec.onnx", {}), ("wrong_part_shape.onnx", {}),
        ("beacon.onnx", {"observation_shape": [4]}),
        ("bad_recurrent.onnx", {}), ("wrong_state.onnx", {}), ("no_next_state.onnx", {}),
        ("unexpected_state.onnx", {}),
    ]:
        cases.append({"file": file, "options": options, "call": "load"})
    cartpole = [[0.1, 0.2, 0.3], [[0.1, 0.2, 0.3]], [nan(), 0, 0, 0], [0, inf(), 0, 0],
                [1e39, 0, 0, 0], "abc", ["a", 1, 2, 3], [[1, 2, 3, 4], [1, 2]], [], [[]], None,
                True]
    cases += [{"file": "cartpole.onnx", "call": "act", "obs": obs} for obs in cartpole]
    image = [IMAGE_SIDE, IMAGE_SIDE, 1]
    for value in [300, -1, 1.5, nan(), inf()]:
        cases.append({"file": "image.onnx", "call": "act",
                      "obs": {"full": image, "value": 0, "set": [[100, value]]}})
    cases.append({"file": "image.onnx", "call": "act",
                  "obs": {"full": [IMAGE_SIDE, IMAGE_SIDE - 1, 1], "value": 0}})
    cases += [{"file": file, "call": "act", "obs": obs} for file, obs in structured_cases()]
    cases.append({"file": "pendulum.onnx", "call": "probs", "obs": [1, 0, 0]})
    cases.append({"file": "nometa_continuous.onnx", "call": "sample", "obs": [1, 0, 0],
                  "options": {"observation_shape": [3], "action_type": "continuous"}})
    cases += state_cases()
    cases += mask_message_cases()
    for case in cases:
        case.setdefault("options", {})
        case["message"], case["match"] = python_message(case)
    return cases


def structured_cases() -> list[tuple[str, Any]]:
    """(file, observation) of Dict (beacon) and Tuple (pair) observations Python refuses:
    parts missing or extra, not an object, a part's shape, range or NaN, and parts that
    disagree on the batch."""
    def image(*dims: int, **values: Any) -> dict[str, Any]:
        return {"full": [*dims, 6, 6, 1], "value": 0, **values}

    return [
        ("beacon.onnx", {"direction": 1}), ("beacon.onnx", [1, 2]),
        ("beacon.onnx", {"direction": 1, "image": image(), "extra": 0}),
        ("beacon.onnx", {"direction": 1, "image": {"full": [6, 5, 1], "value": 0}}),
        ("beacon.onnx", {"direction": 1, "image": image(set=[[7, 300]])}),
        ("beacon.onnx", {"direction": nan(), "image": image()}),
        ("beacon.onnx", {"direction": [1, 2], "image": image()}),
        ("beacon.onnx", {"direction": [1, 2], "image": image(3)}),
        ("pair.onnx", [[0.1, 0.2]]), ("pair.onnx", {"1": 1}), ("pair.onnx", "abc"),
        ("pair.onnx", {"0": [0.1, 0.2, 0.3], "1": 1}),
        ("pair.onnx", [[0.1, 0.2], [inf()]]),
    ]


def state_cases() -> list[dict[str, Any]]:
    """A recurrent policy's state (cue.onnx: state_size 16) that Python refuses: missing (no
    "state" key, or null), of the wrong shape for one observation or a batch, not numbers,
    NaN or inf; and a feed-forward policy given a state, or asked for its initial state."""
    zeros, one, two = [0] * 16, [1, 0], [[1, 0], [0, 0]]
    recurrent: list[tuple[str, Any, dict[str, Any]]] = [
        ("act", one, {}), ("act", one, {"state": None}), ("probs", one, {}),
        ("distribution", one, {}), ("decide", two, {}), ("sample", one, {}),
        ("act", one, {"state": [0] * 15}), ("act", one, {"state": [zeros]}),
        ("act", two, {"state": zeros}), ("act", two, {"state": [zeros] * 3}),
        ("probs", two, {"state": zeros}), ("sample", one, {"state": [0] * 17}),
        ("act", one, {"state": "abc"}), ("act", one, {"state": ["a", *zeros[1:]]}),
        ("act", two, {"state": [zeros, [0]]}), ("act", one, {"state": {}}),
        ("act", one, {"state": True}), ("act", one, {"state": [nan(), *zeros[1:]]}),
        ("act", two, {"state": [zeros, [*zeros[1:], inf()]]}),
        ("act", one, {"state": [1e39, *zeros[1:]]}),
    ]
    return [*({"file": "cue.onnx", "call": call, "obs": obs, **state}
              for call, obs, state in recurrent),
            {"file": "cartpole.onnx", "call": "act", "obs": [0, 0, 0, 0], "state": [0, 0]},
            {"file": "cartpole.onnx", "call": "distribution", "obs": [0, 0, 0, 0],
             "state": zeros},
            {"file": "cartpole.onnx", "call": "initial_state"}]


def python_message(case: dict[str, Any]) -> tuple[str, str]:
    path = FIXTURES / case["file"]
    try:  # observation_shape as a list, as JavaScript passes it: its repr is the same
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy: 1e39 overflows float32
        policy = serve.OnnxPolicy(path, **case["options"])
        if case["call"] != "load":
            obs = decode_obs(case.get("obs"))
            state = decode_obs(case["state"]) if "state" in case else None
            mask = decode_obs(case["action_mask"]) if "action_mask" in case else None
            {"act": lambda: policy.act(obs, state, action_mask=mask),
             "probs": lambda: policy.probs(obs, state, action_mask=mask),
             "distribution": lambda: policy.distribution(obs, state, action_mask=mask),
             "decide": lambda: policy.decide(obs, state, action_mask=mask),
             "sample": lambda: policy.act(obs, state, deterministic=False, action_mask=mask),
             "initial_state": policy.initial_state}[case["call"]]()
    except ValueError as exc:
        message = str(exc).replace(str(path), "{path}")
    else:
        raise AssertionError(f"Python accepted {case}")
    prefix = "{path} is not a loadable ONNX model: "
    return (prefix, "prefix") if message.startswith(prefix) else (message, "exact")


def nan() -> dict:
    return {"float": "nan"}


def inf() -> dict:
    return {"float": "inf"}


def decode_obs(obs: Any) -> Any:
    """The JSON form of an observation as Python values: {"float": "nan"} is a float,
    {"full": shape, "value": v, "set": [[flat index, value], ...]} nested lists, and any
    other object one of parts ({part: observation})."""
    if isinstance(obs, list):
        return [decode_obs(v) for v in obs]
    if isinstance(obs, dict) and "float" in obs:
        return float(obs["float"])
    if isinstance(obs, dict) and "full" in obs:
        flat = [obs["value"]] * math.prod(obs["full"])
        for index, value in obs.get("set", []):
            flat[index] = decode_obs(value)
        return np.array(flat, dtype=object).reshape(obs["full"]).tolist()
    if isinstance(obs, dict):
        return {key: decode_obs(value) for key, value in obs.items()}
    return obs


# -- files -----------------------------------------------------------------------------------
def documents() -> dict[str, Any]:
    """The JSON fixtures as this module builds them now, by file name."""
    return {"parity.json": build_parity(), "messages.json": build_messages(),
            "transitions.json": build_transitions()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.js_fixtures", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", nargs="+", choices=TRAINED, default=[], metavar="NAME",
                        help=f"retrain and re-export these policies first: {', '.join(TRAINED)}")
    args = parser.parse_args(argv)
    write_hand_policies()
    if args.train:  # TensorFlow only then
        train_policies(args.train)
    for name, document in documents().items():
        (FIXTURES / name).write_text(json.dumps(document, separators=(",", ":")) + "\n")
        print(f"wrote {FIXTURES / name}")


if __name__ == "__main__":
    main()
