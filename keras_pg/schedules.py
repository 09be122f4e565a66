"""Schedules: a setting as a function of training progress.

Progress is env steps taken / `max_steps`, in [0, 1] (held at 1 past the budget), so a
schedule depends on nothing but the step count: a resumed run continues it exactly. A
scheduled setting (`SCHEDULED`) is given as

- a number: constant;
- text "START:END": linear from START at progress 0 to END at progress 1
  (`--lr 0.01:0.001`);
- text "module:function", or from Python the function itself: `function(progress) -> value`,
  imported by that name. config.json keeps the name, so the function must be importable
  by it (defined at the top level of a module, not a lambda or a closure).

The value is set before each update (inside the graph backend's compiled iteration too,
through variables) and shown in TensorBoard as `schedule/<setting>`.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable

SCHEDULED = ("lr", "entropy_coef")
"""The Config fields that take a schedule."""

Schedule = Callable[[float], float]
ScheduleSpec = float | int | str | Callable[[float], float]
CHECK_POINTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # where a function's values are checked


class ScheduleError(ValueError):
    """A schedule that cannot be read or imported; the message is one line."""


def schedule_name(spec: ScheduleSpec, setting: str) -> float | str:
    """What config.json keeps of `spec`: a number or text as given, a function's
    "module:qualname" (a ScheduleError when that name does not import it back)."""
    if isinstance(spec, bool):
        raise ScheduleError(f"{setting} must be a number, START:END or a function of "
                            f"progress, got {spec!r}")
    if isinstance(spec, int | float | str):
        return spec
    if not callable(spec):
        raise ScheduleError(f"{setting} must be a number, START:END or a function of "
                            f"progress, got {type(spec).__name__}")
    name = f"{getattr(spec, '__module__', None)}:{getattr(spec, '__qualname__', '?')}"
    try:
        found = _import(name, setting)
    except ScheduleError:
        found = None
    if found is not spec:
        raise ScheduleError(f"{setting}: a schedule function must be importable by its name to "
                            f"be saved in config.json (define it at a module's top level, not "
                            f"as a lambda or closure); {name} is not")
    return name


def make_schedule(spec: float | str, setting: str) -> Schedule:
    """The function of progress of a config value (see the module docstring)."""
    if isinstance(spec, int | float):
        value = float(spec)
        return lambda progress: value
    numbers = [_number(part) for part in spec.split(":")]
    if len(numbers) == 2 and numbers[0] is not None and numbers[1] is not None:
        start, end = numbers[0], numbers[1]
        return lambda progress: start + (end - start) * min(max(progress, 0.0), 1.0)
    if len(numbers) == 1 and numbers[0] is not None:
        constant = numbers[0]
        return lambda progress: constant
    return _import(spec, setting)


def schedule_problem(spec: float | str, setting: str, minimum: float,
                     strict: bool) -> str | None:
    """One line saying why `spec` is not a valid schedule of values > `minimum` (>= unless
    `strict`) over progress in [0, 1], or None."""
    try:
        schedule = make_schedule(spec, setting)
        values = [schedule(p) for p in CHECK_POINTS]
    except ScheduleError as exc:
        return str(exc)
    except Exception as exc:  # the user's function failed
        return f"{setting} schedule {spec!r} failed: {type(exc).__name__}: {exc}"
    relation = ">" if strict else ">="
    for progress, value in zip(CHECK_POINTS, values, strict=True):
        ok = (isinstance(value, int | float) and not isinstance(value, bool)
              and math.isfinite(value) and (value > minimum if strict else value >= minimum))
        if not ok and isinstance(spec, int | float):
            return (f"{setting} must be a positive number, got {spec}" if strict
                    else f"{setting} must be >= {minimum:g}, got {spec}")
        if not ok:
            return (f"{setting} must be {relation} {minimum:g} at every progress in [0, 1]; "
                    f"{spec!r} gives {value!r} at {progress}")
    return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _import(name: str, setting: str) -> Schedule:
    module_name, _, attribute = name.partition(":")
    if not module_name or not attribute:
        raise ScheduleError(f"{setting} must be a number, START:END (e.g. 0.01:0.001) or "
                            f"module:function, got {name!r}")
    try:
        found: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ScheduleError(f"{setting} schedule {name!r} cannot be imported: {exc}") from None
    if not callable(found):
        raise ScheduleError(f"{setting} schedule {name!r} is not a function of progress")
    return found
