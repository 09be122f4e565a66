"""The JavaScript package's fixtures of action masks (tests/js_fixtures.py writes them): small
policies written with onnx.helper whose mask input and metadata disagree (or that have none),
and the masks Python refuses, whose messages messages.json carries.

    masked_unexpected   a graph with input action_mask, its metadata's action_mask null
    mask_missing_input  metadata action_mask of size 2, no such input
    mask_wrong_size     metadata size 3 for 2 actions
    mask_bad_source     metadata source "env"
    mask_wrong_dtype    input action_mask float [batch, 2]
    unmasked_v6         a contract 6 categorical file without the input (metadata null): it
                        loads, and refuses a mask
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from serve import contract
from tests.test_serve_envs import box, discrete, keras_pg_metadata, write_policy

MASK_HAND_WRITTEN = ("masked_unexpected", "mask_missing_input", "mask_wrong_size",
                     "mask_bad_source", "mask_wrong_dtype", "unmasked_v6")


def write_mask_policies(directory: Path) -> None:
    """The policies of MASK_HAND_WRITTEN: a categorical policy of CartPole's spaces (obs
    [batch, 4], 2 actions) whose mask input and metadata are as each name says."""
    good = contract.action_mask_metadata("categorical", discrete(2), "info")
    for name, mask, mask_type in [
            ("masked_unexpected", None, TensorProto.BOOL),
            ("mask_missing_input", good, None),
            ("mask_wrong_size", {**good, "size": 3}, TensorProto.BOOL),
            ("mask_bad_source", {**good, "source": "env"}, TensorProto.BOOL),
            ("mask_wrong_dtype", good, TensorProto.FLOAT)]:
        masked_graph(directory / f"{name}.onnx", keras_pg_metadata(
            "CartPole-v1", box(4), discrete(2), **{contract.ACTION_MASK_KEY: mask}), mask_type)
    write_policy(directory / "unmasked_v6.onnx", TensorProto.FLOAT, (4,),
                 [helper.make_node("MatMul", [contract.INPUT, "w"], ["logits"])],
                 {"w": np.eye(4, 2, dtype=np.float32)}, 2,
                 keras_pg_metadata("CartPole-v1", box(4), discrete(2)))


def masked_graph(path: Path, metadata: dict[str, Any], mask_type: int | None) -> None:
    """logits = obs W [batch, 2]; with an input action_mask [batch, 2] of `mask_type` (None:
    no such input), illegal logits set to the lowest float32 before probs and action."""
    batch = contract.BATCH_DIM
    inputs = [helper.make_tensor_value_info(contract.INPUT, TensorProto.FLOAT, [batch, 4])]
    nodes = [helper.make_node("MatMul", [contract.INPUT, "w"], ["logits"])]
    weights = [numpy_helper.from_array(np.eye(4, 2, dtype=np.float32), "w")]
    scores = "logits"
    if mask_type is not None:
        weights.append(numpy_helper.from_array(np.array(np.finfo(np.float32).min, np.float32),
                                               "lowest"))
        inputs.append(helper.make_tensor_value_info(contract.ACTION_MASK, mask_type,
                                                    [batch, 2]))
        nodes += [helper.make_node("Cast", [contract.ACTION_MASK], ["legal"],
                                   to=TensorProto.BOOL),
                  helper.make_node("Where", ["legal", "logits", "lowest"], ["masked"])]
        scores = "masked"
    nodes += [helper.make_node("Softmax", [scores], [contract.PROBS], axis=1),
              helper.make_node("ArgMax", [scores], [contract.ACTION], axis=1, keepdims=0)]
    graph = helper.make_graph(
        nodes, "masked", inputs,
        [helper.make_tensor_value_info(contract.ACTION, TensorProto.INT64, [batch]),
         helper.make_tensor_value_info(contract.PROBS, TensorProto.FLOAT, [batch, 2])],
        weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    helper.set_model_props(model, contract.encode_metadata(metadata))
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def mask_message_cases() -> list[dict[str, Any]]:
    """Calls with an action mask that Python refuses: of the wrong shape, form or values, a
    row allowing no action (in a branch), and a mask given to a policy without masks (each
    reason: its kind, its contract, its graph, no metadata); loads of MASK_HAND_WRITTEN's
    refused files. "action_mask" takes decode_obs's JSON forms ({"float": "nan"} ...)."""
    eight, nan = [1] * 8, {"float": "nan"}
    corridor: list[tuple[str, Any, Any]] = [
        ("act", 0, [1] * 7), ("act", 0, [*eight, 1]), ("act", [0, 1], eight),
        ("act", [0, 1], [eight, [1] * 7]), ("act", 0, ["a"] * 8), ("act", 0, True),
        ("act", 0, [2, 0, 0, 0, 0, 0, 0, 1]), ("act", 0, [0.5, *eight[1:]]),
        ("act", 0, [nan, *eight[1:]]), ("act", 0, [0] * 8), ("act", [0, 1], [eight, [0] * 8]),
        ("sample", 0, [0] * 8), ("probs", [0, 1, 2], [eight, eight]),
        ("distribution", 0, [[1] * 8]), ("decide", [0, 1], [[0] * 8, eight]),
    ]
    branches: list[tuple[str, Any, Any]] = [
        ("act", 0, [*eight, 0, 0]), ("act", 0, [eight, [1, 1, 1]]), ("act", 0, [eight, [0, 0]]),
        ("act", [0, 1], [1] * 10), ("act", [0, 1], [[eight, eight], [[0, 0], [1, 0]]]),
        ("sample", [0, 1], [[1] * 10, [0] * 8 + [1, 1]]), ("probs", 0, [[1] * 4, [1, 1]]),
    ]
    refused = [("cartpole.onnx", [0, 0, 0, 0], {}), ("dials.onnx", [0] * 7, {}),
               ("pendulum.onnx", [1, 0, 0], {}), ("switches.onnx", [0, 0, 0, 0], {}),
               ("unmasked_v6.onnx", [0, 0, 0, 0], {}),
               ("nometa.onnx", [0, 0, 0, 0], {"observation_shape": [4],
                                              "action_type": "discrete"})]
    return [
        *({"file": "corridor.onnx", "call": call, "obs": obs, "action_mask": mask}
          for call, obs, mask in corridor),
        *({"file": "corridor_branches.onnx", "call": call, "obs": obs, "action_mask": mask}
          for call, obs, mask in branches),
        *({"file": file, "call": call, "obs": obs, "action_mask": [1, 1], "options": options}
          for file, obs, options in refused for call in ("act", "distribution")),
        {"file": "cue.onnx", "call": "act", "obs": [1, 0], "state": [0] * 16,
         "action_mask": [1, 1]},
        *({"file": f"{name}.onnx", "call": "load"} for name in MASK_HAND_WRITTEN
          if name != "unmasked_v6"),
    ]
