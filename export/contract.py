"""The ONNX export contract: what `policy.onnx` holds, shared by export/ and serve/ readers.

Graph:
    input  `obs`     float32 [batch, *observation_shape]   (batch dimension dynamic; a
                                                            Discrete observation is [batch])
  categorical policies (Discrete actions):
    output `probs`   float32 [batch, n_actions]            softmax of the policy's logits
    output `action`  int64   [batch]                       argmax, the greedy action
  gaussian policies (Box actions):
    output `mean`    float32 [batch, action_dim]
    output `std`     float32 [batch, action_dim]           exp(log_std)
    output `action`  float32 [batch, action_dim]           mean clipped to the action bounds

Metadata (model.metadata_props; every value is a JSON document):
    contract_version   1
    producer           "keras_pg <version>"
    policy_kind        "categorical" or "gaussian"
    env_id             the gymnasium id the policy was trained on
    observation_space  {"type": "Box", "shape": [...], "dtype": "float32",
                        "low": [...], "high": [...]}   (unbounded entries are "inf"/"-inf")
    observation_space  (Discrete) {"type": "Discrete", "n": N, "start": 0}
    action_space       {"type": "Discrete", "n": N, "start": 0} or {"type": "Box", ...}
    training_config    the keras_pg Config as a JSON object (null if unknown)
    env_steps          environment steps trained (null if unknown)
    eval_mean_return   greedy evaluation mean return (null if unknown)
    versions           {"tensorflow", "keras", "tf2onnx", "onnx"} used to export
    created_at         ISO 8601 UTC time of the export
"""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import numpy as np

CONTRACT_VERSION = 1
INPUT = "obs"
PROBS = "probs"
MEAN = "mean"
STD = "std"
ACTION = "action"
BATCH_DIM = "batch"


def _bounds(values: np.ndarray) -> list[float | str]:
    """Box bounds as JSON: finite floats, or the strings "inf" / "-inf"."""
    return [float(v) if np.isfinite(v) else ("inf" if v > 0 else "-inf")
            for v in np.asarray(values, dtype=np.float64).ravel()]


def describe_space(space: gym.Space) -> dict[str, Any]:
    """A JSON description of a Box or Discrete space (other spaces are not exported)."""
    if isinstance(space, gym.spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": _bounds(space.low), "high": _bounds(space.high)}
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    raise ValueError(f"cannot describe space {space}; expected Box or Discrete")


def encode_metadata(values: dict[str, Any]) -> dict[str, str]:
    """Every metadata value as a JSON string (metadata_props only hold strings)."""
    return {key: json.dumps(value, sort_keys=True) for key, value in values.items()}


def decode_metadata(props: dict[str, str]) -> dict[str, Any]:
    """Inverse of `encode_metadata`."""
    return {key: json.loads(value) for key, value in props.items()}
