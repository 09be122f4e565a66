"""Linear keras_pg policies written with onnx.helper, whose answers are known by hand.

discrete: CartPole's shapes, logits = obs @ W; probs = softmax(logits), action = argmax.
continuous: Pendulum's shapes, mean = obs @ W, std = exp(log_std), action = clip(mean, -2, 2).
For obs [3.4e38, -3.4e38, -3.4e38, -3.4e38] the discrete logits are [inf, -inf]: probs NaN.
"""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from serve import contract
from tests.test_serve_envs import box, discrete, keras_pg_metadata, write_policy

BATCH = contract.BATCH_DIM
W_DISCRETE = np.array([[1.0, -1.0], [-1.0, 1.0], [0.5, 0.0], [0.0, 0.5]], np.float32)
PENDULUM_ACTIONS = {"type": "Box", "shape": [1], "dtype": "float32", "low": [-2.0],
                    "high": [2.0]}
HUGE_OBS = [3.4e38, -3.4e38, -3.4e38, -3.4e38]


def discrete_policy(path, weights=W_DISCRETE) -> Path:
    """A CartPole-shaped categorical policy with logits obs @ weights [4, 2]."""
    return write_policy(path, TensorProto.FLOAT, (4,),
                        [helper.make_node("MatMul", [contract.INPUT, "w"], ["logits"])],
                        {"w": np.asarray(weights, np.float32)}, 2,
                        keras_pg_metadata("CartPole-v1", box(4), discrete(2)))


def discrete_answer(obs, weights=W_DISCRETE) -> tuple[np.ndarray, np.ndarray]:
    """(probs, action) of `discrete_policy`, by hand."""
    logits = np.asarray(obs, np.float64) @ np.asarray(weights, np.float64)
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    return probs, logits.argmax(axis=-1)


def continuous_policy(path, weights=(0.5, -1.0, 2.0), log_std=-0.5) -> Path:
    """A Pendulum-shaped gaussian policy: mean = obs @ weights [3, 1]."""
    f32 = TensorProto.FLOAT
    nodes = [helper.make_node("MatMul", [contract.INPUT, "w"], [contract.MEAN]),
             helper.make_node("Mul", [contract.MEAN, "zero"], ["zeros"]),
             helper.make_node("Add", ["zeros", "log_std"], ["log_stds"]),
             helper.make_node("Exp", ["log_stds"], [contract.STD]),
             helper.make_node("Clip", [contract.MEAN, "low", "high"], [contract.ACTION])]
    weights = {"w": np.asarray(weights, np.float32).reshape(3, 1),
               "zero": np.array(0, np.float32), "log_std": np.array(log_std, np.float32),
               "low": np.array(-2, np.float32), "high": np.array(2, np.float32)}
    graph = helper.make_graph(
        nodes, "policy", [helper.make_tensor_value_info(contract.INPUT, f32, [BATCH, 3])],
        [helper.make_tensor_value_info(name, f32, [BATCH, 1])
         for name in (contract.MEAN, contract.STD, contract.ACTION)],
        [numpy_helper.from_array(value, name) for name, value in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    metadata = keras_pg_metadata("Pendulum-v1", box(3), PENDULUM_ACTIONS,
                                 policy_kind="gaussian")
    helper.set_model_props(model, contract.encode_metadata(metadata))
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return Path(path)
