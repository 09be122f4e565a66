"""Triton python-backend model serving DIR/NAME/<version>/model.onnx with onnxruntime.

The conformance tests run a real tritonserver whose wheel (nvidia-pytriton) ships only the
python backend: tests/triton_server.py copies a repository written by `python -m export
--triton-repo`, swaps `platform: "onnxruntime_onnx"` for `backend: "python"` and puts this
file beside each model.onnx. Each request is run alone (dynamic batching hands over a list of
requests, never merged tensors), so its numbers are onnxruntime's on that request's tensors:
CPU, one intra-op thread, no cast. Every input the config declares is fed, a recurrent
policy's `state` too (the client sends it with each step; no sequence batcher keeps it here),
and every output returned, its `next_state` too. An input the config declares `optional` (an
action mask) that a request leaves out is fed all true, its dims after the request's batch:
every action legal, as every keras_pg runtime does. A failure answers that request with a
TritonError.
"""

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

MODEL_FILE = "model.onnx"


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        path = Path(args["model_repository"]) / args["model_version"] / MODEL_FILE
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
        self.inputs = [(tensor["name"], tensor.get("optional", False),
                        [int(d) for d in tensor["dims"]]) for tensor in config["input"]]
        self.outputs = [(tensor["name"], pb_utils.triton_string_to_numpy(tensor["data_type"]))
                        for tensor in config["output"]]

    def execute(self, requests):
        return [self._answer(request) for request in requests]

    def _answer(self, request):
        try:
            feeds, left_out = {}, []
            for name, optional, dims in self.inputs:
                tensor = pb_utils.get_input_tensor_by_name(request, name)
                if tensor is not None:
                    feeds[name] = tensor.as_numpy()
                elif optional:
                    left_out.append((name, dims))
                else:
                    raise ValueError(f"input '{name}' is missing")
            batch = len(next(iter(feeds.values())))
            for name, dims in left_out:  # an action mask: all legal
                feeds[name] = np.ones((batch, *dims), bool)
            values = self.session.run([name for name, _ in self.outputs], feeds)
            tensors = []
            for (name, dtype), value in zip(self.outputs, values, strict=True):
                value = np.asarray(value)
                if value.dtype != dtype:
                    raise TypeError(f"output '{name}' is {value.dtype}, the config declares "
                                    f"{np.dtype(dtype)}")
                tensors.append(pb_utils.Tensor(name, value))
            return pb_utils.InferenceResponse(output_tensors=tensors)
        except Exception as exc:  # onnxruntime's failures become this request's error
            return pb_utils.InferenceResponse(
                output_tensors=[], error=pb_utils.TritonError(f"{type(exc).__name__}: {exc}"))

    def finalize(self):
        self.session = None
