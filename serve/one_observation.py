"""Greedy `act` on one observation through buffers bound to the session once (onnxruntime
I/O binding): OnnxPolicy's fast path."""

from __future__ import annotations

import math
import threading
from itertools import accumulate
from typing import Any

import numpy as np
import onnxruntime as ort

from serve import contract
from serve.finite import not_finite
from serve.observations import FLOAT32, NOT_FINITE, part_message
from serve.state import STATE_NOT_FINITE

OUTPUT_DTYPES: dict[str, np.dtype] = {"tensor(float)": FLOAT32,
                                      "tensor(int64)": np.dtype(np.int64)}
"""The output dtypes `act` binds buffers for (serve/contract.py's, and a caller's float)."""
ALIGN = 4  # float32 values: the arrays sharing OneObservation.floats start 16-byte aligned


class OneObservation:
    """Greedy `act` on one observation through buffers bound to the session once (onnxruntime
    I/O binding): per call, the observation (each part) copied in, and no feed dict, output
    arrays or separate checks to make.

    The float32 values `act` checks -- the float32 inputs, and the outputs checked (the
    distribution, or a deterministic policy's action) -- are views of one buffer, so one
    all_finite over it finds any NaN or inf; only then are they looked at one by one, the
    observation first, for the error to raise. (The model has then run on a non-finite
    observation: harmless, and refused with the same message as before a run.)

    Not reentrant: callers hold it with `acquire(False)` and take the other path when it is
    busy.
    """

    views: dict[str, np.ndarray]
    """Each input's one row [*shape] (a view of its [1, *shape] buffer), by input name."""
    outputs: list[np.ndarray]
    """The outputs fetched, [1, ...] each."""
    action: Any
    """The first output: int64 [1] (`item(0)`, a Python int) or [1, k], or float32 [1, d]."""

    def __init__(self, session: ort.InferenceSession,
                 inputs: list[tuple[str, tuple[int, ...], np.dtype]],
                 outputs: list[tuple[str, np.dtype, tuple[int, ...], bool]],
                 categorical: bool, structured: bool) -> None:
        self.categorical, self.structured = categorical, structured
        # (dtype, shape, checked) of each input, then of each output (name, dtype, shape,
        # checked)
        arrays = [*((dtype, (1, *shape), dtype is FLOAT32) for _, shape, dtype in inputs),
                  *(o[1:] for o in outputs)]
        shared = [math.prod(dims) if checked and kind is FLOAT32 else 0
                  for kind, dims, checked in arrays]
        starts = list(accumulate((-(-size // ALIGN) * ALIGN for size in shared), initial=0))
        self.floats = np.zeros(starts[-1], FLOAT32)
        buffers = [self.floats[start:start + size].reshape(dims) if size else np.zeros(dims, kind)
                   for (kind, dims, _), size, start in zip(arrays, shared, starts[:-1],
                                                            strict=True)]
        self.batches = dict(zip((name for name, _, _ in inputs), buffers, strict=False))
        self.outputs = buffers[len(inputs):]
        # The rows act writes: views of the inputs' [1, *shape] buffers; a recurrent
        # policy's state apart from the observation's, and its next state the last output.
        self.views = {name: batch.reshape(batch.shape[1:]) for name, batch in self.batches.items()}
        self.state = self.views.pop(contract.STATE, None)
        # A policy's action mask apart too: all true unless a call gives one (`put_mask`).
        self.mask = self.views.pop(contract.ACTION_MASK, None)
        if self.mask is not None:
            self.mask[...] = True
        self.masked = False
        self.next_state = self.outputs[-1]
        first = next(iter(self.views.values()))  # the one input's, unstructured
        self.observation, self.shape, self.dtype = first, first.shape, first.dtype
        self.action = self.outputs[0]
        self.checked = [(name, array) for (name, _, _, check), array
                        in zip(outputs, self.outputs, strict=True) if check]
        # OrtValues on the arrays' memory (kept alive with them): onnxruntime reads the inputs
        # from `batches` and writes the outputs into `outputs`.
        self.ort_values = [ort.OrtValue.ortvalue_from_numpy(a) for a in buffers]
        self.binding = session.io_binding()
        for name, value in zip(self.batches, self.ort_values, strict=False):
            self.binding.bind_ortvalue_input(name, value)
        for (name, *_), value in zip(outputs, self.ort_values[len(inputs):], strict=True):
            self.binding.bind_ortvalue_output(name, value)
        self.run = session.run_with_iobinding
        lock = threading.Lock()
        self.acquire, self.release = lock.acquire, lock.release

    @classmethod
    def bind(cls, session: ort.InferenceSession,
             inputs: list[tuple[str, tuple[int, ...], np.dtype]], fetch: list[str],
             checked: range, categorical: bool, structured: bool) -> OneObservation | None:
        """Buffers for `inputs` (name, shape, dtype) and `fetch` (`checked`: the indices of
        those checked for NaN and inf), or None -- `act` then takes its other path -- when an
        output's dtype is not one of OUTPUT_DTYPES or its size at batch 1 is not in the
        graph, or a run on zeros fails (e.g. an output whose shape is not the one the graph
        declares)."""
        nodes = {node.name: node for node in session.get_outputs()}
        outputs = []
        for i, name in enumerate(fetch):
            node = nodes[name]
            dims = node.shape[1:] if node.shape else None
            if (node.type not in OUTPUT_DTYPES or dims is None
                    or not all(isinstance(d, int) and d >= 1 for d in dims)):
                return None
            outputs.append((name, OUTPUT_DTYPES[node.type], (1, *dims), i in checked))
        one = cls(session, inputs, outputs, categorical, structured)
        try:
            one.run(one.binding)
        except Exception:  # onnxruntime raises its own types
            return None
        return one

    def put_mask(self, row: np.ndarray | None) -> None:
        """Copy a call's checked action mask [P] in; None: all legal (refilled only after a
        call that gave one)."""
        if row is not None:
            self.mask[...] = row  # type: ignore[index]  # only policies of masks get rows
            self.masked = True
        elif self.masked:
            self.mask[...] = True  # type: ignore[index]
            self.masked = False

    def raise_not_finite(self) -> None:
        """The error `act` raises when `floats` holds a NaN or inf: the observation's first
        (the part's, of a structured one), then the outputs' in fetch order (the checks and
        messages of the other path)."""
        for name, batch in self.batches.items():
            if batch.dtype is FLOAT32 and not np.isfinite(batch).all():
                if name == contract.STATE:
                    raise ValueError(STATE_NOT_FINITE)
                raise ValueError(part_message(name, NOT_FINITE) if self.structured
                                 else NOT_FINITE)
        for name, value in self.checked:
            if not np.isfinite(value).all():
                raise not_finite(name, value, self.batches)
