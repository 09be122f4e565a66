"""Inference statistics of one model version, as Triton's statistics extension reports them
(`GET /v2/models[/NAME[/versions/V]]/stats`, gRPC ModelStatistics): counts and cumulative
nanoseconds of successful and failed requests, and of their phases.

    queue           waiting for an inference thread
    compute_input   decoding the request into the input batch
    compute_infer   running the model
    compute_output  encoding the response

`inference_count` counts observations (each one in a batch is an inference, as Triton
counts), `execution_count` model runs. A failure is a request the model could not answer
(observations it refuses, a NaN output); one refused before, by validation, counts nowhere,
as in Triton. Every update is one lock away from every other.
"""

from __future__ import annotations

import threading
import time
from typing import Any

PHASES = ("queue", "compute_input", "compute_infer", "compute_output")


class InferenceStats:
    """Thread-safe counters of one model version's requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._durations = {key: [0, 0] for key in ("success", "fail", *PHASES)}
        self._batches: dict[int, dict[str, list[int]]] = {}
        self.inference_count = 0
        self.execution_count = 0
        self.last_inference_ms = 0

    def success(self, batch: int, total_ns: int, phases: dict[str, int]) -> None:
        """A request of `batch` observations answered in `total_ns`, with its `phases`' ns."""
        with self._lock:
            self._add("success", total_ns)
            for phase, ns in phases.items():
                self._add(phase, ns)
            per_batch = self._batches.setdefault(
                batch, {phase: [0, 0] for phase in PHASES[1:]})
            for phase in PHASES[1:]:
                per_batch[phase][0] += 1
                per_batch[phase][1] += phases.get(phase, 0)
            self.inference_count += batch
            self.execution_count += 1
            self.last_inference_ms = time.time_ns() // 1_000_000

    def failure(self, total_ns: int) -> None:
        """A request the model failed to answer, after `total_ns`."""
        with self._lock:
            self._add("fail", total_ns)
            self.last_inference_ms = time.time_ns() // 1_000_000

    def _add(self, key: str, ns: int) -> None:
        self._durations[key][0] += 1
        self._durations[key][1] += ns

    def report(self, name: str, version: str) -> dict[str, Any]:
        """This version's entry of Triton's `model_stats` list (JSON form)."""
        def duration(pair: list[int]) -> dict[str, int]:
            return {"count": pair[0], "ns": pair[1]}

        with self._lock:
            return {
                "name": name, "version": version,
                "last_inference": self.last_inference_ms,
                "inference_count": self.inference_count,
                "execution_count": self.execution_count,
                "inference_stats": {
                    **{key: duration(pair) for key, pair in self._durations.items()},
                    "cache_hit": duration([0, 0]), "cache_miss": duration([0, 0])},
                "batch_stats": [
                    {"batch_size": size, **{phase: duration(pair)
                                            for phase, pair in phases.items()}}
                    for size, phases in sorted(self._batches.items())],
                "response_stats": {},  # per-response statistics: decoupled models only
                "memory_usage": [],
            }
