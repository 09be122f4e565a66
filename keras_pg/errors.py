"""Turning exceptions from other people's code into one-line messages."""

from __future__ import annotations


def first_line(exc: BaseException | str, limit: int = 200) -> str:
    """The first line of an exception's message, or of a text (its type's name when it has
    none), at most `limit` characters: enough to say what went wrong in a one-line error."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]
