"""Reference pages generated from the code, so that they cannot drift from it.

``docs/configuration.md`` comes from ``tessera.settings.Settings`` (every key, its type, default,
environment variable and description); ``docs/events.md`` comes from the audit event types
(``AuditAction``, ``ACTION_DOCS``, ``FIELD_DOCS``). Rewrite them with
``python -m tessera.reference_docs`` (or the hidden ``tessera docs``); ``--check`` only reports
stale files, and a test fails when a committed page differs from what this module generates.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, SecretStr, TypeAdapter
from pydantic.fields import FieldInfo

from tessera.domain.audit import ACTION_DOCS, FIELD_DOCS, AuditAction, AuditEvent
from tessera.settings import Settings

REGENERATE = "python -m tessera.reference_docs"
_HTML_LIKE = re.compile(r"<(?=[A-Za-z_/!?])")  # what Markdown would read as the start of an HTML tag
_SIMPLE_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Path: "path",
    timedelta: "duration",
    SecretStr: "secret string",
}
_BOUNDS: tuple[tuple[type[annotated_types.BaseMetadata], str, str], ...] = (
    (annotated_types.Ge, "ge", ">="),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "<="),
    (annotated_types.Lt, "lt", "<"),
)

_CONFIGURATION_INTRO = """\
Tessera reads its configuration from, in order of precedence:

1. environment variables: `TESSERA_` followed by the key, with `__` between nested keys
   (`TESSERA_SERVER__PORT=9000`, `TESSERA_STORAGE__URL=...`, `TESSERA_KEYS__KEK=...`); a whole
   section or list can be given as JSON (`TESSERA_TENANTS='[{"id": "default"}]'`);
2. the TOML file named by `--config` or `TESSERA_CONFIG`, else `./tessera.toml` when it exists
   (`tessera init` writes a commented one);
3. the defaults below.

Every value is validated when a command or the server starts; an invalid one stops it with a
message naming the key, for example `invalid configuration: server.port: Input should be less
than or equal to 65535`. Durations are ISO 8601 (`PT15M`) or a number of seconds.

The `[[tenants]]` tables are the declarative bootstrap: the tenants, scopes and clients listed
there are reconciled at every start and by `tessera apply` (`tessera apply --dry-run` prints the
difference first). Declared objects that leave the file are deleted; objects created with the
CLI are left alone unless the file declares the same id, which takes them over.
"""

_EVENTS_INTRO = """\
Tessera records an audit event for every client authentication, every token it issues,
introspects or revokes, and every administrative change (clients, tenants, scopes, keys). A
request's events are durable before its response is sent; the trail is append-only.

`tessera audit tail` and `tessera audit search` print events as JSON lines with the field names
below, plus `sequence` (the event's position in the trail); empty fields are left out.
"""


# configuration.md ---------------------------------------------------------------------------------
@dataclasses.dataclass
class _Section:
    heading: str
    text: list[str]
    env_prefix: str | None  # None inside arrays of tables: their items have no variables of their own
    rows: list[tuple[str, FieldInfo]] = dataclasses.field(default_factory=list)


def configuration_markdown() -> str:
    """``docs/configuration.md``: every key of ``Settings``."""
    lines = [
        "# Configuration reference",
        "",
        _generated_note("tessera.settings.Settings"),
        "",
        _CONFIGURATION_INTRO,
    ]
    for section in _sections(Settings, "", "TESSERA_", None):
        lines += _render_section(section)
    return "\n".join(lines).rstrip() + "\n"


def _sections(
    model: type[BaseModel], table: str, env_prefix: str | None, owner: FieldInfo | None
) -> Iterator[_Section]:
    section = _Section(_heading(table, owner), _section_text(model, owner), env_prefix)
    children: list[_Section] = []
    for name, info in model.model_fields.items():
        key = f"{table}.{name}" if table else name
        nested, items = _model_type(info.annotation), _list_item_model(info.annotation)
        if nested is not None:
            children += _sections(nested, key, f"{env_prefix}{name.upper()}__" if env_prefix else None, info)
        elif items is not None:
            children += _sections(items, key, None, info)
        else:
            section.rows.append((name, info))
    yield section
    yield from children


def _heading(table: str, owner: FieldInfo | None) -> str:
    if not table:
        return "Top level"
    is_array = owner is not None and _list_item_model(owner.annotation) is not None
    return f"`[[{table}]]`" if is_array else f"`[{table}]`"


def _section_text(model: type[BaseModel], owner: FieldInfo | None) -> list[str]:
    text = _paragraphs(model.__doc__ or "")
    if owner is not None and owner.description:
        text.append(owner.description)
    if (
        owner is not None
        and _list_item_model(owner.annotation) is not None
        and owner.get_default(call_default_factory=True)
    ):
        text.append(f"Default: {_default(owner)}.")
    return text


def _render_section(section: _Section) -> list[str]:
    lines = [f"## {section.heading}", "", *[_HTML_LIKE.sub("&lt;", t) + "\n" for t in section.text]]
    if not section.rows:
        return lines
    lines += ["| Key | Type | Default | Environment variable | Description |", "|---|---|---|---|---|"]
    for name, info in section.rows:
        env = f"`{section.env_prefix}{name.upper()}`" if section.env_prefix else "-"
        cells = (f"`{name}`", _type_of(info), _default(info), env, info.description or "")
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return [*lines, ""]


def _model_type(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) is list:
        return _model_type(get_args(annotation)[0])
    return None


def _type_of(info: FieldInfo) -> str:
    bounds = [
        f"{symbol} {getattr(item, attr)}"
        for item in info.metadata
        for kind, attr, symbol in _BOUNDS
        if isinstance(item, kind)
    ]
    return ", ".join([_type_name(info.annotation), *bounds])


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        name = " or ".join(_type_name(a) for a in present)
        return f"{name} (optional)" if len(present) < len(args) else name
    if origin is Literal:
        return "one of " + ", ".join(f"`{json.dumps(a)}`" for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return "table"
    return _SIMPLE_TYPES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    annotation: Any = info.annotation
    dumped = TypeAdapter(annotation).dump_python(value, mode="json", exclude_defaults=True)
    return f"`{_toml_value(dumped)}`"


def _toml_value(value: Any) -> str:
    """A JSON-mode value as an inline TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)


# events.md ----------------------------------------------------------------------------------------
def events_markdown() -> str:
    """``docs/events.md``: the audit catalogue."""
    lines = ["# Audit events", "", _generated_note("tessera.domain.audit"), "", _EVENTS_INTRO, "## Fields", ""]
    lines += ["| Field | Present | Description |", "|---|---|---|"]
    annotations = {f.name: str(f.type) for f in dataclasses.fields(AuditEvent)}
    for name in [*FIELD_DOCS, *(n for n in annotations if n not in FIELD_DOCS)]:
        present = "when applicable" if "None" in annotations.get(name, "") else "always"
        lines.append(f"| `{name}` | {present} | {_cell(FIELD_DOCS.get(name, '(undocumented)'))} |")
    lines += ["", "## Events", "", "| Action | When emitted |", "|---|---|"]
    for action in AuditAction:
        lines.append(f"| `{action.value}` | {_cell(ACTION_DOCS.get(action, '(undocumented)'))} |")
    return "\n".join(lines) + "\n"


# Shared -------------------------------------------------------------------------------------------
def _generated_note(source: str) -> str:
    return f"<!-- Generated from {source} by `{REGENERATE}`: edit the code, not this file. -->"


def _paragraphs(doc: str) -> list[str]:
    return [" ".join(p.split()) for p in inspect.cleandoc(doc).split("\n\n") if p.strip()]


def _cell(text: str) -> str:
    """Table-cell safe: no pipes, no newlines, no ``<word>`` that Markdown would take for HTML."""
    return _HTML_LIKE.sub("&lt;", text.replace("|", "\\|").replace("\n", " "))


REFERENCE_DOCS: dict[str, Callable[[], str]] = {
    "configuration.md": configuration_markdown,
    "events.md": events_markdown,
}


def stale_reference_docs(directory: Path) -> list[Path]:
    """The pages under ``directory`` that are missing or differ from the generated text."""
    stale = []
    for name, generate in REFERENCE_DOCS.items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != generate():
            stale.append(path)
    return stale


def write_reference_docs(directory: Path) -> list[Path]:
    """Rewrite the stale pages under ``directory``; returns them."""
    stale = stale_reference_docs(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_text(REFERENCE_DOCS[path.name](), encoding="utf-8")
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tessera.reference_docs", description=__doc__)
    parser.add_argument("directory", nargs="?", default="docs", type=Path, help="Where the pages live (docs).")
    parser.add_argument("--check", action="store_true", help="Report stale pages; write nothing.")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_reference_docs(args.directory)
        for path in stale:
            print(f"{path} is stale: run {REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_reference_docs(args.directory):
        print(f"wrote {path}", file=sys.stderr)
    return 0


__all__ = [
    "REFERENCE_DOCS",
    "configuration_markdown",
    "events_markdown",
    "main",
    "stale_reference_docs",
    "write_reference_docs",
]

if __name__ == "__main__":
    raise SystemExit(main())
