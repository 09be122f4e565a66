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
from keras_pg.policy import (
    Head,
    is_recurrent,
    make_head,
    observation_spec,
    recurrent_core,
    state_size,
    state_spec,
)
from keras_pg.policy.heads import GaussianHead, masked_logits
from serve import contract
from serve.contract_render import render_tables
from serve.spaces import describe_space


def policy_function(model: keras.Model, head: Head) -> tf.types.experimental.GenericFunction:
    """obs [batch, *obs_shape] (float32, or uint8 for images), or one input per part of a
    Dict or Tuple observation named after it -> the contract's outputs for the head's kind
    (`distribution_outputs`). A recurrent policy's is one step: (obs, state [batch, S]) ->
    those outputs and next_state [batch, S]. A categorical or multi-categorical policy
    takes the invalid-action mask bool [batch, P] last (`action_mask`), applied to the
    logits before every output (`heads.masked_logits`)."""
    obs_spec = observation_spec(model, name=contract.INPUT)
    names = contract.output_names(head.kind)
    recurrent = is_recurrent(model)
    signature = [obs_spec, *([state_spec(model)] if recurrent else []),
                 *([mask_spec(head)] if head.maskable else [])]

    @tf.function(input_signature=signature, autograph=False)
    def policy(obs: tf.Tensor, *rest: tf.Tensor) -> dict[str, tf.Tensor]:
        state, mask = rest[:recurrent], rest[recurrent:]
        params, *next_state = (model([obs, *state], training=False) if recurrent
                               else [model(obs, training=False)])
        if mask:
            params = masked_logits(params, mask[0])
        outputs = dict(zip(names, distribution_outputs(head, params), strict=True))
        return {**outputs, contract.NEXT_STATE: next_state[0]} if recurrent else outputs

    return policy


def mask_spec(head: Head) -> tf.TensorSpec:
    """bool [None, P], a maskable head's invalid-action mask input, named "action_mask"."""
    return tf.TensorSpec([None, head.params_size], tf.bool, name=contract.ACTION_MASK)


def recurrent_metadata(model: keras.Model) -> dict[str, Any] | None:
    """The contract's RECURRENT_KEY value: None for a feed-forward policy; the built-in
    cell's kind, units and layout; a user's recurrent network's state as one slice."""
    if not is_recurrent(model):
        return None
    core = recurrent_core(model)
    if core is not None:
        return contract.recurrent_metadata(core.cell_kind, core.units)
    size = state_size(model)
    return {"cell": "custom", "state_size": size, "layout": [{"name": "state", "size": size}],
            "initial_state": "zeros"}


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
    proto = _convert(policy, opset)
    for tensor in [*proto.graph.input, *proto.graph.output]:
        tensor.type.tensor_type.shape.dim[0].dim_param = contract.BATCH_DIM
    proto.doc_string = (f"A keras_pg policy, contract {contract.CONTRACT_VERSION}\n\n"
                        f"{render_tables()}")
    for key, value in contract.encode_metadata(metadata(source)).items():
        proto.metadata_props.add(key=key, value=value)
    return proto


def _convert(policy: tf.types.experimental.GenericFunction, opset: int) -> onnx.ModelProto:
    """tf2onnx's `convert.from_function`, its steps called one by one so that its ONNX
    optimizer passes run on the graph in place: `from_function` copies the whole graph before
    each of its dozen passes (to skip a pass that fails), a cost growing with every op, which
    took ~15% of an export. Should a pass fail here, the conversion is redone by
    `from_function`, which skips that pass as before."""
    concrete = policy.get_concrete_function(*policy.input_signature)
    inputs = [t.name for t in concrete.inputs if t.dtype != tf.resource]
    outputs = [t.name for t in concrete.outputs if t.dtype != tf.resource]
    with tf.device("/cpu:0"):
        graph_def = tf2onnx.tf_loader.from_function(concrete, inputs, outputs)
        with tf.Graph().as_default() as tf_graph:
            tf.import_graph_def(graph_def, name="")
            graph = tf2onnx.tfonnx.process_tf_graph(
                tf_graph, continue_on_error=True, opset=opset, input_names=inputs,
                output_names=outputs, tensors_to_rename=tf2onnx.convert.tensor_names_from_structed(
                    concrete, inputs, outputs))
            try:
                optimized = tf2onnx.optimizer.optimize_graph(graph, catch_errors=False)
            except Exception:  # a pass failed (tf2onnx raises anything): its own path below
                optimized = None
            if optimized is not None:
                return optimized.make_model(f"converted from {concrete.name}")
    return tf2onnx.convert.from_function(
        policy, input_signature=policy.input_signature, opset=opset)[0]


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
        contract.RECURRENT_KEY: recurrent_metadata(source.model),
        contract.ACTION_MASK_KEY: contract.action_mask_metadata(
            make_head(source.action_space).kind, describe_space(source.action_space),
            source.mask_source, config.get("action_mask_fn")),
    }
