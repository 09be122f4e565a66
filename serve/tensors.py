"""Tensors as the Open Inference Protocol (v2) writes them: datatypes, shapes, and the
binary tensor data extension.

A v2 tensor is {"name", "datatype", "shape", "data"}: `data` holds the values in row-major
order, flat or nested. With the binary extension (what tritonclient sends by default) the
body is a JSON header of `Inference-Header-Content-Length` bytes followed by raw
little-endian tensors, each announced by its `"parameters": {"binary_data_size": N}`.
Numpy and onnxruntime only (export/ reads `signature` too); a malformed tensor is a
ValueError, which the v2 routes answer with 400.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import onnxruntime as ort

from serve import contract

# v2 datatype of each onnxruntime tensor type; Triton's config.pbtxt spells them TYPE_FP32...
DATATYPES = {"tensor(float)": "FP32", "tensor(double)": "FP64", "tensor(int64)": "INT64",
             "tensor(int32)": "INT32", "tensor(uint8)": "UINT8", "tensor(int8)": "INT8",
             "tensor(bool)": "BOOL", "tensor(float16)": "FP16"}
NUMPY: dict[str, np.dtype] = {
    "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"), "INT64": np.dtype("<i8"),
    "INT32": np.dtype("<i4"), "UINT8": np.dtype("u1"), "INT8": np.dtype("i1"),
    "BOOL": np.dtype("?"), "FP16": np.dtype("<f2")}
V2_DATATYPES = {dtype: name for name, dtype in NUMPY.items()}  # numpy dtype -> v2 datatype
READ: dict[str, np.dtype] = {**NUMPY, "BOOL": np.dtype("u1")}
"""The dtype a request's raw bytes are read in: BOOL's as bytes, so that a byte other than 0
and 1 reaches the check of its values (serve/masks.py) instead of passing as true."""
BINARY_DATA_SIZE = "binary_data_size"


class TensorSpec(NamedTuple):
    name: str
    datatype: str
    """A v2 datatype: FP32, INT64, UINT8, ..."""
    shape: tuple[int, ...]
    """-1 for a dimension of any size (the batch)."""

    def describe(self) -> str:
        return f"{self.name} {self.datatype} {list(self.shape)}"


class Signature(NamedTuple):
    """A model's inputs and outputs, as the v2 model metadata lists them."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def describe(self) -> str:
        return "; ".join(t.describe() for t in (*self.inputs, *self.outputs))


def signature(session: ort.InferenceSession) -> Signature:
    def spec(node: ort.NodeArg) -> TensorSpec:
        shape = tuple(d if isinstance(d, int) else -1 for d in (node.shape or ()))
        return TensorSpec(node.name, DATATYPES.get(node.type, node.type), shape)

    return Signature(tuple(map(spec, session.get_inputs())),
                     tuple(map(spec, session.get_outputs())))


def wire_signature(sig: Signature) -> Signature:
    """`sig` with each shape as the Open Inference Protocol presents it (contract.wire_shape:
    [-1] travels as [-1, 1])."""
    def wire(spec: TensorSpec) -> TensorSpec:
        return spec._replace(shape=contract.wire_shape(spec.shape))

    return Signature(tuple(map(wire, sig.inputs)), tuple(map(wire, sig.outputs)))


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    """(the JSON header, the binary tensor data after it) of a v2 request body."""
    if header_length is None:
        return body, memoryview(b"")
    if not header_length.isdigit() or int(header_length) > len(body):
        raise ValueError(f"Inference-Header-Content-Length is {header_length!r}; "
                         f"expected the JSON header's size, at most the body's "
                         f"{len(body)} bytes")
    size = int(header_length)
    return body[:size], memoryview(body)[size:]


def check_shape(name: str, shape: list[int], spec: TensorSpec) -> None:
    """The request's shape has the model's rank and sizes (-1: any), and a batch of at
    least 1."""
    fits = len(shape) == len(spec.shape) and all(
        want in (-1, got) for got, want in zip(shape, spec.shape, strict=True))
    if not fits or not shape or shape[0] < 1 or min(shape) < 0:
        raise ValueError(f"input {name!r} has shape {shape}; the model takes "
                         f"{list(spec.shape)} (-1: any size, at least 1 for the batch)")


def input_array(name: str, datatype: str, shape: list[int], data: Any, binary_size: Any,
                binary: memoryview, offset: int) -> tuple[np.ndarray, int]:
    """The input's values as an array of `shape`, and the offset of the next binary tensor.

    JSON `data` (already checked to be numbers, or true/false, and nested lists of them)
    keeps its values exact (float64; the policy casts and checks them; true/false for a BOOL
    input only); binary data is read as `datatype` (READ).
    """
    count = math.prod(shape)
    if (data is None) == (binary_size is None):
        raise ValueError(f"input {name!r} needs either data or the parameter "
                         f"{BINARY_DATA_SIZE} (binary tensor data), not both")
    if binary_size is not None:
        nbytes = count * NUMPY[datatype].itemsize
        if (not isinstance(binary_size, int) or isinstance(binary_size, bool)
                or binary_size != nbytes or offset + nbytes > len(binary)):
            raise ValueError(f"input {name!r}: {BINARY_DATA_SIZE} is {binary_size!r} "
                             f"with {len(binary) - offset} bytes left; shape {shape} of "
                             f"{datatype} needs {nbytes}")
        return from_bytes(binary[offset:offset + nbytes], datatype, shape), offset + nbytes
    if datatype != "BOOL" and isinstance(_first(data), bool):
        raise ValueError(f"input {name!r}: data holds true/false; {datatype} takes numbers")
    try:
        array = np.asarray(data, dtype=None if datatype == "BOOL" else np.float64)
    except ValueError:
        raise ValueError(f"input {name!r}: data is a ragged nested list; expected "
                         f"{count} numbers, flat or nested row-major") from None
    if array.size != count:
        raise ValueError(f"input {name!r} has {array.size} values; shape {shape} "
                         f"needs {count}")
    return array.reshape(shape), offset


def from_bytes(raw: Any, datatype: str, shape: list[int]) -> np.ndarray:
    """Raw little-endian, row-major tensor bytes of `datatype` as an array of `shape`."""
    return np.frombuffer(raw, READ[datatype]).reshape(shape)


def _first(data: Any) -> Any:
    """The first value of nested lists (None when empty)."""
    while isinstance(data, list):
        data = data[0] if data else None
    return data


def output_tensor(name: str, value: np.ndarray, binary: bool
                  ) -> tuple[dict[str, Any], bytes | None]:
    """(the JSON description of an output, its raw bytes when sent as binary data)."""
    datatype = V2_DATATYPES[value.dtype]
    tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(value.shape)}
    if not binary:
        tensor["data"] = value.ravel().tolist()
        return tensor, None
    raw = np.ascontiguousarray(value, NUMPY[datatype]).tobytes()  # little-endian, row-major
    tensor["parameters"] = {BINARY_DATA_SIZE: len(raw)}
    return tensor, raw
