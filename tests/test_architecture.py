"""ARCHITECTURE.md matches the tree: every module and package it names exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "ARCHITECTURE.md").read_text()
PATHS = set(re.findall(r"`((?:server|privacy|tests)/[\w/.]*)`", PAGE))
DOTTED = {name.replace(".", "/") + ".py" for name in re.findall(r"`((?:server|privacy)\.[\w.]+)`", PAGE)}
NAMED = sorted(PATHS | DOTTED)


def test_the_check_sees_the_modules_the_page_names() -> None:
    assert len(NAMED) >= 40


def test_every_module_the_page_names_exists() -> None:
    missing = [path for path in NAMED if not (ROOT / path).exists()]
    assert missing == []


def test_every_package_of_server_and_privacy_is_on_the_page() -> None:
    packages = [
        f"{path.parent.relative_to(ROOT)}/"
        for top in ("server", "privacy")
        for path in (ROOT / top).glob("*/__init__.py")
    ]
    unnamed = [package for package in packages if package not in PAGE]
    assert unnamed == []
