"""What a caller passes as observations, checked and shaped into the policy's ONNX inputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

FLOAT32, UINT8 = np.dtype(np.float32), np.dtype(np.uint8)  # the input dtypes of the contract
NOT_FINITE = "obs contains NaN or inf; expected finite numbers"
SMALL = 64
"""Values; up to here `all_finite` sums them in Python (~0.3 µs for 4 values, ~1.3 µs for 64)
rather than calling np.isfinite and a reduction (~2 µs at any size below ~1,000)."""


def as_batch(obs: Any, shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, bool]:
    """`obs` as a `dtype` array [B, *shape], and whether a single observation was given.

    Args:
        obs: one observation of `shape`, or a batch [B, *shape] with B > 0 (arrays, lists).
        shape: the observation shape (() for a Discrete observation).
        dtype: FLOAT32 (anything numeric is cast; NaN and inf are refused) or UINT8 (raw
            image frames: uint8 arrays pass as they are, other numbers must be integers in
            [0, 255]).

    Raises:
        ValueError: one line saying what was received and what was expected.
    """
    # Identity, not ==: dtype is one of the two objects above, and this is act()'s hot path.
    array = _as_uint8(obs, shape) if dtype is UINT8 else _real(obs, shape, dtype)
    if array.shape == shape:
        single, array = True, array[None]
    elif array.shape[1:] == shape and array.shape[0] > 0:
        single = False
    else:
        raise ValueError(f"obs has shape {array.shape}; expected {shape} "
                         f"or (batch, {', '.join(map(str, shape))})")
    if dtype is FLOAT32 and not all_finite(array):
        raise ValueError(NOT_FINITE)
    return array, single


PartSpecs = dict[str, tuple[tuple[int, ...], np.dtype]]
"""{part: (shape, dtype)} of a policy that takes a Dict or Tuple observation."""


def as_part_batches(obs: Any, parts: PartSpecs) -> tuple[dict[str, np.ndarray], bool]:
    """`obs` of a structured observation as {part: batch [B, *shape]}, and whether a single
    observation was given: `as_batch` part by part, with one B for all parts.

    Args:
        obs: {part: one observation of it, or a batch}, every part and no other; for a Tuple
            (parts "0", "1", ...) also a list or tuple of the parts in order.
        parts: the parts' shapes and dtypes (FLOAT32 or UINT8).

    Raises:
        ValueError: one line naming the part at fault, e.g. "obs['image'] has shape ...".
    """
    names = list(parts)
    tuple_parts = names == [str(i) for i in range(len(names))]
    if tuple_parts and isinstance(obs, list | tuple) and len(obs) == len(names):
        obs = {str(i): part for i, part in enumerate(obs)}  # a Tuple's parts, in order
    if not isinstance(obs, dict) or set(obs) != set(names):
        if isinstance(obs, dict):
            given = f"the parts {', '.join(map(str, obs)) or 'none'}"
        elif tuple_parts and isinstance(obs, list | tuple):
            given = f"a {type(obs).__name__} of {len(obs)}"
        else:
            given = type(obs).__name__
        form = "an object (or a list, in order)" if tuple_parts else "an object"
        raise ValueError(f"obs must be {form} with the parts {', '.join(names)}; got {given}")
    batches, singles = {}, set()
    for name in names:
        shape, dtype = parts[name]
        try:
            batches[name], single = as_batch(obs[name], shape, dtype)
        except ValueError as exc:
            raise ValueError(part_message(name, str(exc))) from None
        singles.add(single)
    sizes = {name: len(batch) for name, batch in batches.items()}
    if len(singles) > 1 or len(set(sizes.values())) > 1:
        found = ", ".join(f"{n} {_rows(parts[n][0], obs[n], sizes[n])}" for n in names)
        raise ValueError(f"obs parts disagree on the batch: {found}; expected one observation, "
                         f"or the same batch size, in every part")
    return batches, singles.pop()


def part_message(part: str, message: str) -> str:
    """`as_batch`'s message about "obs" as one about the part: "obs['image'] has shape ..."."""
    return f"obs[{part!r}]{message.removeprefix('obs')}"


def _rows(shape: tuple[int, ...], given: Any, size: int) -> str:
    return "one observation" if np.ndim(given) == len(shape) else f"a batch of {size}"


def all_finite(values: np.ndarray) -> bool:
    """No NaN or inf in `values`, in one reduction. A few float32 values are summed as Python
    floats (float64): a NaN or inf makes the sum NaN or inf, and finite float32 values cannot
    overflow float64 (their sum is below 3.5e38 times their count). Wider floats are checked
    one by one (1e308 + 1e308 overflows); many values by numpy."""
    if values.size > SMALL:
        return bool(np.isfinite(values).all())
    if values.dtype.itemsize <= 4:
        return math.isfinite(sum(values.ravel().tolist()))
    return all(map(math.isfinite, values.ravel().tolist()))


def _as_uint8(obs: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A uint8 array as it is; other numbers as uint8 if each is an integer in [0, 255]."""
    if isinstance(obs, np.ndarray) and obs.dtype == UINT8:
        return obs
    values = _real(obs, shape, np.dtype(np.float64))  # exact for every uint8 integer
    if not all_finite(values):
        raise ValueError(NOT_FINITE)
    outside = (values < 0) | (values > 255) | (values != np.round(values))
    if outside.any():
        raise ValueError("obs must be integers in [0, 255] for this policy's uint8 input, "
                         f"got {values[outside][0]}")
    return values.astype(np.uint8)


def _real(obs: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """`obs` as a `dtype` array; a ValueError for complex values (their imaginary part would
    be dropped), numbers beyond any float (as NaN and inf are), and anything not numeric."""
    if isinstance(obs, np.ndarray) and obs.dtype is dtype:  # act()'s usual case: as it is
        return obs
    try:
        array = obs if isinstance(obs, np.ndarray) else np.asarray(obs)
        complex_values = array.dtype.kind == "c"
        if not complex_values:
            array = array.astype(dtype, copy=False)
    except OverflowError:  # a Python int beyond float64, such as 10**400
        raise ValueError(NOT_FINITE) from None
    except (ValueError, TypeError):
        raise _not_numeric(obs, shape) from None
    if complex_values:
        raise ValueError(f"obs must be real numbers with shape {shape}, got complex values")
    return array


def _not_numeric(obs: Any, shape: tuple[int, ...]) -> ValueError:
    text = " ".join(str(obs).split())[:60]  # an array prints on several lines
    return ValueError(f"obs must be numeric with shape {shape}, got {type(obs).__name__} {text}")
