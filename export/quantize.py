"""`--quantize int8`: a verified float32 policy -> an int8 ONNX model (onnxruntime.quantization),
checked against the float model before anything is written.

The method follows the network (measured in bench/quantize.py, bench/results/quantize.json):
    MatMul/Gemm only (MLPs)   dynamic: int8 weights (reduce_range: 7-bit, which avoids the
                              saturation of x86's u8 x s8 kernels), activations quantized per
                              call. The layers that read the observation itself stay float:
                              its features have scales 100x apart (a cart's position and a
                              pole's angle) that one per-tensor activation scale cannot hold
                              (CartPole greedy agreement 99.2% -> 100%), and they hold few weights
                              (observation size x first width).
    with Conv (image CNNs)    static QDQ, int8 activations and weights, activation ranges
                              calibrated (MinMax) on the verification observations: the same
                              agreement as dynamic, faster than ConvInteger, and an action that
                              does not depend on the other observations of the batch.

The int8 file keeps the contract: the same input and outputs (names, dtypes, shapes), all of
the float file's metadata, plus QUANTIZATION_KEY = {"dtype": "int8", "method": ...}.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)

from export.errors import ExportError, VerificationError
from export.verify import feeds, mask_input_size
from keras_pg.envs.masks import mask_size
from keras_pg.observations import Obs, concatenate, map_obs
from keras_pg.observations import rows as obs_rows
from serve import contract

DTYPES = ("int8",)  # export.cli.QUANTIZE_DTYPES repeats it (the CLI must not load onnxruntime)
MIN_AGREEMENT = 0.99  # the lowest accepted greedy agreement with the float model
ACTION_TOLERANCE = 0.01  # gaussian: |Δaction| within 1% of the action's range counts as equal
LAYER_OPS = ("MatMul", "Gemm")
CALIBRATION_BATCH = 100


def quantize(float_bytes: bytes, observations: dict[str, Obs],
             action_space: gym.Space, dtype: str = "int8") -> tuple[bytes, dict[str, Any]]:
    """The int8 model of a verified float model, and its comparison with it.

    Args:
        float_bytes: the serialized float32 model (already verified against Keras).
        observations: the verification sets, [n, *obs_shape] each: the static method
            calibrates on them, and both methods are compared with the float model on them.
        action_space: the policy's action space (a gaussian's agreement is relative to it).
        dtype: "int8".

    Returns:
        (the int8 model's bytes, the "quantization" part of the export report). Raises
        ExportError (one line) when greedy agreement is below MIN_AGREEMENT.
    """
    check_dtype(dtype)
    float_model = onnx.load_from_string(float_bytes)
    method = "static" if any(n.op_type == "Conv" for n in float_model.graph.node) else "dynamic"
    with tempfile.TemporaryDirectory() as tmp, _quantizer_warnings_muted():
        source, target = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        source.write_bytes(float_bytes)
        if method == "dynamic":
            quantize_dynamic(source, target, weight_type=QuantType.QInt8, reduce_range=True,
                             nodes_to_exclude=observation_layers(float_model.graph))
        else:
            quantize_static(source, target, _Calibration(observations, action_space),
                            quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                            weight_type=QuantType.QInt8)
        model = onnx.load(target)
    shorten_names(model.graph)
    del model.metadata_props[:]  # the float file's, its null QUANTIZATION_KEY replaced
    model.metadata_props.extend(p for p in float_model.metadata_props
                                if p.key != contract.QUANTIZATION_KEY)
    for key, value in contract.encode_metadata(
            {contract.QUANTIZATION_KEY: {"dtype": dtype, "method": method}}).items():
        model.metadata_props.add(key=key, value=value)
    model_bytes = model.SerializeToString()
    report = {"dtype": dtype, "method": method, "float_file_bytes": len(float_bytes),
              **compare(float_bytes, model_bytes, observations, action_space)}
    if report["action_agreement"] < MIN_AGREEMENT:
        raise ExportError(
            f"{dtype} quantization changes the greedy action: agreement with the float model "
            f"{report['action_agreement']:.2%} on {sum(map(obs_rows, observations.values())):,} "
            f"observations (minimum {MIN_AGREEMENT:.0%}); nothing written, export it without "
            "--quantize")
    return model_bytes, report


def check_dtype(dtype: str) -> None:
    if dtype not in DTYPES:
        raise ExportError(f"unsupported quantization {dtype!r}; expected one of "
                          f"{', '.join(DTYPES)}")


def quantized_name(name: str, dtype: str) -> str:
    """The file name of the `dtype` twin of `name`: policy.onnx -> policy.int8.onnx,
    export_report.json -> export_report.int8.json."""
    stem, suffix = name.rsplit(".", 1)
    return f"{stem}.{dtype}.{suffix}"


def observation_layers(graph: onnx.GraphProto) -> list[str]:
    """The MatMul/Gemm nodes that read the observation through no other MatMul, Gemm or Conv
    (nodes are in topological order, as ONNX requires)."""
    after_layer: set[str] = set()
    first = []
    for node in graph.node:
        fed = any(name in after_layer for name in node.input)
        if node.op_type in (*LAYER_OPS, "Conv"):
            if not fed and node.op_type in LAYER_OPS:
                first.append(node.name)
            fed = True
        if fed:
            after_layer.update(node.output)
    return first


def shorten_names(graph: onnx.GraphProto) -> None:
    """Rename nodes and inner tensors n0, t0, ... (the quantizer's names repeat tf2onnx's
    long scopes, most of a small model's bytes) and drop value_info. The graph's input and
    output names are kept; a graph with subgraphs (If, Loop, Scan) is left as it is, since
    they may read the outer tensors by name."""
    if any(attr.g.node or attr.graphs for node in graph.node for attr in node.attribute):
        return
    kept = {value.name for value in [*graph.input, *graph.output]} | {""}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        return name if name in kept else names.setdefault(name, f"t{len(names)}")

    for tensor in graph.initializer:
        tensor.name = short(tensor.name)
    for i, node in enumerate(graph.node):
        node.name = f"n{i}"
        node.input[:] = map(short, node.input)
        node.output[:] = map(short, node.output)
    del graph.value_info[:]


def compare(float_bytes: bytes, int8_bytes: bytes, observations: dict[str, Obs],
            action_space: gym.Space) -> dict[str, Any]:
    """The int8 model against the float model on every observation, run two ways: each set
    as one batch, and each observation alone (batch 1, as `OnnxPolicy.act`): dynamic
    quantization scales activations per call, so a batch's result depends on its company.

    Greedy agreement: the fraction of observations whose action is the float model's, the
    lower of the two ways. Categorical: the same argmax. Gaussian: every dimension of the
    clipped mean within ACTION_TOLERANCE x (high - low) of the float one (x std where the
    range is unbounded). Also max |Δ| of every float output, and onnx.checker's full check.
    Raises VerificationError when the graph's input or outputs differ from the float one's.
    """
    float_model, int8_model = onnx.load_from_string(float_bytes), onnx.load_from_string(int8_bytes)
    onnx.checker.check_model(int8_model, full_check=True)
    for part in ("input", "output"):
        if ([v.SerializeToString() for v in getattr(float_model.graph, part)]
                != [v.SerializeToString() for v in getattr(int8_model.graph, part)]):
            raise VerificationError(f"the int8 model's graph {part} differs from the float one's")
    float_session, int8_session = (
        ort.InferenceSession(b, providers=["CPUExecutionProvider"])
        for b in (float_bytes, int8_bytes))
    same: dict[str, list[np.ndarray]] = {"batch": [], "alone": []}
    max_abs_diff: dict[str, float] = {}
    for obs in observations.values():
        expected = _run(float_session, obs)
        alone = [_run(int8_session, _rows(obs, i, i + 1)) for i in range(obs_rows(obs))]
        for way, got in (("batch", _run(int8_session, obs)),
                         ("alone", {k: np.concatenate([a[k] for a in alone]) for k in expected})):
            same[way].append(_same_action(expected, got, action_space))
            for name, value in got.items():
                if value.dtype.kind == "f":
                    diff = float(np.max(np.abs(value - expected[name])))
                    max_abs_diff[name] = max(max_abs_diff.get(name, 0.0), diff)
    agreement = min(float(np.mean(np.concatenate(s))) for s in same.values())
    return {"action_agreement": agreement, "max_abs_diff": max_abs_diff,
            "min_agreement": MIN_AGREEMENT}


def _run(session: ort.InferenceSession, obs: Obs) -> dict[str, np.ndarray]:
    """The session's outputs, all actions legal."""
    names = [o.name for o in session.get_outputs()]
    size = mask_input_size(session)
    masks = None if size is None else np.ones((obs_rows(obs), size), bool)
    return dict(zip(names, session.run(names, feeds(obs, masks)), strict=True))


def _rows(obs: Obs, start: int, stop: int) -> Obs:
    return map_obs(lambda part: part[start:stop], obs)


def _same_action(expected: dict[str, np.ndarray], got: dict[str, np.ndarray],
                 action_space: gym.Space) -> np.ndarray:
    """bool [n]: whether each observation's int8 action counts as the float one."""
    want, have = expected[contract.ACTION], got[contract.ACTION]
    if want.dtype.kind != "f":  # one action, or one per branch (bit): all must agree
        return (want == have).reshape(len(want), -1).all(axis=1)
    box = cast(gym.spaces.Box, action_space)  # a float action is a gaussian policy's, in a Box
    span = (box.high - box.low).astype(np.float64)
    scale = np.where(np.isfinite(span), span, expected[contract.STD])
    return (np.abs(have - want) <= ACTION_TOLERANCE * scale).all(axis=1)


class _Calibration(CalibrationDataReader):
    """The observations, CALIBRATION_BATCH at a time, for quantize_static's MinMax ranges."""

    def __init__(self, observations: dict[str, Obs], action_space: gym.Space) -> None:
        obs = concatenate(list(observations.values()))
        size = mask_size(action_space)  # the graph's action_mask input, all legal
        self._batches = iter([feeds(part := _rows(obs, i, i + CALIBRATION_BATCH),
                                    None if size is None else np.ones((obs_rows(part), size),
                                                                      bool))
                              for i in range(0, obs_rows(obs), CALIBRATION_BATCH)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


@contextlib.contextmanager
def _quantizer_warnings_muted() -> Iterator[None]:
    """onnxruntime.quantization logs advice (run its pre-processing first) on the root logger
    at WARNING, which would print on every export."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
