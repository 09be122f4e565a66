"""export: a trained keras_pg policy -> one self-contained, verified `policy.onnx`.

    report = export.to_onnx("runs/cartpole")            # writes runs/cartpole/policy.onnx
    report = export.to_onnx(model, "p.onnx", env_id="CartPole-v1", opset=13)

The file follows the contract in `serve/contract.py` (also in the README). This is the only
package that imports tf2onnx.
"""

from export.export import REPORT, export_policy, to_onnx
from export.source import ExportError, PolicySource
from export.verify import VerificationError

__all__ = ["REPORT", "ExportError", "PolicySource", "VerificationError", "export_policy",
           "to_onnx"]
