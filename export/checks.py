"""The checks of an export request that need no TensorFlow: the source path, the output path
and the opset. `python -m export` runs them before importing TensorFlow, so that a mistake
is reported at once; `to_onnx` and `export_policy` run the same ones.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

from export.errors import ExportError

MIN_OPSET = 13
# The newest opset tf2onnx 1.17 writes (max of tf2onnx.constants.OPSET_TO_IR_VERSION; a test
# checks it), hard-coded so that the opset is checked before TensorFlow is imported.
MAX_OPSET = 18
DEFAULT_OPSET = 17
ONNX_FILE = "policy.onnx"
KERAS_CONFIG = "config.json"  # the architecture, in every zip keras.Model.save writes


def check_opset(opset: int) -> None:
    if isinstance(opset, bool) or not isinstance(opset, int) or not (
            MIN_OPSET <= opset <= MAX_OPSET):
        raise ExportError(f"unsupported opset {opset!r}; expected {MIN_OPSET} to {MAX_OPSET}")


def check_source(source: Path) -> None:
    """A run directory, or a readable .keras file, must exist."""
    if not source.exists():
        raise ExportError(f"{source} not found; expected a run directory or a .keras file")
    if not source.is_dir():
        check_keras_file(source)


def default_output(source: Path) -> Path:
    """RUN_DIR/policy.onnx, for a run directory or a model file inside one."""
    return (source if source.is_dir() else source.parent) / ONNX_FILE


def check_writable(path: Path) -> None:
    """Fail before any work if the .onnx file `path` cannot be written."""
    if path.suffix != ".onnx":
        raise ExportError(f"output {path} should end in .onnx")
    if path.is_dir():
        raise ExportError(f"output {path} is a directory; expected a file path")
    check_writable_directory(path, path.parent)


def check_writable_directory(path: Path, directory: Path) -> None:
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write {path}: {directory} is not a writable directory")


def check_keras_file(path: Path) -> None:
    """Fail in one line, saying why, unless `path` is a readable zip with what Keras saves
    (Keras itself reports an unreadable file as "File not found")."""
    def unreadable(why: str) -> ExportError:
        return ExportError(f"{path} is not a readable .keras file: {why}; expected the zip "
                           "archive keras.Model.save writes (re-save or retrain the model)")

    if path.suffix != ".keras":
        raise ExportError(f"{path} is not a .keras file; expected a run directory or a .keras "
                          "file")
    if path.is_dir():
        raise unreadable("it is a directory")
    if not os.access(path, os.R_OK):
        raise unreadable("permission denied")
    try:
        with zipfile.ZipFile(path) as archive:
            missing = KERAS_CONFIG not in archive.namelist()
            corrupt = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError):
        size = path.stat().st_size
        raise unreadable("the file is empty" if size == 0 else
                         f"its {size:,} bytes are not a zip archive (truncated or corrupted?)"
                         ) from None
    if corrupt is not None:
        raise unreadable(f"its entry {corrupt} is corrupted (CRC mismatch)")
    if missing:
        raise unreadable(f"the zip archive has no {KERAS_CONFIG}")
