"""griffe extensions for the API reference (mkdocs.yml: mkdocstrings' `extensions`).

The reference is read from the sources (static analysis), so what a module only does at run
time is taught here:

- LazyNames: `export/__init__.py` loads `to_onnx` and the other names that need TensorFlow on
  first access (PEP 562 `__getattr__`, driven by a `_LAZY = {name: module}` dict); each is
  added as an alias of its definition, so `::: export` documents `export.to_onnx`.
- FieldHelp: `keras_pg.Config`'s fields carry their help text in `_doc("...")`, not in a
  docstring; it becomes their docstring, and the field's default its value.
- PlainBrackets: shapes in docstrings stay text.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

LAZY = "_LAZY"
REFERENCE_LINK = re.compile(r"\] \[")


class LazyNames(griffe.Extension):
    def on_module_members(self, *, mod: griffe.Module, **kwargs: Any) -> None:
        lazy = mod.members.get(LAZY)
        if lazy is None or lazy.is_alias or lazy.value is None:
            return
        try:
            names = ast.literal_eval(str(lazy.value))
        except (ValueError, SyntaxError):
            return
        for name, module in names.items():
            if name not in mod.members:
                mod.set_member(name, griffe.Alias(name, f"{module}.{name}", parent=mod))


class PlainBrackets(griffe.Extension):
    """Shapes in docstrings stay text: `[mean, log_std] [B, 2d]` would be a Markdown
    reference link (text, then a label), so the second bracket is escaped."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = REFERENCE_LINK.sub(r"] \\[", obj.docstring.value)


class FieldHelp(griffe.Extension):
    """A dataclass field declared as `name: T = _doc("help text", default=...)` (keras_pg's
    Config: the help text the command line shows) gets that text as its docstring, and its
    default as its value."""

    def on_attribute_instance(self, *, attr: griffe.Attribute, **kwargs: Any) -> None:
        value = attr.value
        if attr.docstring is not None or not isinstance(value, griffe.ExprCall):
            return
        if str(value.function) != "_doc" or not value.arguments:
            return
        try:
            text = ast.literal_eval(str(value.arguments[0]))
        except (ValueError, SyntaxError):
            return
        if isinstance(text, str):
            attr.docstring = griffe.Docstring(text[0].upper() + text[1:] + ".", parent=attr)
        for argument in value.arguments:
            if isinstance(argument, griffe.ExprKeyword) and argument.name == "default":
                attr.value = argument.value
