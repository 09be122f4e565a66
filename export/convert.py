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
from keras_pg.policy.heads import GaussianHead
from serve import contract
from serve.contract_render import render_tables
from serve.spaces import describe_space


def policy_function(model: keras.Model, head: Head) -> tf.types.experimental.GenericFunction:
    """obs [batch, *obs_shape] (float32, or uint8 for images), or one input per part of a
    Dict or Tuple observation named after it -> the contract's outputs for the head's kind
    (`distribution_outputs`)."""

    @tf.function(input_signature=[observation_spec(model, name=contract.INPUT)])
    def policy(obs: tf.Tensor) -> dict[str, tf.Tensor]:
        values = distribution_outputs(head, model(obs, training=False))
        return dict(zip(contract.output_names(head.kind), values, strict=True))

    return policy


def distribution_outputs(head: Head, params: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """The contract's outputs, in its order, from the policy's output `params`:
    categorical: probs [B, n], the greedy action int64 [B]; gaussian: mean, std and the
    clipped mean [B, d]; multi_categorical: each branch's probs side by side [B, sum(nvec)]
    and its greedy action int64 [B, k]; bernoulli: each bit's P(1) [B, n] and the greedy
    bits int64 [B, n]."""
    if isinstance(head, GaussianHead):
        mean, log_std = head.split(params)
        return mean, tf.exp(log_std), tf.clip_by_value(mean, head.low, head.high)
    return head.probs(params), tf.cast(head.greedy(params), tf.int64)


def to_model_proto(source: PolicySource, opset: int,
                   policy: tf.types.experimental.GenericFunction | None = None
                   ) -> onnx.ModelProto:
    """Convert `policy` (default: the source's `policy_function`; pass the one verification
    calls, so that it is traced once) with tf2onnx, name the batch dimension, attach the
    contract's metadata."""
    check_opset(opset)
    if policy is None:
        policy = policy_function(source.model, make_head(source.action_space))
    proto, _ = tf2onnx.convert.from_function(
        policy, input_signature=policy.input_signature, opset=opset)
    for value in [*proto.graph.input, *proto.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = contract.BATCH_DIM
    proto.doc_string = (f"A keras_pg policy, contract {contract.CONTRACT_VERSION}\n\n"
                        f"{render_tables()}")
    for key, value in contract.encode_metadata(metadata(source)).items():
        proto.metadata_props.add(key=key, value=value)
    return proto


def metadata(source: PolicySource) -> dict[str, Any]:
    summary, config = source.summary or {}, source.config or {}
    return {
        contract.CONTRACT_VERSION_KEY: contract.CONTRACT_VERSION,
        contract.PRODUCER_KEY: f"keras_pg {keras_pg.__version__}",
        contract.POLICY_KIND_KEY: make_head(source.action_space).kind,
        contract.ENV_ID_KEY: source.env_id,
        contract.ENV_KWARGS_KEY: config.get("env_kwargs") or {},
        contract.MAX_EPISODE_STEPS_KEY: config.get("max_episode_steps"),
        contract.OBSERVATION_SPACE_KEY: describe_space(source.observation_space),
        contract.ACTION_SPACE_KEY: describe_space(source.action_space),
        contract.TRAINING_CONFIG_KEY: (source.config if source.run_dir or source.summary
                                       else None),
        contract.ENV_STEPS_KEY: summary.get("env_steps"),
        contract.EVAL_MEAN_RETURN_KEY: summary.get("eval_mean_return"),
        contract.VERSIONS_KEY: {"tensorflow": tf.__version__, "keras": keras.__version__,
                                "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__},
        contract.CREATED_AT_KEY: datetime.datetime.now(datetime.UTC).isoformat(
            timespec="seconds"),
        contract.QUANTIZATION_KEY: None,
    }
