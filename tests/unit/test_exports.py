"""Each package's ``__init__`` exports exactly its public names (STYLE §2) [httpx test_exported_members].

Every ``__init__.py`` under ``src/tessera`` that declares ``__all__`` is checked: ``__all__`` must equal the set
of public names the file binds (imports, assignments, definitions) and every listed name must exist.
``tessera.protocols.awssts`` has its own, stricter test (tests/unit/protocols/awssts/test_awssts_exports.py).
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import tessera

pytestmark = pytest.mark.unit

ROOT = Path(tessera.__file__).parent
SKIPPED = {"tessera.protocols.awssts"}


def _package_name(init: Path) -> str:
    return ".".join(("tessera", *init.parent.relative_to(ROOT).parts))


def _declares_all(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return True
    return False


def _bound_names(tree: ast.Module) -> set[str]:
    """Names the module's top level binds, as a reader sees them."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            if node.module == "__future__":
                continue
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _is_public(name: str) -> bool:
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__") and name != "__all__")


PACKAGES = sorted(
    _package_name(init)
    for init in ROOT.rglob("__init__.py")
    if _declares_all(ast.parse(init.read_text(encoding="utf-8"))) and _package_name(init) not in SKIPPED
)


def test_packages_are_found() -> None:
    assert "tessera" in PACKAGES
    assert "tessera.protocols.oauth2" in PACKAGES


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_exactly_the_public_names(package: str) -> None:
    module = importlib.import_module(package)
    source = inspect.getsource(module)
    public = {name for name in _bound_names(ast.parse(source)) if _is_public(name)}
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{package}.__all__ lists a name twice"
    assert set(exported) == public, f"{package}: missing {public - set(exported)}, extra {set(exported) - public}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_exists(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.__all__ names {name!r}, which does not exist"


@pytest.mark.parametrize("package", PACKAGES)
def test_star_import_gives_exactly_all(package: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {package} import *", namespace)
    namespace.pop("__builtins__", None)
    assert set(namespace) == set(importlib.import_module(package).__all__)


def test_a_package_that_binds_public_names_declares_all() -> None:
    """A docstring-only ``__init__`` needs no ``__all__``; one that re-exports anything does."""
    offenders = []
    for init in ROOT.rglob("__init__.py"):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        if not _declares_all(tree) and {n for n in _bound_names(tree) if _is_public(n)}:
            offenders.append(_package_name(init))
    assert offenders == []
