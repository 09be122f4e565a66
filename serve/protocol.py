"""The Open Inference Protocol's model side, shared by its front ends -- REST (serve/v2.py) and
gRPC (serve/grpc_v2.py) -- so both answer every request identically, and as Triton does:

    find               the served version of a model (404 / NOT_FOUND otherwise)
    model_metadata     inputs and outputs with their wire shapes (contract.wire_shape)
    model_config       Triton's ModelConfig of the model (serve/triton_config.py)
    repository_index   the models and their state
    statistics         Triton's statistics extension (serve/stats.py)
    check_input_names  a request's inputs against the model's inputs (one, or one per part of
                       a Dict or Tuple observation)
    check_input        a request's input tensor against the model's input of its name
    infer              the model's outputs for an input batch, in wire shapes

A recurrent policy's state is one more input, `state` FP32 [-1, state_size], and output,
`next_state`: the client sends the state the previous answer returned (zeros at an episode's
first step); the server keeps none between requests. A policy of action masks takes the input
`action_mask` BOOL [-1, action_size] (UINT8 or INT8 of 0/1 too), optional: without it every
action is legal. The metadata lists it among the inputs (the protocol has no word for
optional: the parameters' `optional_inputs` name it).

Tensors travel with their wire shapes: a tensor whose only dimension is the batch is
[batch, 1] on the wire and [batch] in the graph (`to_graph` converts inputs, `infer` outputs).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from serve import contract, triton_config
from serve.errors import Failure, RequestError
from serve.models import ModelVersion, ServedModel
from serve.policy import NonFiniteOutputError
from serve.state import missing_in_request
from serve.tensors import V2_DATATYPES, TensorSpec, check_shape

PLATFORM = contract.TRITON["platform"]
MASK_DATATYPES = tuple(V2_DATATYPES[np.dtype(dtype)]
                       for dtype in contract.SPEC["action_mask"]["request_dtypes"])
"""The v2 datatypes an action_mask may come in: BOOL, INT8, UINT8."""
SERVER = {"name": "keras-pg", "version": "1",
          "extensions": ["binary_tensor_data", "model_configuration", "model_repository",
                         "statistics"]}


def find(models: Mapping[str, ServedModel], name: str, version: str | None,
         status: int = 404) -> ModelVersion:
    """The version served of model `name` (RequestError `status` if unknown, or `version` is
    given and is not it: 404, but 400 where Triton answers 400 -- readiness, statistics)."""
    if name not in models:
        raise RequestError(status, f"unknown model {name!r}; this server has "
                                   f"{', '.join(models)}")
    served = models[name].current
    if version not in (None, "") and version != str(served.number):
        raise RequestError(status, f"model {name!r} has no version {version!r}; version "
                                   f"{served.number} is served")
    return served


def model_metadata(name: str, served: ModelVersion) -> dict[str, Any]:
    """The protocol's model metadata: name, versions, platform, inputs and outputs with
    their datatypes and wire shapes (-1: the batch), and keras-pg's parameters."""
    policy = served.policy

    def tensors(specs: tuple[TensorSpec, ...]) -> list[dict[str, Any]]:
        return [{"name": s.name, "datatype": s.datatype, "shape": list(s.shape)} for s in specs]

    wire = served.wire
    return {"name": name, "versions": [str(served.number)], "platform": PLATFORM,
            "inputs": tensors(wire.inputs), "outputs": tensors(wire.outputs),
            "parameters": {**served.describe(),
                           "env_id": policy.metadata.get(contract.ENV_ID_KEY),
                           "policy_kind": policy.kind, "state_size": policy.state_size,
                           "optional_inputs": [s.name for s in wire.inputs
                                               if s.name == contract.ACTION_MASK]}}


def model_config(name: str, served: ModelVersion, max_batch: int) -> dict[str, Any]:
    """Triton's ModelConfig of the model, in JSON form: what export writes as config.pbtxt."""
    return triton_config.model_config(name, served.signature, max_batch)


def repository_index(models: Mapping[str, ServedModel], ready: bool) -> list[dict[str, str]]:
    """Every model with its served version and state (all are loaded before serving, so
    `ready` -- only the ready ones -- lists the same)."""
    del ready
    return [{"name": name, "version": str(model.current.number), "state": "READY"}
            for name, model in sorted(models.items())]


def statistics(models: Mapping[str, ServedModel], name: str | None,
               version: str | None) -> dict[str, Any]:
    """Triton's statistics of one model (`name`), or of every model."""
    names = sorted(models) if name in (None, "") else [name]
    report = []
    for each in names:
        served = find(models, each, version, status=400)
        report.append(served.stats.report(each, str(served.number)))
    return {"model_stats": report}


def check_input_names(names: list[str], specs: tuple[TensorSpec, ...], refusal: str) -> None:
    """A request's inputs are `names`: each of the model's inputs `specs` once, in any
    order -- its action_mask, if it takes one, optional --, or a ValueError (400); a recurrent
    policy's state alone missing gets serve.state's message, an action_mask sent to a model
    that takes none `refusal`."""
    required = [spec.name for spec in specs if spec.name != contract.ACTION_MASK]
    optional = [spec.name for spec in specs if spec.name == contract.ACTION_MASK]
    if sorted(names) in (sorted(required), sorted(required + optional)):
        return
    if contract.ACTION_MASK in names and not optional:
        raise ValueError(refusal)
    given = sorted(name for name in names if name not in optional)
    state = [spec for spec in specs if spec.name == contract.STATE]
    if state and given == sorted(name for name in required if name != contract.STATE):
        raise ValueError(missing_in_request(
            f"input {contract.STATE!r} {state[0].datatype} {list(state[0].shape)}",
            f"the previous answer's output {contract.NEXT_STATE!r}"))
    takes = (f"one, {required[0]!r}" if len(required) == 1
             else ", ".join(map(repr, required)))
    also = f", and optionally {optional[0]!r}" if optional else ""
    raise ValueError(f"the request has inputs {names}; the model takes {takes}{also}")


def check_input(datatype: str, shape: list[int], spec: TensorSpec, max_batch: int) -> None:
    """A request's input (its datatype and shape; its name checked by check_input_names)
    against the model's input `spec` (wire shape) and the batch bound: ValueError (400, as
    Triton answers a batch over its max_batch_size) naming the first mismatch."""
    if datatype != spec.datatype and not (spec.name == contract.ACTION_MASK
                                          and datatype in MASK_DATATYPES):
        also = (f" (or {' or '.join(MASK_DATATYPES[1:])} of 0 and 1)"
                if spec.name == contract.ACTION_MASK else "")
        raise ValueError(f"input {spec.name!r} has datatype {datatype}; the model "
                         f"takes {spec.datatype}{also}")
    check_shape(spec.name, shape, spec)
    if shape[0] > max_batch:
        raise ValueError(f"batch of {shape[0]} observations is over the limit of {max_batch} "
                         "(--max-batch)")


def check_outputs(requested: list[str], outputs: list[str]) -> None:
    """Every requested output exists (ValueError naming the unknown ones)."""
    unknown = [name for name in requested if name not in outputs]
    if unknown:
        raise ValueError(f"unknown output(s) {unknown}; the model has {outputs}")


def answered(requested: list[str], outputs: list[str]) -> list[str]:
    """The outputs a response holds: those requested (all when none are), in the model's
    order, as Triton answers."""
    return [name for name in outputs if not requested or name in requested]


def record(served: ModelVersion, size: int, total_ns: int, phases: dict[str, int]) -> None:
    """A request's statistics: its phases, and the rest of its `total_ns` as the queue's."""
    queue = max(0, total_ns - sum(phases.values()))
    served.stats.success(size, total_ns, {"queue": queue, **phases})


def batch_size(arrays: dict[str, np.ndarray]) -> int:
    """The batch of a request's inputs (wire shapes): the same in each, or a ValueError."""
    sizes = {name: len(array) for name, array in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"the inputs disagree on the batch: "
                         f"{', '.join(f'{name} {size}' for name, size in sizes.items())}; "
                         f"expected the same batch size in every input")
    return next(iter(sizes.values()))


def to_graph(arrays: dict[str, np.ndarray], specs: tuple[TensorSpec, ...]
             ) -> dict[str, np.ndarray]:
    """Wire-shaped input arrays in the graph's shapes `specs` ([B, 1] -> [B])."""
    ranks = {spec.name: len(spec.shape) for spec in specs}
    return {name: array.reshape((len(array), *array.shape[1:])[:ranks[name]])
            for name, array in arrays.items()}


def infer(served: ModelVersion, batch: dict[str, np.ndarray]
          ) -> dict[str, np.ndarray] | Failure:
    """Every output of the model for `batch` ({input: array} in graph shapes; a recurrent
    policy's `state` and an action mask among them, its `next_state` among the outputs), in
    wire shapes; a Failure (422) for a NaN or inf output, (400) for observations (or a state,
    or masks) the policy refuses -- counted as the model's failed inferences (a request
    refused before, by validation, is not: as Triton)."""
    start = time.perf_counter_ns()
    policy = served.policy
    state = batch.get(contract.STATE) if policy.state_size is not None else None
    mask = batch.get(contract.ACTION_MASK) if policy.action_mask_size is not None else None
    observations = {name: array for name, array in batch.items()
                    if (name != contract.STATE or state is None)
                    and (name != contract.ACTION_MASK or policy.action_mask_size is None)}
    try:
        values = policy.distribution(observations if policy.observation_parts is not None
                                     else next(iter(observations.values())), state, mask)
    except NonFiniteOutputError as exc:
        failure = Failure(422, str(exc))
    except ValueError as exc:  # observations the policy refuses: NaN, out of range
        failure = Failure(400, str(exc))
    else:
        return {name: value.reshape(len(value), -1) if value.ndim == 1 else value
                for name, value in values.items()}
    served.stats.failure(time.perf_counter_ns() - start)
    return failure
