"""Spaces, the vocabulary training, export and serve share: as JSON and back, and the
dtype a policy takes its observations in.

The run directory records the spaces (`spaces.json`) and the ONNX metadata carries them, so
that export and serve know a policy's inputs and outputs without creating its env. This
module needs gymnasium and numpy only (no TensorFlow), so that keras_pg, export and serve
all read it.

    {"type": "Box", "shape": [4], "dtype": "float32", "low": [...], "high": [...]}
    {"type": "Discrete", "n": 16, "start": 0}
    {"type": "MultiDiscrete", "nvec": [3, 2]}
    {"type": "MultiBinary", "n": 4}

Unbounded Box entries are the strings "inf" and "-inf" (JSON has no infinity).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from serve import contract


def _bounds(values: np.ndarray) -> list[float | str]:
    return [float(v) if np.isfinite(v) else ("inf" if v > 0 else "-inf")
            for v in np.asarray(values, dtype=np.float64).ravel()]


def describe_space(space: gym.Space) -> dict[str, Any]:
    """A JSON description of a space keras_pg trains on."""
    if isinstance(space, gym.spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": _bounds(space.low), "high": _bounds(space.high)}
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.MultiDiscrete):  # one-dimensional, starting at 0
        return {"type": "MultiDiscrete", "nvec": [int(n) for n in space.nvec]}
    if isinstance(space, gym.spaces.MultiBinary):  # one-dimensional
        return {"type": "MultiBinary", "n": int(np.prod(space.shape))}
    raise ValueError(f"cannot describe space {space}; expected Box, Discrete, MultiDiscrete "
                     f"or MultiBinary")


def space_from_description(description: dict[str, Any]) -> gym.Space:
    """Inverse of `describe_space`; a malformed description is a ValueError naming it."""
    try:
        if description["type"] == "Discrete":
            return gym.spaces.Discrete(int(description["n"]), start=int(description["start"]))
        if description["type"] == "Box":
            shape, dtype = tuple(int(d) for d in description["shape"]), np.dtype(
                description["dtype"])
            low, high = (np.array([float(v) for v in description[k]]).reshape(shape).astype(
                dtype) for k in ("low", "high"))
            return gym.spaces.Box(low, high, shape, dtype)
        if description["type"] == "MultiDiscrete":
            return gym.spaces.MultiDiscrete([int(n) for n in description["nvec"]])
        if description["type"] == "MultiBinary":
            return gym.spaces.MultiBinary(int(description["n"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed space description {description!r}: {exc}") from None
    raise ValueError(f"unknown space type in {description!r}; expected Box, Discrete, "
                     f"MultiDiscrete or MultiBinary")


def is_image_space(space: gym.Space) -> bool:
    """A Box of shape (H, W, C) and dtype uint8 (the contract's image rule, contract.is_image):
    frames, which get a CNN and are scaled to [0, 1] inside the model (so the policy takes raw
    uint8 frames)."""
    return isinstance(space, gym.spaces.Box) and contract.is_image(
        {"type": "Box", "dtype": str(space.dtype), "shape": space.shape})


def observation_dtype(space: gym.Space) -> str:
    """The dtype a policy takes observations of `space` in: "uint8" for images (raw frames,
    see `is_image_space`), "float32" for everything else (Discrete indices included)."""
    return "uint8" if is_image_space(space) else "float32"


def observation_shape(space: gym.Space) -> tuple[int, ...]:
    """The shape of one observation as the policy takes it: () for a Discrete index, the
    Box's shape otherwise."""
    if isinstance(space, gym.spaces.Discrete):
        return ()
    if space.shape is None:  # Dict, Tuple, ...: spaces no policy takes
        raise TypeError(f"space {space} has no shape; expected Box or Discrete")
    return tuple(space.shape)
