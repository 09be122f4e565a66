"""Command-line flags generated from Config: one per field, with its help and default."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any

from keras_pg.config import NETWORKS, Config, parse_env_kwargs
from keras_pg.schedules import SCHEDULED

FLAG_NAMES = {"env_id": "--env"}
CHOICES = {"network": [n for n in NETWORKS if n != "custom"]}


def _parser_for(annotation: str) -> Callable[[str], Any]:
    """A string -> value parser for a Config field's type annotation."""
    if annotation in SCHEDULED:
        return _schedule
    hint = typing.get_type_hints(Config)[annotation]
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if optional else hint

    def parse(text: str) -> Any:
        if optional and text.lower() == "none":
            return None
        if typing.get_origin(base) is tuple:
            return tuple(int(part) for part in text.split(","))
        if base is dict:  # parsed in given_settings, so a bad value is one line, not usage
            return text
        return base(text)

    parse.__name__ = getattr(base, "__name__", str(base))  # argparse names it in errors
    return parse


def _schedule(text: str) -> float | str:
    """A number, or schedule text (START:END, module:function) that Config checks."""
    try:
        return float(text)
    except ValueError:
        return text


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """A flag per Config field, with its help text and default (None: not given)."""
    for f in dataclasses.fields(Config):
        flag = FLAG_NAMES.get(f.name, "--" + f.name.replace("_", "-"))
        default = (f.default_factory() if f.default_factory is not dataclasses.MISSING
                   else f.default)
        default = ",".join(map(str, default)) if isinstance(default, tuple) else default
        help_text = f"{f.metadata['help']} (default: {default})".replace("%", "%%")
        if isinstance(f.default, bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=None, help=help_text)
        else:
            parser.add_argument(flag, dest=f.name, type=_parser_for(f.name), default=None,
                                choices=CHOICES.get(f.name), help=help_text)


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The Config fields given on the command line (--env-kwargs parsed from JSON)."""
    settings = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)
                if getattr(args, f.name) is not None}
    if "env_kwargs" in settings:
        settings["env_kwargs"] = parse_env_kwargs(settings["env_kwargs"])
    return settings
