"""Drive the ``tessera`` command with click's CliRunner and look into the store it used."""

from __future__ import annotations

import asyncio
import re
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import inspect, select

from tessera.cli.main import cli
from tessera.settings import Settings, load_settings
from tessera.storage.sql import tables
from tessera.storage.sql.store import open_store

TEST_KEK = "dGVzc2VyYS10ZXN0LWtlay0zMi1ieXRlcy1sb25nISE="
OTHER_KEK = "b3RoZXIta2V5LWVuY3J5cHRpb24ta2V5LTMyLWJ5dGU="
SECRET_LINE = re.compile(r"client_secret=(\S+)")


@dataclass
class Tessera:
    """Runs ``tessera ...`` in ``home`` (the working directory) and inspects the store it uses."""

    home: Path
    backend: str

    @property
    def config(self) -> Path:
        return self.home / "tessera.toml"

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str | None] | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=input, env=env)

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self(*args, **kwargs)
        details = "".join(traceback.format_exception(result.exception)) if result.exception else ""
        assert result.exit_code == 0, f"tessera {' '.join(args)}: {result.output}\n{details}"
        return result

    def fails(self, *args: str, lines: int = 1, **kwargs: Any) -> str:
        """Run a command that must fail with a clear message and exit status 1; returns the message."""
        result = self(*args, **kwargs)
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit), f"not a clean exit: {result.exception!r}"
        assert "Traceback" not in result.output
        message = result.stderr.strip().splitlines()
        assert len(message) == lines, result.stderr
        assert message[0].startswith("Error: "), result.stderr
        return "\n".join(message).removeprefix("Error: ")

    def init(self) -> str:
        """``tessera init``; returns the demo client's secret."""
        return secret_of(self.ok("init"))

    def settings(self) -> Settings:
        return load_settings(self.config)

    def edit_config(self, old: str, new: str) -> None:
        text = self.config.read_text()
        assert old in text, old
        self.config.write_text(text.replace(old, new))

    def snapshot(self) -> dict[str, list[str]]:
        """Every row of every table."""
        return asyncio.run(self._rows(None))

    def rows(self, table: str) -> list[dict[str, Any]]:
        return asyncio.run(self._rows(table))[table]  # type: ignore[return-value]

    async def _rows(self, only: str | None) -> dict[str, Any]:
        settings = self.settings()
        store = open_store(settings.database_url(), time.time, connect_args=settings.connect_args())
        try:
            async with store.engine.connect() as conn:
                found: dict[str, Any] = {}
                present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
                for table in (t for t in tables.metadata.sorted_tables if t.name in present):
                    if only is None:
                        found[table.name] = sorted(repr(tuple(r)) for r in (await conn.execute(select(table))).all())
                    elif table.name == only:
                        found[table.name] = [dict(r._mapping) for r in (await conn.execute(select(table))).all()]
                return found
        finally:
            await store.close()


def secret_of(result: Result) -> str:
    match = SECRET_LINE.search(result.stdout)
    assert match, result.output
    return match.group(1)


__all__ = ["OTHER_KEK", "TEST_KEK", "Tessera", "secret_of"]
