"""Spaces, the vocabulary training, export and serve share: as JSON and back, the parts
of an observation, and the dtype and shape a policy takes each part in.

The run directory records the spaces (`spaces.json`) and the ONNX metadata carries them, so
that export and serve know a policy's inputs and outputs without creating its env. This
module needs gymnasium and numpy only (no TensorFlow), so that keras_pg, export and serve
all read it.

    {"type": "Box", "shape": [4], "dtype": "float32", "low": [...], "high": [...]}
    {"type": "Discrete", "n": 16, "start": 0}
    {"type": "MultiDiscrete", "nvec": [3, 2]}
    {"type": "MultiBinary", "n": 4}
    {"type": "Dict", "spaces": {"direction": {...}, "image": {...}}}
    {"type": "Tuple", "spaces": [{...}, {...}]}

Unbounded Box entries are the strings "inf" and "-inf" (JSON has no infinity).

A Dict or Tuple observation space is structured: its parts -- a Dict's keys, in gymnasium's
sorted order, or a Tuple's positions "0", "1", ... -- are each a Box, Discrete, MultiDiscrete
or MultiBinary space, and the policy takes one input per part, named after it
(`observation_parts`). Any other space is one part named "obs" (contract.INPUT).
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
    if isinstance(space, gym.spaces.Dict):
        return {"type": "Dict", "spaces": {key: describe_space(part)
                                           for key, part in space.spaces.items()}}
    if isinstance(space, gym.spaces.Tuple):
        return {"type": "Tuple", "spaces": [describe_space(part) for part in space.spaces]}
    raise ValueError(f"cannot describe space {space}; expected Box, Discrete, MultiDiscrete, "
                     f"MultiBinary, Dict or Tuple")


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
        if description["type"] == "Dict":
            return gym.spaces.Dict({str(key): space_from_description(part)
                                    for key, part in description["spaces"].items()})
        if description["type"] == "Tuple":
            return gym.spaces.Tuple([space_from_description(part)
                                     for part in description["spaces"]])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed space description {description!r}: {exc}") from None
    raise ValueError(f"unknown space type in {description!r}; expected Box, Discrete, "
                     f"MultiDiscrete, MultiBinary, Dict or Tuple")


def is_structured(space: gym.Space) -> bool:
    """Whether observations of `space` come in named parts (a Dict or a Tuple)."""
    return isinstance(space, gym.spaces.Dict | gym.spaces.Tuple)


def observation_parts(space: gym.Space) -> dict[str, gym.Space]:
    """{part name: its space}: a Dict's keys in its (sorted) order, a Tuple's positions as
    "0", "1", ..., or {"obs": space} for an unstructured space."""
    if isinstance(space, gym.spaces.Dict):
        return dict(space.spaces)
    if isinstance(space, gym.spaces.Tuple):
        return {str(i): part for i, part in enumerate(space.spaces)}
    return {contract.INPUT: space}


def is_image_space(space: gym.Space) -> bool:
    """A Box of shape (H, W, C) and dtype uint8 (the contract's image rule, contract.is_image):
    frames, which get a CNN and are scaled to [0, 1] inside the model (so the policy takes raw
    uint8 frames)."""
    return isinstance(space, gym.spaces.Box) and contract.is_image(
        {"type": "Box", "dtype": str(space.dtype), "shape": space.shape})


def observation_dtype(space: gym.Space) -> str:
    """The dtype a policy takes observations of `space` (one part) in: "uint8" for images
    (raw frames, see `is_image_space`), "float32" for everything else (Discrete indices,
    MultiDiscrete and MultiBinary values included)."""
    return "uint8" if is_image_space(space) else "float32"


def observation_shape(space: gym.Space) -> tuple[int, ...]:
    """The shape of one observation (of one part) as the policy takes it: () for a Discrete
    index, the space's shape otherwise (a Box's, (k,) for MultiDiscrete and MultiBinary)."""
    if isinstance(space, gym.spaces.Discrete):
        return ()
    if space.shape is None:  # Dict, Tuple, ...: structured spaces have parts, no shape
        raise TypeError(f"space {space} has no shape; expected one of its parts")
    return tuple(space.shape)


def part_specs(space: gym.Space) -> dict[str, tuple[tuple[int, ...], str]]:
    """{part name: (shape, dtype)} of the inputs a policy of `space` takes (the contract's
    `input_specs` of its description)."""
    return contract.input_specs(describe_space(space))
