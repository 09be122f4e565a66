"""export: a trained keras_pg policy -> one self-contained, verified `policy.onnx`.

    report = export.to_onnx("runs/cartpole")            # writes runs/cartpole/policy.onnx
    report = export.to_onnx(model, "p.onnx", env_id="CartPole-v1", opset=13)
    report = export.to_onnx("runs/cartpole", quantize="int8")  # runs/cartpole/policy.int8.onnx

The file follows the contract in `serve/contract.py` (also in the README). This is the only
package that imports tf2onnx.

Importing export is cheap: the errors are light, and the names that need TensorFlow
(`to_onnx`, `export_policy`, `PolicySource`, `REPORT`) are imported on first use (PEP 562),
so that `python -m export` checks its arguments before TensorFlow loads.
"""

import importlib
from typing import TYPE_CHECKING

from export.errors import ExportError, VerificationError

if TYPE_CHECKING:  # their types, for type checkers; at run time __getattr__ imports them
    from export.export import REPORT, export_policy, to_onnx
    from export.source import PolicySource

_LAZY = {"REPORT": "export.export", "export_policy": "export.export",
         "to_onnx": "export.export", "PolicySource": "export.source"}

__all__ = ["REPORT", "ExportError", "PolicySource", "VerificationError", "export_policy",
           "to_onnx"]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'export' has no attribute {name!r}")
    importlib.import_module("keras_pg")  # first: it quiets TensorFlow's start-up logging
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
