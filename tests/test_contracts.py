"""The import contracts stay meaningful: each probe violation, planted in a copy of the tree, breaks them."""

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("contracts")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "static")
    for package in ("server", "privacy"):
        shutil.copytree(ROOT / package, copy / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"], cwd=tree, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.fixture
def planted(tree: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """The copy with one line appended to one module (created if new); put back afterwards."""
    module, line = request.param
    path = tree / module
    original = path.read_text() if path.exists() else None
    path.write_text((original or "") + f"\n{line}\n")
    yield tree
    if original is None:
        path.unlink()
    else:
        path.write_text(original)


def test_the_unmodified_tree_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout


PROBES = [
    ("server/domain/rate.py", "import server.metrics", "server.domain.rate -> server.metrics"),
    (
        "server/domain/rate.py",
        "from server.settings import Settings",
        "server.domain.rate -> server.settings",
    ),
    ("server/domain/rate.py", "import os", "server.domain.rate -> os"),
    ("server/domain/rate.py", "import socket", "server.domain.rate -> socket"),
    ("server/domain/rate.py", "import logging", "server.domain.rate -> logging"),
    ("server/domain/rate.py", "import asyncio", "server.domain.rate -> asyncio"),
    (
        "server/domain/rate.py",
        "from prometheus_client import Counter",
        "server.domain.rate -> prometheus_client",
    ),
    ("privacy/minimization.py", "import time", "privacy.minimization -> time"),
    (
        "privacy/newthing.py",
        "from cryptography.hazmat.primitives import hashes",
        "privacy.newthing -> cryptography",
    ),
    ("server/services/newthing.py", "import cryptography", "server.services.newthing -> cryptography"),
    ("server/http/cors.py", "from server.storage import client", "server.http.cors -> server.storage.client"),
    (
        "server/graphql/types/event.py",
        "from server.storage.events import Events",
        "server.graphql.types.event -> server.storage.events",
    ),
]


@pytest.mark.parametrize(
    ("planted", "violation"),
    [((module, line), violation) for module, line, violation in PROBES],
    ids=[violation for _, _, violation in PROBES],
    indirect=["planted"],
)
def test_a_planted_violation_breaks_the_contracts(planted: Path, violation: str) -> None:
    result = _lint(planted)
    assert result.returncode != 0
    assert violation in result.stdout


# What the pure core may import besides itself: the standard library's pure modules, numpy, scipy and
# the parsing libraries of privacy/classification.py. An allow-list, so a module nobody thought to
# forbid (urllib.request, shelve, ...) fails here even where no contract names it.
PURE = frozenset(
    {
        "base64", "binascii", "bisect", "collections", "dataclasses", "datetime", "email.utils", "enum",
        "functools", "hashlib", "hmac", "idna", "ipaddress", "itertools", "json", "math", "numpy",
        "phonenumbers", "re", "scipy", "secrets", "statistics", "types", "typing", "unicodedata",
        "urllib.parse",
    }
)  # fmt: skip
CORE_PACKAGES = ("server.domain", "privacy")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _allowed(name: str, module: str) -> bool:
    if name == "cryptography" or name.startswith("cryptography."):
        return module == "privacy.crypto"
    return name.startswith(CORE_PACKAGES) or any(name == p or name.startswith(p + ".") for p in PURE)


def test_the_pure_core_imports_only_pure_modules() -> None:
    stray = []
    for package in CORE_PACKAGES:
        for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            stray += [f"{module} -> {name}" for name in _imports(path) if not _allowed(name, module)]
    assert stray == []
