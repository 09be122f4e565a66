"""The ONNX contract: what a keras_pg `policy.onnx` holds. The one module that names it.

export/ writes files by it and serve/ reads them by it; it lives in serve/ because serve sits
at the bottom of the dependency graph (this module needs the standard library only).

Graph:
    input  `obs`     [batch, *observation_shape]   batch dimension dynamic, named `batch`; a
                                                   Discrete observation is [batch]
                     dtype (`input_dtype`): uint8 for an image observation space -- a Box of
                     dtype uint8 with a 3-dimensional shape (H, W, C) -- whose raw frames the
                     graph scales to [0, 1] itself; float32 for every other space
  categorical policies (Discrete actions):
    output `probs`   float32 [batch, n_actions]    softmax of the policy's logits
    output `action`  int64   [batch]               argmax, the greedy action
  gaussian policies (Box actions):
    output `mean`    float32 [batch, action_dim]
    output `std`     float32 [batch, action_dim]   exp(log_std)
    output `action`  float32 [batch, action_dim]   mean clipped to the action bounds

Metadata (model.metadata_props; every value is a JSON document):
    contract_version   2
    producer           "keras_pg <version>"
    policy_kind        "categorical" or "gaussian"
    env_id             what the policy was trained on: a registered gymnasium id
                       ("CartPole-v1"); gymnasium's "module:EnvId" form ("myenv:GoLeft-v0":
                       gymnasium.make imports the module, which registers the id); or, for a
                       Python env factory, "<module.function>", which no runtime can rebuild
    env_kwargs         the gymnasium.make keyword arguments, a JSON object ({} when none)
    max_episode_steps  the TimeLimit the policy was trained with (int), or null
    observation_space  {"type": "Box", "shape": [...], "dtype": "float32",
                        "low": [...], "high": [...]}   (unbounded entries are "inf"/"-inf")
    observation_space  (Discrete) {"type": "Discrete", "n": N, "start": 0}
    action_space       {"type": "Discrete", "n": N, "start": 0} or {"type": "Box", ...}
    training_config    the keras_pg Config as a JSON object (null if unknown)
    env_steps          environment steps trained (null if unknown)
    eval_mean_return   greedy evaluation mean return (null if unknown)
    versions           {"tensorflow", "keras", "tf2onnx", "onnx"} used to export
    created_at         ISO 8601 UTC time of the export

Versions (readers accept SUPPORTED_CONTRACT_VERSIONS):
    1  the input is always float32; no env_kwargs or max_episode_steps (read as {} and null)
    2  version 1 plus the input dtype rule above (uint8 image inputs) and the keys env_kwargs
       and max_episode_steps
"""

from __future__ import annotations

import json
from typing import Any

CONTRACT_VERSION = 2
SUPPORTED_CONTRACT_VERSIONS = (1, 2)

INPUT = "obs"
PROBS = "probs"
MEAN = "mean"
STD = "std"
ACTION = "action"
BATCH_DIM = "batch"

CONTRACT_VERSION_KEY = "contract_version"
PRODUCER_KEY = "producer"
POLICY_KIND_KEY = "policy_kind"
ENV_ID_KEY = "env_id"
ENV_KWARGS_KEY = "env_kwargs"
MAX_EPISODE_STEPS_KEY = "max_episode_steps"
OBSERVATION_SPACE_KEY = "observation_space"
ACTION_SPACE_KEY = "action_space"
TRAINING_CONFIG_KEY = "training_config"
ENV_STEPS_KEY = "env_steps"
EVAL_MEAN_RETURN_KEY = "eval_mean_return"
VERSIONS_KEY = "versions"
CREATED_AT_KEY = "created_at"
METADATA_KEYS = (
    CONTRACT_VERSION_KEY, PRODUCER_KEY, POLICY_KIND_KEY, ENV_ID_KEY, ENV_KWARGS_KEY,
    MAX_EPISODE_STEPS_KEY, OBSERVATION_SPACE_KEY, ACTION_SPACE_KEY, TRAINING_CONFIG_KEY,
    ENV_STEPS_KEY, EVAL_MEAN_RETURN_KEY, VERSIONS_KEY, CREATED_AT_KEY,
)


def input_dtype(observation_space: dict[str, Any]) -> str:
    """The dtype of input `obs` for an observation space description: "uint8" or "float32".

    "uint8" for {"type": "Box", "dtype": "uint8"} with a 3-dimensional shape (an H x W x C
    image: the graph scales it to [0, 1], so the policy takes raw frames), else "float32".
    """
    image = (observation_space.get("type") == "Box" and observation_space.get("dtype") == "uint8"
             and len(observation_space.get("shape", ())) == 3)
    return "uint8" if image else "float32"


def encode_metadata(values: dict[str, Any]) -> dict[str, str]:
    """Every metadata value as a JSON string (metadata_props only hold strings)."""
    return {key: json.dumps(value, sort_keys=True) for key, value in values.items()}


def decode_metadata(props: dict[str, str]) -> dict[str, Any]:
    """Inverse of `encode_metadata`."""
    return {key: json.loads(value) for key, value in props.items()}
