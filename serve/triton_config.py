"""A policy's Triton model configuration (Triton's ModelConfig message), built once and written
two ways: as config.pbtxt (protobuf text, what `python -m export --triton-repo` writes) and as
JSON (what `GET /v2/models/NAME/config` answers, here and in Triton).

The tensors are the graph's, without the batch dimension (Triton adds it: max_batch_size > 0);
a tensor whose only dimension is the batch is declared `dims: [ 1 ]` with `reshape: { shape:
[ ] }`, so Triton's clients see it as [batch, 1] (contract.wire_shape) and the model gets
[batch]. The rest comes from the contract's "triton" entry: platform, max_batch_size, dynamic
batching's queue delay; one CPU instance; one onnxruntime thread per call.

A recurrent policy's state is two more tensors, input `state` and output `next_state`, dims
[state_size], which the client sends and receives with each step, as on every other runtime.
No sequence batcher with implicit state: that would make Triton keep each live sequence's
state on the server (a sequence id per episode, START/END flags, one slot per sequence,
lost with a restart or on another replica), while the contract keeps every runtime
stateless, so that any replica answers any step. Dynamic batching stays: each row of a
merged batch carries its own state.

A policy's action mask is the input `action_mask` TYPE_BOOL dims [action_size], declared
`optional: true`: a request may leave it out, and the model then acts as if every action
were legal -- if its backend feeds all true (tests/triton/model.py does; Triton's own
onnxruntime backend cannot, the graph requiring the input: its clients send the mask).
"""

from __future__ import annotations

import json
from typing import Any

from serve import contract
from serve.tensors import Signature, TensorSpec

ENUM_FIELDS = ("data_type", "kind")  # written unquoted in protobuf text


def model_config(name: str, sig: Signature,
                 max_batch_size: int = contract.TRITON["max_batch_size"]) -> dict[str, Any]:
    """The ModelConfig of a graph whose every tensor has the batch as its first dimension,
    as Triton's JSON writes it (proto field names, enums by name)."""
    return {
        "name": name,
        "platform": contract.TRITON["platform"],
        "max_batch_size": max_batch_size,
        "input": [_tensor(t) for t in sig.inputs],
        "output": [_tensor(t) for t in sig.outputs],
        "dynamic_batching": {
            "max_queue_delay_microseconds": contract.TRITON["max_queue_delay_microseconds"]},
        "instance_group": [{"count": 1, "kind": "KIND_CPU"}],
        "parameters": {"intra_op_thread_count": {"string_value": "1"}},
    }


def _tensor(spec: TensorSpec) -> dict[str, Any]:
    dims = list(spec.shape[1:])
    tensor: dict[str, Any] = {"name": spec.name, "data_type": f"TYPE_{spec.datatype}",
                              "dims": dims or list(contract.wire_shape(spec.shape)[1:])}
    if not dims:
        tensor["reshape"] = {"shape": []}
    if spec.name == contract.ACTION_MASK:
        tensor["optional"] = True
    return tensor


def to_pbtxt(config: dict[str, Any], comment: str = "") -> str:
    """`config` in protobuf text format (config.pbtxt), after a `# comment` line."""
    lines = [f"# {comment}"] if comment else []
    lines += _fields(config, "")
    return "\n".join(lines) + "\n"


def _fields(message: dict[str, Any], indent: str) -> list[str]:
    lines = []
    for field, value in message.items():
        if field == "parameters":  # a map<string, ModelParameter>: one entry block per key
            for key, parameter in value.items():
                lines.append(f"{indent}parameters {{")
                lines.append(f"{indent}  key: {json.dumps(key)}")
                lines.append(f"{indent}  value: {{ {_inline(parameter)} }}")
                lines.append(f"{indent}}}")
        elif isinstance(value, dict):
            lines += [f"{indent}{field} {{", *_fields(value, indent + "  "), f"{indent}}}"]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            blocks = [[f"{indent}  {{", *_fields(item, indent + "    "), f"{indent}  }}"]
                      for item in value]
            lines.append(f"{indent}{field} [")
            for i, block in enumerate(blocks):
                block[-1] += "," if i < len(blocks) - 1 else ""
                lines += block
            lines.append(f"{indent}]")
        else:
            lines.append(f"{indent}{field}: {_scalar(field, value)}")
    return lines


def _inline(message: dict[str, Any]) -> str:
    return " ".join(f"{field}: {_scalar(field, value)}" for field, value in message.items())


def _scalar(field: str, value: Any) -> str:
    if isinstance(value, list):
        return "[ " + ", ".join(_scalar(field, v) for v in value) + " ]"
    if field in ENUM_FIELDS:
        return value
    if isinstance(value, str):
        return json.dumps(value)
    return str(value).lower() if isinstance(value, bool) else str(value)
