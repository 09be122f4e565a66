"""Exports compute in float32: a float32 twin of a policy trained in mixed precision."""

from __future__ import annotations

from typing import Any

import keras


def in_float32(model: keras.Model) -> keras.Model:
    """`model`, or when some of its layers compute in a lower precision (a policy trained
    with precision bfloat16), a float32 twin with the same weights: the ONNX file computes in
    float32, and is verified against the twin. The weights of mixed-precision layers are
    float32 already, so the twin holds exactly the trained values."""
    config = keras.saving.serialize_keras_object(model)
    float32_config = _with_float32_policies(config)
    if float32_config == config:
        return model
    twin = keras.saving.deserialize_keras_object(float32_config)
    twin.set_weights(model.get_weights())
    return twin


def _with_float32_policies(config: Any) -> Any:
    """A serialized Keras object with every mixed-precision dtype policy set to float32."""
    if isinstance(config, list):
        return [_with_float32_policies(item) for item in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "DTypePolicy" and config.get("config", {}).get(
            "name", "").startswith("mixed_"):
        return {**config, "config": {**config["config"], "name": "float32"}}
    return {key: _with_float32_policies(value) for key, value in config.items()}
