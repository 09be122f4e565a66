"""Keras policy -> ONNX ModelProto following the contract in serve/contract.py."""

from __future__ import annotations

import datetime
from typing import Any

import keras
import onnx
import tensorflow as tf
import tf2onnx

import keras_pg
from export.checks import check_opset
from export.source import PolicySource
from keras_pg.policy import Head, make_head, observation_spec
from keras_pg.spaces import describe_space
from serve import contract


def policy_function(model: keras.Model, head: Head) -> tf.types.experimental.GenericFunction:
    """obs [batch, *obs_shape] (float32, or uint8 for images) -> the contract's outputs for
    the head's kind: {probs [batch, A], action int64 [batch]} or {mean, std, action}
    float32 [batch, d]."""

    @tf.function(input_signature=[observation_spec(model, name=contract.INPUT)])
    def policy(obs: tf.Tensor) -> dict[str, tf.Tensor]:
        params = model(obs, training=False)
        if head.kind == "categorical":
            return {contract.PROBS: tf.nn.softmax(params, axis=-1),
                    contract.ACTION: tf.argmax(params, axis=-1, output_type=tf.int64)}
        mean, log_std = head.split(params)
        return {contract.MEAN: mean, contract.STD: tf.exp(log_std),
                contract.ACTION: tf.clip_by_value(mean, head.low, head.high)}

    return policy


def to_model_proto(source: PolicySource, opset: int) -> onnx.ModelProto:
    """Convert with tf2onnx, name the batch dimension, attach the contract's metadata."""
    check_opset(opset)
    policy = policy_function(source.model, make_head(source.action_space))
    proto, _ = tf2onnx.convert.from_function(
        policy, input_signature=policy.input_signature, opset=opset)
    for value in [*proto.graph.input, *proto.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = contract.BATCH_DIM
    proto.doc_string = contract.__doc__
    for key, value in contract.encode_metadata(metadata(source)).items():
        proto.metadata_props.add(key=key, value=value)
    return proto


def metadata(source: PolicySource) -> dict[str, Any]:
    summary, config = source.summary or {}, source.config or {}
    return {
        "contract_version": contract.CONTRACT_VERSION,
        "producer": f"keras_pg {keras_pg.__version__}",
        "policy_kind": make_head(source.action_space).kind,
        "env_id": source.env_id,
        "env_kwargs": config.get("env_kwargs") or {},
        "max_episode_steps": config.get("max_episode_steps"),
        "observation_space": describe_space(source.observation_space),
        "action_space": describe_space(source.action_space),
        "training_config": source.config if source.run_dir or source.summary else None,
        "env_steps": summary.get("env_steps"),
        "eval_mean_return": summary.get("eval_mean_return"),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                     "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__},
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
