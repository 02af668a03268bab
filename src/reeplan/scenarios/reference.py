"""The scenario reference, generated from the pydantic schema.

Every key, its type, default and meaning.

``python -m reeplan.scenarios.reference > docs/scenarios.md`` regenerates the shipped
file; a test checks that it is up to date.
"""

from __future__ import annotations

import ast
import inspect
import sys
import types
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from reeplan.scenarios.spec import Scenario
from reeplan.types import PARTNER_IDS

__all__ = ["scenario_reference"]

_PARTNERS = {"CHN": "China", "WEST": "the states sanctioning Russia (order 430-r) and their "
                                    "allies: the EU, the USA, the UK, Japan, Korea, ...",
             "OTHER": "every other country, e.g. third countries such as Kazakhstan, the "
                      "UAE or Turkey that resell Chinese material"}

_INTRO = """# Scenario reference

Generated from the schema in `src/reeplan/scenarios/spec.py` by
`python -m reeplan.scenarios.reference`; do not edit by hand.

A scenario is a YAML file (YAML 1.2: no anchors, aliases, tags or duplicate keys; at most
50 levels deep and 1 MB). A variant names its base with `extends:`; mappings merge key by
key, an empty mapping `{}` clears the base's, everything else replaces. Numbers are
strict (no `true` or `"3000"`) and finite, at most 1e12 in size. Every figure names a
`source`: a source, assumption or claim id of the fact base (`reeplan data sources`,
`reeplan data assumptions`). Units are in the key names: `_t` tonnes per year, `_usd_per_t`
US dollars per tonne, `_usd_per_tpa` US dollars per tonne of annual capacity,
`_musd_per_year` millions of US dollars a year, `_years` years.

Partners (`policy.partners.<id>`):
"""


_SIMPLE = {"float": "number", "int": "integer", "str": "text", "bool": "true/false"}


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    names: dict[Any, Any] = {
        typing.Annotated: lambda: _type_name(args[0]),
        typing.Literal: lambda: " \\| ".join(f"`{a}`" for a in args),
        typing.Union: lambda: " or ".join(_type_name(a) for a in args
                                          if a is not type(None)) + " (optional)",
        list: lambda: f"list of {_type_name(args[0])}",
        dict: lambda: f"mapping of {_type_name(args[0])} to {_type_name(args[1])}",
    }
    names[types.UnionType] = names[typing.Union]
    if origin in names:
        return str(names[origin]())
    if isinstance(annotation, type):
        return _SIMPLE.get(annotation.__name__, annotation.__name__)
    return str(annotation)


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{value!r}`" if value not in (None, "", [], {}) else "none"


def _models(model: type[BaseModel], prefix: str, out: list[tuple[str, type[BaseModel]]],
            seen: set[type[BaseModel]]) -> None:
    out.append((prefix, model))
    for name, field in model.model_fields.items():
        for arg in [field.annotation, *typing.get_args(field.annotation)]:
            for inner in [arg, *typing.get_args(arg)]:
                if isinstance(inner, type) and issubclass(inner, BaseModel) and \
                        inner not in seen:
                    seen.add(inner)
                    key = f"{prefix}.{name}" if prefix else name
                    if typing.get_origin(field.annotation) is dict:
                        key += ".<id>"
                    elif typing.get_origin(field.annotation) is list:
                        key += "[]"
                    _models(inner, key, out, seen)


@cache
def _module_docs(module: str) -> dict[tuple[str, str], str]:
    """Attribute docstrings of a module's classes: (class, attribute) -> the string after it.

    Read from the source once here, for the reference only: pydantic's
    ``use_attribute_docstrings`` would parse the module's source again for every model at
    import, on every run of the CLI.
    """
    tree = ast.parse(inspect.getsource(sys.modules[module]))
    docs: dict[tuple[str, str], str] = {}
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        for stmt, after in zip(cls.body, cls.body[1:], strict=False):
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) \
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) \
                    and isinstance(after.value.value, str):
                docs[(cls.name, stmt.target.id)] = inspect.cleandoc(after.value.value)
    return docs


def _meaning(model: type[BaseModel], name: str, field: FieldInfo) -> str:
    """What a field means: its description, else its attribute docstring (first in MRO)."""
    if field.description:
        return field.description
    for cls in model.__mro__:
        found = _module_docs(cls.__module__).get((cls.__name__, name)) \
            if cls.__module__ in sys.modules and issubclass(cls, BaseModel) else None
        if found:
            return found
    return ""


def scenario_reference() -> str:
    """The scenario reference as Markdown."""
    lines = [_INTRO]
    lines += [f"- `{p}`: {_PARTNERS[p]}" for p in PARTNER_IDS]
    found: list[tuple[str, type[BaseModel]]] = []
    _models(Scenario, "", found, {Scenario})
    for prefix, model in found:
        title = f"`{prefix}`" if prefix else "Top level"
        doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        lines += ["", f"## {title}", "", doc, "", "| Key | Type | Default | Meaning |",
                  "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            meaning = " ".join(_meaning(model, name, field).split()).replace("|", "\\|")
            lines.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} "
                         f"| {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(scenario_reference(), end="")
