"""Files written atomically (a temporary name in the same directory, then a rename) and read
back with one-line errors: the primitives under the run directory and the tune report.

A crash or Ctrl-C never leaves a half-written file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any


class RunDirError(ValueError):
    """The run directory is missing, incomplete or not writable."""


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp_path)` on a temporary file next to `path`, then rename it to `path`.

    The temporary file keeps `path`'s suffix (Keras and matplotlib choose the format by it)
    and is removed if `write` fails.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Atomically replace `path` with `text`."""
    atomic_write(path, lambda tmp: tmp.write_text(text))


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically write `data` as indented JSON."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object, or raise RunDirError naming the file and what is wrong with it."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(f"{path} not found; expected a keras_pg run directory") from None
    except IsADirectoryError:
        raise RunDirError(f"{path} is a directory; expected a JSON file") from None
    except UnicodeDecodeError as exc:
        raise RunDirError(f"{path} is not a JSON text file (byte {exc.start} is not UTF-8)"
                          ) from None
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except OSError as exc:  # permission denied, ...: a file given to read, not one we write
        raise RunDirError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(value, dict):
        raise RunDirError(f"{path} does not hold a JSON object; expected a keras_pg JSON file")
    return value


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A header row and `rows` as CSV text; floats keep full repr precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Atomically write `csv_text(columns, rows)`."""
    write_text(path, csv_text(columns, rows))


def read_csv(path: Path, limit: int | None = None) -> list[tuple[int | float, ...]]:
    """The first `limit` rows (default: all) of a CSV written by `write_csv`, numbers parsed
    (ints stay ints); a row that is incomplete or not numeric is a RunDirError naming it."""
    if not Path(path).exists():
        return []
    with open(path, newline="") as f:
        header, *rows = list(csv.reader(f))
    rows = rows if limit is None else rows[:limit]
    try:
        parsed = [tuple(_number(v) for v in row) for row in rows]
    except ValueError as exc:
        raise RunDirError(f"{path} holds a value that is not a number ({exc})") from None
    for number, row in enumerate(parsed, start=2):
        if len(row) != len(header):
            raise RunDirError(f"{path} line {number} has {len(row)} of {len(header)} columns "
                              f"(an incomplete row)")
    return parsed


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)
