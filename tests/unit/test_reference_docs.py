"""docs/configuration.md and docs/events.md are generated from the code and must not go stale."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import get_args, get_origin

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tessera import reference_docs
from tessera.domain.audit import ACTION_DOCS, FIELD_DOCS, AuditAction, AuditEvent
from tessera.settings import Settings

pytestmark = pytest.mark.unit

DOCS = Path(__file__).resolve().parents[2] / "docs"
HOW_TO_REGENERATE = "run `python -m tessera.reference_docs` (or `tessera docs`) and commit the result"


@pytest.mark.parametrize("name", sorted(reference_docs.REFERENCE_DOCS))
def test_the_committed_page_is_what_the_code_generates(name: str) -> None:
    path = DOCS / name
    assert path.is_file(), f"docs/{name} is missing: {HOW_TO_REGENERATE}"
    generated = reference_docs.REFERENCE_DOCS[name]()
    assert path.read_text(encoding="utf-8") == generated, f"docs/{name} is stale: {HOW_TO_REGENERATE}"


def _model(annotation: object) -> type[BaseModel] | None:
    """The model a field holds, directly or as the items of a list."""
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    for name, info in model.model_fields.items():
        nested = _model(info.annotation)
        if nested is not None:
            yield from _fields(nested, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", info


def test_every_setting_is_described() -> None:
    undocumented = [key for key, info in _fields(Settings) if not info.description]
    assert not undocumented, f"give these Settings fields a Field(description=...): {undocumented}"


def test_every_setting_appears_in_the_configuration_page() -> None:
    page = reference_docs.configuration_markdown()
    for key, _ in _fields(Settings):
        assert f"| `{key.rsplit('.', 1)[-1]}` |" in page, key
    for env in ("TESSERA_SERVER__PORT", "TESSERA_STORAGE__URL", "TESSERA_KEYS__KEK", "TESSERA_DATA_DIR"):
        assert f"`{env}`" in page
    for heading in ("`[server]`", "`[storage]`", "`[keys]`", "`[[tenants]]`", "`[[tenants.clients]]`"):
        assert f"## {heading}" in page


def test_the_configuration_page_shows_types_bounds_and_defaults() -> None:
    page = reference_docs.configuration_markdown()
    assert "| `port` | integer, >= 0, <= 65535 | `8000` | `TESSERA_SERVER__PORT` |" in page
    assert '| `algorithm` | one of `"ES256"`, `"RS256"`, `"EdDSA"` | `"ES256"` |' in page
    assert '| `access_token_lifetime` | duration | `"PT15M"` |' in page
    assert "| `client_id` | string | required | - |" in page
    assert 'Default: `[{ id = "default", name = "Default" }]`.' in page


def test_every_audit_action_is_documented() -> None:
    assert set(ACTION_DOCS) == set(AuditAction), "add the new AuditAction to ACTION_DOCS"
    page = reference_docs.events_markdown()
    for action in AuditAction:
        assert f"| `{action.value}` |" in page


def test_every_audit_field_is_documented() -> None:
    assert set(FIELD_DOCS) == {f.name for f in dataclasses.fields(AuditEvent)}
    assert "(undocumented)" not in reference_docs.events_markdown()


def test_angle_brackets_and_pipes_cannot_break_the_tables() -> None:
    page = reference_docs.events_markdown()
    assert "client:&lt;id>" in page
    assert "client:<id>" not in page


def test_write_rewrites_only_stale_pages_and_check_reports_them(tmp_path: Path) -> None:
    assert reference_docs.main(["--check", str(tmp_path)]) == 1
    written = reference_docs.write_reference_docs(tmp_path)
    assert sorted(p.name for p in written) == ["configuration.md", "events.md"]
    assert reference_docs.stale_reference_docs(tmp_path) == []
    assert reference_docs.write_reference_docs(tmp_path) == []
    assert reference_docs.main(["--check", str(tmp_path)]) == 0
    (tmp_path / "events.md").write_text("old\n")
    assert reference_docs.stale_reference_docs(tmp_path) == [tmp_path / "events.md"]


def test_the_hidden_docs_command_writes_and_checks(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tessera.cli.main import cli

    runner = CliRunner()
    assert runner.invoke(cli, ["docs", "--check", str(tmp_path)]).exit_code == 1
    assert runner.invoke(cli, ["docs", str(tmp_path)]).exit_code == 0
    assert runner.invoke(cli, ["docs", "--check", str(tmp_path)]).exit_code == 0
    assert "docs" not in runner.invoke(cli, ["--help"]).output.split("Commands:")[1]
