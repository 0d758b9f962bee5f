"""The README's error table and the codes the code can send are the same set, so neither can drift.

The code is read as syntax (ast), not run: a code is a string that looks like CODE_NAME anywhere
outside an Enum's body (enum members are values, not codes), or a one-word CODE given where a code
goes — `code=` / `"code":` / `code = …`, the second argument of `error_response`, or a
`("CODE", "a message")` pair. When a test here fails, it names the codes to add or remove: put each
in the first column of a row of the README's "Error codes" table, in backticks, with when it is sent.
"""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("server", "privacy")
MULTI_WORD = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
ONE_WORD = re.compile(r"^[A-Z]{4,}$")
NOT_CODES = re.compile(r"^GRANULAR_")  # settings' environment variables


def _strings(node: ast.AST) -> Iterator[str]:
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            yield child.value


def _is_enum(node: ast.ClassDef) -> bool:
    return any("Enum" in ast.unparse(base) for base in node.bases)


def _code_slots(node: ast.AST) -> Iterator[ast.AST]:
    """The expressions that hold a code by their position."""
    if isinstance(node, ast.keyword) and node.arg == "code":
        yield node.value
    elif isinstance(node, ast.Dict):
        yield from (v for k, v in zip(node.keys, node.values, strict=True) if _is_str(k, "code"))
    elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if any(ast.unparse(t).split(".")[-1] == "code" for t in targets):
            yield node.value
    elif (
        isinstance(node, ast.Call)
        and ast.unparse(node.func).endswith("error_response")
        and len(node.args) > 1
    ):
        yield node.args[1]
    elif (
        isinstance(node, ast.Tuple)
        and len(node.elts) == 2
        and _is_str(node.elts[1])
        and " " in str(getattr(node.elts[1], "value", ""))
    ):
        yield node.elts[0]


def _is_str(node: ast.AST | None, value: str | None = None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and value in (None, node.value)


def _codes_of(tree: ast.AST) -> Iterator[str]:
    enum_strings = {
        id(c)
        for cls in ast.walk(tree)
        if isinstance(cls, ast.ClassDef) and _is_enum(cls)
        for c in ast.walk(cls)
    }
    for node in ast.walk(tree):
        value = node.value if isinstance(node, ast.Constant) and id(node) not in enum_strings else None
        if isinstance(value, str) and MULTI_WORD.match(value) and not NOT_CODES.match(value):
            yield value
        for slot in _code_slots(node):
            yield from (s for s in _strings(slot) if ONE_WORD.match(s) or MULTI_WORD.match(s))


def codes_in_code() -> set[str]:
    return {
        code
        for source in SOURCES
        for path in sorted((ROOT / source).rglob("*.py"))
        for code in _codes_of(ast.parse(path.read_text(), str(path)))
    }


def codes_in_readme() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Error codes\n", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {code for cell in first_cells for code in re.findall(r"`([A-Z][A-Z0-9_]*)`", cell)}


def test_every_code_the_code_can_send_is_in_the_readme_table() -> None:
    missing = codes_in_code() - codes_in_readme()
    assert not missing, f"add to the README's error table: {sorted(missing)}"


def test_every_code_in_the_readme_table_is_one_the_code_can_send() -> None:
    stale = codes_in_readme() - codes_in_code()
    assert not stale, f"no longer in the code, remove from the README's error table: {sorted(stale)}"


def test_the_scanner_finds_codes_in_every_place_they_are_written() -> None:
    sample = """
class Kind(StrEnum):
    FIRST_TOUCH = "FIRST_TOUCH"
class Refused(Exception):
    code = "CLASS_CODE"
raise Refused("m", code="KEYWORD")
error_response(400, "RESPONSE", "The body is wrong.")
extensions = {"code": "DICTIONARY"}
problems.append(("field", "TUPLE_CODE"))
def outage():
    return "PAIRED", "The database is down."
"""
    assert set(_codes_of(ast.parse(sample))) == {
        "CLASS_CODE",
        "KEYWORD",
        "RESPONSE",
        "DICTIONARY",
        "TUPLE_CODE",
        "PAIRED",
    }
