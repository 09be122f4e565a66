"""The Open Inference Protocol over gRPC (KServe v2, Triton's inference.GRPCInferenceService),
beside the REST routes of serve/v2.py and over the same models (serve/protocol.py):

    ServerLive, ServerReady        open, as REST's health routes (serve/auth.py)
    ServerMetadata, ModelMetadata, ModelReady, ModelConfig, ModelStatistics, RepositoryIndex
    ModelInfer                     the input as raw_input_contents (tritonclient's default) or
                                   typed contents; the outputs asked for (or all) as
                                   raw_output_contents, as Triton answers

Every other RPC is UNIMPLEMENTED (grpc's default). A refused request gets REST's one-line
message with the grpc code of its HTTP status (GRPC_CODES). With API keys, every RPC but
health needs the metadata `authorization: Bearer KEY`. Unlike REST, ModelReady answers an
unknown model with ready=false, as Triton does (tritonclient then returns False).
"""

from __future__ import annotations

import concurrent.futures
import math
import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeAlias

import grpc
import numpy as np
from google.protobuf.json_format import ParseDict
from tritonclient.grpc import model_config_pb2, service_pb2, service_pb2_grpc

from serve import protocol
from serve.auth import authorized, load_keys
from serve.config import ServiceConfig
from serve.errors import Failure, RequestError
from serve.models import ModelVersion, ServedModel
from serve.tensors import NUMPY, from_bytes, output_tensor

# REST's statuses as grpc codes, as Triton answers (a batch over --max-batch is a 400 and
# INVALID_ARGUMENT in both). A message over --max-body-bytes never reaches the servicer: grpc
# itself answers RESOURCE_EXHAUSTED. 422 (a NaN or inf output for these observations) is the
# request's, as 400 is.
GRPC_CODES = {400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED,
              404: grpc.StatusCode.NOT_FOUND, 422: grpc.StatusCode.INVALID_ARGUMENT}
SERVICE = "/inference.GRPCInferenceService/"
OPEN_METHODS = frozenset({SERVICE + "ServerLive", SERVICE + "ServerReady"})
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # an RPC's, of any message types
# The typed field of InferTensorContents holding each datatype, and the dtype read from it:
# as wide as the field, so that the policy checks the values as REST's JSON data is checked.
CONTENTS: dict[str, tuple[str, type[np.generic]]] = {
    "FP32": ("fp32_contents", np.float32), "FP64": ("fp64_contents", np.float64),
    "INT64": ("int64_contents", np.int64), "INT32": ("int_contents", np.int32),
    "INT8": ("int_contents", np.int32), "UINT8": ("uint_contents", np.uint32),
    "BOOL": ("bool_contents", np.bool_)}


def grpc_server(models: dict[str, ServedModel], config: ServiceConfig) -> grpc.Server:
    """The gRPC service of `models` bound to `config.host:config.grpc_port`, not yet started;
    ValueError (one line) if the address cannot be bound.

    Each RPC runs in one of `config.inference_threads` threads (onnxruntime releases the GIL
    while it computes). With several uvicorn workers each binds the port with SO_REUSEPORT and
    the kernel spreads the connections; with one, a port in use is an error.
    """
    keys = load_keys(config.api_key_file)
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(config.inference_threads, "grpc"),
        interceptors=[ApiKeyCheck(keys)] if keys else None,
        options=[("grpc.max_receive_message_length", config.max_body_bytes),
                 ("grpc.so_reuseport", int(config.workers > 1))])
    service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
        InferenceService(models, config.max_batch), server)
    host = f"[{config.host}]" if ":" in config.host else config.host
    try:
        server.add_insecure_port(f"{host}:{config.grpc_port}")
    except RuntimeError:
        raise ValueError(f"--grpc-port {config.grpc_port}: cannot bind {host}:"
                         f"{config.grpc_port}; is it in use?") from None
    return server


class ApiKeyCheck(grpc.ServerInterceptor):
    """UNAUTHENTICATED for an RPC without a valid `authorization: Bearer KEY`, but health."""

    def __init__(self, keys: list[bytes]) -> None:
        self.keys = keys
        self.refuse: Handler = grpc.unary_unary_rpc_method_handler(_unauthenticated)

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
                          handler_call_details: grpc.HandlerCallDetails) -> Handler | None:
        if handler_call_details.method in OPEN_METHODS:
            return continuation(handler_call_details)
        value = dict(handler_call_details.invocation_metadata or ()).get("authorization", "")
        header = value if isinstance(value, bytes) else value.encode()
        if authorized(header, self.keys):
            return continuation(handler_call_details)
        return self.refuse


def _unauthenticated(request: Any, context: grpc.ServicerContext) -> NoReturn:
    _abort(context, 401, "missing or invalid API key; send the metadata authorization: "
                         "Bearer KEY")


class InferenceService(service_pb2_grpc.GRPCInferenceServiceServicer):
    """The v2 RPCs over `models` (whose `current` versions hot reload swaps)."""

    def __init__(self, models: dict[str, ServedModel], max_batch: int) -> None:
        self.models, self.max_batch = models, max_batch

    def ServerLive(self, request: service_pb2.ServerLiveRequest, context: grpc.ServicerContext
                   ) -> service_pb2.ServerLiveResponse:
        return service_pb2.ServerLiveResponse(live=True)

    def ServerReady(self, request: service_pb2.ServerReadyRequest, context: grpc.ServicerContext
                    ) -> service_pb2.ServerReadyResponse:
        return service_pb2.ServerReadyResponse(ready=True)  # models load before serving

    def ServerMetadata(self, request: service_pb2.ServerMetadataRequest,
                       context: grpc.ServicerContext) -> service_pb2.ServerMetadataResponse:
        return service_pb2.ServerMetadataResponse(**protocol.SERVER)

    def ModelReady(self, request: service_pb2.ModelReadyRequest, context: grpc.ServicerContext
                   ) -> service_pb2.ModelReadyResponse:
        try:
            protocol.find(self.models, request.name, request.version)
        except RequestError:
            return service_pb2.ModelReadyResponse(ready=False)
        return service_pb2.ModelReadyResponse(ready=True)

    def ModelMetadata(self, request: service_pb2.ModelMetadataRequest,
                      context: grpc.ServicerContext) -> service_pb2.ModelMetadataResponse:
        metadata = protocol.model_metadata(
            request.name, self._find(request.name, request.version, context))
        return ParseDict({key: value for key, value in metadata.items()
                          if key != "parameters"},  # keras-pg's; the gRPC message has none
                         service_pb2.ModelMetadataResponse())

    def ModelConfig(self, request: service_pb2.ModelConfigRequest, context: grpc.ServicerContext
                    ) -> service_pb2.ModelConfigResponse:
        served = self._find(request.name, request.version, context)
        config = protocol.model_config(request.name, served, self.max_batch)
        return service_pb2.ModelConfigResponse(
            config=ParseDict(config, model_config_pb2.ModelConfig()))

    def ModelStatistics(self, request: service_pb2.ModelStatisticsRequest,
                        context: grpc.ServicerContext) -> service_pb2.ModelStatisticsResponse:
        try:
            report = protocol.statistics(self.models, request.name, request.version)
        except RequestError as exc:
            _abort(context, exc.status, exc.message)
        return ParseDict(report, service_pb2.ModelStatisticsResponse())

    def RepositoryIndex(self, request: service_pb2.RepositoryIndexRequest,
                        context: grpc.ServicerContext) -> service_pb2.RepositoryIndexResponse:
        index = protocol.repository_index(self.models, request.ready)
        return ParseDict({"models": index}, service_pb2.RepositoryIndexResponse())

    def ModelInfer(self, request: service_pb2.ModelInferRequest, context: grpc.ServicerContext
                   ) -> service_pb2.ModelInferResponse:
        start = time.perf_counter_ns()
        served = self._find(request.model_name, request.model_version, context)
        answer = infer(served, request, self.max_batch)
        total_ns = time.perf_counter_ns() - start
        if isinstance(answer, Failure):
            _abort(context, answer.status, answer.message)
        response, size, phases = answer
        protocol.record(served, size, total_ns, phases)
        return response

    def _find(self, name: str, version: str, context: grpc.ServicerContext) -> ModelVersion:
        """The version served of model `name` ("" version: any), or the RPC ends NOT_FOUND."""
        try:
            return protocol.find(self.models, name, version)
        except RequestError as exc:
            _abort(context, exc.status, exc.message)


def infer(served: ModelVersion, request: service_pb2.ModelInferRequest, max_batch: int
          ) -> tuple[service_pb2.ModelInferResponse, int, dict[str, int]] | Failure:
    """(the response, the batch's observations, ns per phase: compute_input, compute_infer,
    compute_output), or the Failure REST would answer for the same request."""
    start = time.perf_counter_ns()
    try:
        batch = input_batch(served, request, max_batch)
    except RequestError as exc:
        return Failure(exc.status, exc.message)
    except ValueError as exc:
        return Failure(400, str(exc))
    decoded = time.perf_counter_ns()
    values = protocol.infer(served, batch)
    if isinstance(values, Failure):
        return values
    inferred = time.perf_counter_ns()
    response = service_pb2.ModelInferResponse(
        model_name=request.model_name, model_version=str(served.number), id=request.id)
    for name in protocol.answered([o.name for o in request.outputs], list(values)):
        tensor, raw = output_tensor(name, values[name], binary=True)
        response.outputs.add(name=name, datatype=tensor["datatype"], shape=tensor["shape"])
        response.raw_output_contents.append(raw)
    return response, protocol.batch_size(batch), {"compute_input": decoded - start,
                                  "compute_infer": inferred - decoded,
                                  "compute_output": time.perf_counter_ns() - inferred}


def input_batch(served: ModelVersion, request: service_pb2.ModelInferRequest,
                max_batch: int) -> dict[str, np.ndarray]:
    """The request's inputs {name: array} in the graph's shapes, checked as REST checks them
    (protocol): ValueError for a bad request, RequestError 413 for a batch over `max_batch`."""
    specs = served.wire.inputs
    protocol.check_input_names([tensor.name for tensor in request.inputs], specs,
                               served.policy.mask_spec.refusal)
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise ValueError(f"raw_input_contents has {len(raw)} entries; the request's "
                         f"{len(request.inputs)} input(s) need one each, or none")
    by_name = {spec.name: spec for spec in specs}
    arrays = {}
    for i, tensor in enumerate(request.inputs):
        protocol.check_input(tensor.datatype, list(tensor.shape), by_name[tensor.name],
                             max_batch)
        arrays[tensor.name] = input_array(tensor, raw[i] if raw else None)
    protocol.batch_size(arrays)
    protocol.check_outputs([o.name for o in request.outputs],
                           [o.name for o in served.signature.outputs])
    return protocol.to_graph(arrays, served.signature.inputs)


def input_array(tensor: service_pb2.ModelInferRequest.InferInputTensor,
                raw: bytes | None) -> np.ndarray:
    """The values of a checked input tensor as an array of its shape: from its
    raw_input_contents entry `raw` (little-endian, row-major) or its typed contents."""
    name, datatype, shape = tensor.name, tensor.datatype, list(tensor.shape)
    count = math.prod(shape)
    if raw is not None:
        if tensor.HasField("contents"):
            raise ValueError(f"input {name!r} needs its values either in contents or in its "
                             f"raw_input_contents entry, got both")
        nbytes = count * NUMPY[datatype].itemsize
        if len(raw) != nbytes:
            raise ValueError(f"input {name!r}: raw_input_contents holds {len(raw)} bytes; "
                             f"shape {shape} of {datatype} needs {nbytes}")
        return from_bytes(raw, datatype, shape)
    if datatype not in CONTENTS:
        raise ValueError(f"input {name!r}: {datatype} has no typed contents; send it in "
                         "raw_input_contents")
    field, dtype = CONTENTS[datatype]
    values = getattr(tensor.contents, field)
    if len(values) != count:
        raise ValueError(f"input {name!r} has {len(values)} values; shape {shape} "
                         f"needs {count}")
    return np.asarray(values, dtype).reshape(shape)


def _abort(context: grpc.ServicerContext, status: int, message: str) -> NoReturn:
    """End the RPC with the grpc code of the HTTP `status` (GRPC_CODES) and `message`."""
    context.abort(GRPC_CODES.get(status, grpc.StatusCode.INTERNAL), message)
