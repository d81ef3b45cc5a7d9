"""The ``tessera`` command in a temporary working directory, on each backend.

The backend reaches the command the way an operator would point it at PostgreSQL: through
``TESSERA_STORAGE__URL`` and ``TESSERA_STORAGE__SCHEMA_NAME``, which override the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from cli_harness import Tessera


@pytest.fixture
def tessera(backend: str, storage_kwargs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tessera:
    for name in list(os.environ):
        if name.startswith("TESSERA_") and name != "TESSERA_TEST_POSTGRES":
            monkeypatch.delenv(name)
    storage = storage_kwargs.get("storage", {})
    if "url" in storage:
        monkeypatch.setenv("TESSERA_STORAGE__URL", storage["url"])
        monkeypatch.setenv("TESSERA_STORAGE__SCHEMA_NAME", storage["schema_name"])
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    return Tessera(home, backend)
