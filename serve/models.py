"""ServedModel: a named policy whose file may be replaced while it serves.

A replacement (export writes a temporary file and renames it over the old one) is loaded
and checked in full -- the contract (serve/loading.py), the same inputs and outputs as the
policy it replaces, one finite answer to a probe observation -- before one assignment swaps
it in. A request reads `current` once and uses that version throughout, so a swap falls
between requests and none fails. A file that fails a check is refused; the old policy keeps
serving.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from serve.policy import OnnxPolicy, PolicyLoadError
from serve.stats import InferenceStats
from serve.tensors import Signature, signature, wire_signature

Loader = Callable[[Path], OnnxPolicy]


@dataclass(frozen=True)
class ModelVersion:
    """One loaded version of a served model."""

    policy: OnnxPolicy
    number: int
    """1 for the file loaded at start, then one more per swap (in this process)."""
    sha256: str
    """Of the file's bytes: the same file has the same hash in every worker process."""
    loaded_at: str
    """ISO 8601 UTC time."""
    signature: Signature
    """The graph's inputs and outputs."""
    stats: InferenceStats = field(default_factory=InferenceStats, compare=False)

    @functools.cached_property
    def wire(self) -> Signature:
        """The inputs and outputs as the Open Inference Protocol presents them (computed
        once per version, not per request)."""
        return wire_signature(self.signature)

    def describe(self) -> dict[str, str | int]:
        return {"version": self.number, "sha256": self.sha256[:12], "loaded_at": self.loaded_at,
                "path": str(self.policy.path)}


class ServedModel:
    """The model `name`, read from the file `locate()` names (called at every check, so a
    repository's newest version directory is found).

    Raises PolicyLoadError at construction if the first file cannot be served.
    """

    def __init__(self, name: str, locate: Callable[[], Path], load: Loader,
                 loaded: OnnxPolicy | None = None):
        self.name = name
        self._locate, self._load = locate, load
        path = locate()
        seen = _identity(path)
        policy = loaded if loaded is not None else load(path)
        self.current = _version(policy, 1, _sha256(path), None)
        self._seen = seen

    def reload(self) -> ModelVersion | None:
        """Swap in the file if it changed since it was last read and passes the checks.

        Returns the new version, or None when the file is unchanged (or replaced again
        while being read: the next call reads the newer one). Raises PolicyLoadError when
        the new file is refused; that file is not read again until it changes.
        """
        path = self._locate()
        seen = _identity(path)
        if seen == self._seen:
            return None
        error, candidate = None, None
        try:
            candidate = self._read(path)
        except (PolicyLoadError, OSError, ValueError) as exc:
            error = exc
        if _identity(path) != seen:
            return None
        self._seen = seen
        if error is not None:
            raise PolicyLoadError(str(error).splitlines()[0]) from None
        if candidate is not None:
            self.current = candidate  # one reference assignment: atomic for the requests
        return candidate

    def _read(self, path: Path) -> ModelVersion | None:
        """The checked new version in `path` (None: the same bytes as the served file)."""
        digest = _sha256(path)
        if digest == self.current.sha256 and path == self.current.policy.path:
            return None
        return _version(self._load(path), self.current.number + 1, digest, self.current)


def _version(policy: OnnxPolicy, number: int, digest: str,
             previous: ModelVersion | None) -> ModelVersion:
    """A checked ModelVersion: same inputs and outputs as `previous`, and a finite answer
    to a probe (zeros, and a recurrent policy's initial state); PolicyLoadError otherwise."""
    sig = signature(policy.session)
    if previous is not None and sig != previous.signature:
        raise PolicyLoadError(f"{policy.path}: its inputs and outputs {sig.describe()} differ "
                              f"from the served version's {previous.signature.describe()}; "
                              "restart the service to serve a different interface")
    try:  # a recurrent policy's probe is an episode's first step: the initial state
        policy.distribution(policy.zeros(1), None if policy.state_size is None
                            else policy.initial_state(1))
    except Exception as exc:  # onnxruntime raises its own types for a graph that fails to run
        raise PolicyLoadError(f"{policy.path}: a probe observation (zeros) fails: "
                              f"{str(exc).splitlines()[0][:200]}") from None
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return ModelVersion(policy, number, digest, now, sig)


def _identity(path: Path) -> tuple[str, int, int, int] | None:
    """What tells a replaced file: its path, inode, mtime and size (None while missing)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
