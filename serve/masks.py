"""Invalid-action masks as callers pass them: checked, with one-line errors.

The contract (serve/contract.json, "action_mask") gives the categorical and multi_categorical
graphs of contract 6 an input `action_mask` bool [batch, P]: true where an action is legal,
P the action size (a MultiDiscrete policy's branches side by side). The graph requires it;
every runtime makes it optional, feeding all true (`AllLegal`) when a call has none.

A caller passes [P] with one observation, [B, P] with a batch of B -- and a MultiDiscrete
policy also one array per branch, [n_i] (or [B, n_i]) -- of true/false or 0/1 (bool, or
numbers that are all 0 or 1). Every row must leave a legal action in every branch.

The messages are the constants below, which the JavaScript package gives word for word
(tests/js_fixtures.py writes Python's into messages.json): shapes print as lists, [B, P].
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, NamedTuple

import numpy as np

from serve import contract

BOOL = np.dtype(bool)
FORM = "action_mask must be true/false or 0/1 of shape {shape} for {what}{per_branch}; got {got}"
NOT_BINARY = ("action_mask must hold true/false or 0/1 only; row {row} has another value at "
              "action {action}")
NO_LEGAL_ACTION = ("action_mask allows no action in row {row}{branch}; every row needs a legal "
                   "action{in_every_branch}")
TAKES_NONE = "this policy takes no action_mask: {why}"
WHY_KIND = ("a {kind} policy's actions are never illegal (masks apply to categorical and "
            "multi_categorical policies); leave action_mask out")
WHY_CONTRACT = ("its file is contract {version}, older than action masks (contract {since}); "
                "re-export it with python -m export to pass one")
WHY_NO_METADATA = "its file has no keras_pg metadata (and no action_mask input)"
WHY_NO_INPUT = ("its file has no action_mask input (metadata action_mask null); re-export it "
                "with python -m export to pass one")
GOT_RAGGED = "nested lists of different lengths"
GOT_NOT_NUMBERS = "values that are neither true/false nor numbers"


def takes_none(kind: str, version: int | None) -> str:
    """TAKES_NONE, saying why a policy of `kind` in a file of contract `version` (None: a file
    without keras_pg metadata) takes no mask: its kind, its contract, or its graph."""
    if version is None:
        why = WHY_NO_METADATA
    elif kind not in contract.MASKED_KINDS:
        why = WHY_KIND.format(kind=kind)
    elif version < contract.MASK_SINCE:
        why = WHY_CONTRACT.format(version=version, since=contract.MASK_SINCE)
    else:
        why = WHY_NO_INPUT
    return TAKES_NONE.format(why=why)


class MaskSpec(NamedTuple):
    """What a policy takes as action masks, in a form that pickles (the HTTP service decodes
    large requests in other processes)."""

    branches: tuple[int, ...] | None
    """The branch sizes of its masks: (n,) for Discrete(n) actions, nvec for MultiDiscrete;
    None when it takes none."""
    refusal: str
    """`takes_none`'s message, for a mask given to a policy that takes none."""

    def read(self, mask: Any, rows: int, single: bool) -> np.ndarray | None:
        """`as_masks` of a given mask; None for none given; ValueError(`refusal`) for a mask
        given to a policy that takes none."""
        if mask is None:
            return None
        if self.branches is None:
            raise ValueError(self.refusal)
        return as_masks(mask, self.branches, rows, single)


def mask_spec(kind: str, metadata: dict[str, Any], action_space: dict[str, Any]) -> MaskSpec:
    """The MaskSpec of a policy of `kind` acting in `action_space` whose file has
    `metadata` (its keras_pg metadata, checked; {} for a file without)."""
    size = contract.mask_size(metadata)
    branches = None if size is None else tuple(action_space.get("nvec", [size]))
    return MaskSpec(branches, takes_none(kind, metadata.get(contract.CONTRACT_VERSION_KEY)))


def as_masks(mask: Any, branches: tuple[int, ...], rows: int, single: bool) -> np.ndarray:
    """bool [rows, P] (P = sum(branches)): `mask` for `rows` observations, or a ValueError in
    one line saying what was expected.

    Args:
        mask: [P] for one observation (`single`), [rows, P] for a batch (arrays, lists);
            for several branches also a list or tuple of one [n_i] (or [rows, n_i]) per
            branch. true/false, or numbers that are all 0 or 1.
        branches: the branch sizes: (n,) for Discrete(n) actions, nvec for MultiDiscrete.
        rows: the observations' batch size (1 for one).
        single: whether one observation was given (not a batch).
    """
    size = sum(branches)
    if type(mask) is not np.ndarray or mask.shape != ((size,) if single else (rows, size)):
        mask = _as_bool(mask, branches, rows, single)
    elif mask.dtype is not BOOL:  # act's usual case, bool, as it is; an env's int8 as bool
        mask = mask.view(BOOL) if _binary_bytes(mask) else _as_bool(mask, branches, rows,
                                                                      single)
    masks = mask.reshape(rows, size)
    stuck = first_stuck(masks, branches)
    if stuck is not None:
        row, branch = stuck
        raise ValueError(NO_LEGAL_ACTION.format(
            row=row, branch=f" (branch {branch})" if len(branches) > 1 else "",
            in_every_branch=" in every branch" if len(branches) > 1 else ""))
    return masks


def _binary_bytes(mask: np.ndarray) -> bool:
    """Whether `mask` is int8 or uint8 of 0s and 1s (an env's mask, as it comes), whose bytes
    are then bool's: a byte check, ~0.3 µs for one observation where numpy's comparisons
    and cast take ~5 µs."""
    return (mask.dtype.itemsize == 1 and mask.dtype.kind in "iu"
            and not mask.tobytes().translate(None, b"\x00\x01"))


def _as_bool(mask: Any, branches: tuple[int, ...], rows: int, single: bool) -> np.ndarray:
    """`mask` as bool of the expected shape (not yet checked for legal actions)."""
    expected = [*([] if single else [rows]), sum(branches)]

    def form_error(got: str) -> ValueError:
        return ValueError(FORM.format(
            shape=_dims(expected), what="one observation" if single else f"a batch of {rows}",
            per_branch=_per_branch_text(branches, expected[:-1]), got=got))

    array = _per_branch(mask, branches, expected[:-1])
    try:
        array = np.asarray(mask) if array is None else array
    except ValueError:  # numpy's refusal of a ragged nested list
        raise form_error(GOT_RAGGED) from None
    if array.dtype.kind not in "biuf":
        raise form_error(GOT_NOT_NUMBERS)
    if list(array.shape) != expected:
        raise form_error(f"shape {_dims(array.shape)}")
    if array.dtype is BOOL:
        return array
    binary = (array == 0) | (array == 1)
    if not binary.all():
        row, action = np.argwhere(~binary.reshape(rows, -1))[0]
        raise ValueError(NOT_BINARY.format(row=row, action=action))
    return array != 0


def _per_branch(mask: Any, branches: tuple[int, ...], batch: list[int]) -> np.ndarray | None:
    """A mask given as one array per branch, joined ([n_i] or [rows, n_i] each, as `batch`
    says); None when `mask` is not in that form (then it is one array)."""
    if (len(branches) == 1 or not isinstance(mask, list | tuple)
            or len(mask) != len(branches)):
        return None
    try:
        parts = [np.asarray(part) for part in mask]
    except ValueError:
        return None
    if any(part.dtype.kind not in "biuf" or list(part.shape) != [*batch, n]
           for part, n in zip(parts, branches, strict=True)):
        return None
    return np.concatenate(parts, axis=-1)


def _per_branch_text(branches: tuple[int, ...], batch: list[int]) -> str:
    if len(branches) == 1:
        return ""
    shapes = [_dims([*batch, n]) for n in branches]
    return f" (or one per branch: {', '.join(shapes[:-1])} and {shapes[-1]})"


def _dims(shape: Any) -> str:
    """[3, 8]: a shape as JavaScript prints one too."""
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def first_stuck(masks: np.ndarray, branches: tuple[int, ...]) -> tuple[int, int] | None:
    """(row, branch) of the first row of masks bool [B, P] that allows no action in some
    branch; None when every row allows one in every branch."""
    if len(masks) == 1:  # one observation, act's usual case: 0.1 µs as bytes, 3 µs in numpy
        raw = masks.tobytes()
        if len(branches) == 1:
            return None if raw.strip(b"\x00") else (0, 0)
        bounds = _bounds(branches)
        for branch in range(len(branches)):
            if not raw[bounds[branch]:bounds[branch + 1]].strip(b"\x00"):
                return 0, branch
        return None
    legal = np.logical_or.reduceat(masks, _bounds(branches)[:-1], axis=1)
    if legal.all():
        return None
    row, branch = np.argwhere(~legal)[0]
    return int(row), int(branch)


@functools.cache
def _bounds(branches: tuple[int, ...]) -> list[int]:
    """Where each branch starts in a mask row, and where the last ends."""
    return list(itertools.accumulate(branches, initial=0))


class AllLegal:
    """All-true masks bool [rows, size] for calls without one: views of one read-only array,
    doubled when a larger batch comes, so that such a call costs a slice."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._ones = _read_only(np.ones((1, size), BOOL))

    def __call__(self, rows: int) -> np.ndarray:
        ones = self._ones
        if len(ones) < rows:  # threads may both grow it: either array serves
            ones = self._ones = _read_only(np.ones((max(rows, 2 * len(ones)), self.size), BOOL))
        return ones[:rows]


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
