"""The layers of the code, checked on every run: the product package's import contract
(import-linter, configured in pyproject.toml) and the tests' own rule that a test module
imports shared code from tests/factories.py and support modules, never from another test
module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_test_module_imports_another_test_module() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for module in _imported_modules(path):
            if module.startswith("tests.") and module.rsplit(".", 1)[-1].startswith("test_"):
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_the_import_contract_holds() -> None:
    """``lint-imports`` (the contracts in pyproject.toml) exits non-zero when a layer
    imports one above it, or two packages import each other, even through others."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


DOMAINS = {"accounts", "agencies", "cameras", "feed", "footage", "notify", "transparency",
           "integrations"}  # fmt: skip


def _is_routes_module(name: str) -> bool:
    """A module of HTTP routes: ``api``, ``device_api``, ``pages``, ``post_pages`` ..."""
    last = name.rsplit(".", 1)[-1]
    return last.endswith("api") or last.endswith("pages")


def test_no_domain_imports_another_domains_routes() -> None:
    """A domain reaches another through its services; routes are mounted by routes.py."""
    offenders = []
    source = ROOT / "src" / "doorstep"
    for path in sorted(source.rglob("*.py")):
        parts = path.relative_to(source).parts
        if len(parts) < 2 or parts[0] not in DOMAINS:
            continue
        for module in _imported_modules(path):
            segments = module.split(".")
            if (
                len(segments) >= 3
                and segments[0] == "doorstep"
                and segments[1] in DOMAINS
                and segments[1] != parts[0]
                and _is_routes_module(".".join(segments[:3]))
            ):
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []
