"""Request bodies to arrays, and outputs to response bodies: pure functions of bytes and
arrays, so that they can run in another process (serve/offload.py sends large bodies there:
parsing 1 MiB of JSON holds the GIL for ~60 ms in one C call, which would stall the event
loop even from a thread).

A refused request comes back as a Failure (status, message), which pickles as it is.
"""

from __future__ import annotations

import json
import time
from typing import Any, NamedTuple

import numpy as np

from serve import contract, protocol
from serve.errors import Failure, RequestError
from serve.limits import check_batch
from serve.masks import MaskSpec
from serve.observations import PartSpecs, as_batch, as_part_batches
from serve.schemas import ActRequest, InferRequest, parse
from serve.state import as_state, missing_in_request, unexpected_in_request
from serve.tensors import (
    BINARY_DATA_SIZE,
    TensorSpec,
    input_array,
    output_tensor,
    split_body,
)


class Inference(NamedTuple):
    """A decoded v2 request but its input batch: how to answer."""

    outputs: list[tuple[str, bool]] | None
    """(name, as binary data) of each output asked for; None: every output."""
    binary: bool
    """Every output as binary data (the request's binary_data_output)."""
    id: str | None
    size: int
    """Observations in the batch."""
    phases: dict[str, int]
    """Nanoseconds spent so far per phase (serve/stats.py): compute_input, compute_infer."""


class ActInput(NamedTuple):
    """A decoded /v1/act body."""

    obs: np.ndarray | dict[str, np.ndarray]
    """The observations [B, *shape], or {part: [B, ...]} for a Dict or Tuple observation."""
    state: np.ndarray | None
    """A recurrent policy's state, float32 [B, state_size]; None for a feed-forward one."""
    deterministic: bool
    single: bool
    """One observation was sent (not a batch): its state comes back as [state_size]."""
    action_mask: np.ndarray | None = None
    """The action masks sent, bool [B, P] (checked); None: every action legal."""


def decode_act(body: bytes, shape: tuple[int, ...], dtype: np.dtype, parts: PartSpecs | None,
               max_batch: int, state_size: int | None, mask: MaskSpec) -> ActInput | Failure:
    """The observations (the policy's `shape` and `dtype`, or its Dict or Tuple observation
    `parts`), state (of a recurrent policy's `state_size`), action masks (as the policy's
    `mask` reads them) and flag of a /v1/act body."""
    try:
        request = parse(ActRequest, body)
    except RequestError as exc:
        return Failure(422, exc.message)
    try:
        if parts is None:
            arrays, single = as_batch(request.obs, shape, dtype)
            batch: np.ndarray | dict[str, np.ndarray] = arrays
            size = len(arrays)
        else:
            batch, single = as_part_batches(request.obs, parts)
            size = protocol.batch_size(batch)
        check_batch(size, max_batch)
        state = _act_state(request.state, state_size, size, single)
        masks = mask.read(request.action_mask, size, single)
    except RequestError as exc:
        return Failure(exc.status, exc.message)
    except ValueError as exc:
        return Failure(400, str(exc))
    return ActInput(batch, state, request.deterministic, single, masks)


def _act_state(state: Any, size: int | None, rows: int, single: bool) -> np.ndarray | None:
    """A /v1/act body's "state" as float32 [rows, size], None for a feed-forward policy
    (`size` None), or a one-line ValueError (missing, unexpected, of the wrong shape)."""
    if size is None:
        if state is not None:
            raise ValueError(unexpected_in_request('"state"'))
        return None
    if state is None:
        raise ValueError(missing_in_request(f'"state", [{size}] per observation',
                                            'the "state" of the previous answer'))
    return as_state(state, size, rows, single)


def encode_act(result: tuple[np.ndarray, dict[str, np.ndarray], bool]) -> bytes:
    """The /v1/act response body for (actions, distribution, one observation sent): a
    recurrent policy's next state as "state", in the form the request's state was sent
    ([state_size] for one observation, [B, state_size] for a batch)."""
    actions, distribution, single = result
    answer = {"actions": actions.tolist(),
              **{name: value.tolist() for name, value in distribution.items()
                 if name != contract.NEXT_STATE}}
    if contract.NEXT_STATE in distribution:
        state = distribution[contract.NEXT_STATE]
        answer["state"] = (state[0] if single else state).tolist()
    return json.dumps(answer).encode()


def decode_infer(body: bytes, header_length: str | None, specs: tuple[TensorSpec, ...],
                 graph: tuple[TensorSpec, ...], outputs: list[str], max_batch: int,
                 refusal: str) -> tuple[dict[str, np.ndarray], Inference] | Failure:
    """(the input batches, how to answer) of a v2 infer body (JSON, or the binary tensor data
    extension), checked against the model's inputs `specs` in their wire shapes (names,
    datatypes, shapes, sizes) and `outputs`; the batches {input: array} in the shapes of the
    graph's inputs `graph`. `refusal`: the message for an action_mask sent to a model that
    takes none."""
    start = time.perf_counter_ns()
    try:
        arrays, request = _decode_infer(body, header_length, specs, outputs, max_batch,
                                        refusal)
    except RequestError as exc:
        return Failure(exc.status, exc.message)
    except ValueError as exc:
        return Failure(400, str(exc))
    batch = protocol.to_graph(arrays, graph)
    return batch, request._replace(phases={"compute_input": time.perf_counter_ns() - start})


def _decode_infer(body: bytes, header_length: str | None, specs: tuple[TensorSpec, ...],
                  outputs: list[str], max_batch: int, refusal: str
                  ) -> tuple[dict[str, np.ndarray], Inference]:
    header, binary = split_body(body, header_length)
    request = parse(InferRequest, header)
    protocol.check_input_names([i.name for i in request.inputs], specs, refusal)
    by_name = {spec.name: spec for spec in specs}
    arrays, used = {}, 0
    for tensor in request.inputs:  # binary data follows the header in the inputs' order
        spec = by_name[tensor.name]
        protocol.check_input(tensor.datatype, tensor.shape, spec, max_batch)
        size = (tensor.parameters or {}).get(BINARY_DATA_SIZE)
        arrays[spec.name], used = input_array(spec.name, tensor.datatype, tensor.shape,
                                              tensor.data, size, binary, used)
    if used != len(binary):
        raise ValueError(f"{len(binary) - used} bytes of binary data follow the inputs' "
                         f"{BINARY_DATA_SIZE}; expected none")
    protocol.check_outputs([o.name for o in request.outputs or []], outputs)
    every = (request.parameters or {}).get("binary_data_output") is True
    asked = {o.name: (o.parameters or {}).get("binary_data", every) is True
             for o in request.outputs or []}
    wanted = None if request.outputs is None else [
        (output, asked[output]) for output in protocol.answered(list(asked), outputs)]
    return arrays, Inference(wanted, every, request.id, protocol.batch_size(arrays), {})


def encode_infer(name: str, version: int, result: tuple[Inference, dict[str, np.ndarray]]
                 ) -> tuple[bytes, int | None, Inference]:
    """(the response body, the JSON header's length when binary data follows it, `request`
    with its phases in ns) for the outputs `values` of `request`."""
    start = time.perf_counter_ns()
    request, values = result
    wanted = request.outputs or [(output, request.binary) for output in values]
    tensors, chunks = [], []
    for output, binary in wanted:
        tensor, raw = output_tensor(output, values[output], binary)
        tensors.append(tensor)
        if raw is not None:
            chunks.append(raw)
    answer: dict[str, Any] = {"model_name": name, "model_version": str(version),
                              "outputs": tensors}
    if request.id is not None:
        answer["id"] = request.id
    header = json.dumps(answer).encode()
    done = request._replace(phases={**request.phases,
                                    "compute_output": time.perf_counter_ns() - start})
    if not chunks:
        return header, None, done
    return b"".join([header, *chunks]), len(header), done
