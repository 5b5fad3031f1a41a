"""The tree says what it holds: every package folder has a README, the README's map names
every folder (and only folders that exist), and every top-level package is bound by an
import-linter contract, so a new folder cannot slip in unexplained or unlayered."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "cds_service"
README = (REPO / "README.md").read_text(encoding="utf-8")
# Alembic's own layout: its scripts are documented by store/README.md.
NO_README = {PACKAGE / "store" / "migrations", PACKAGE / "store" / "migrations" / "versions"}


def _packages() -> list[Path]:
    return sorted(p.parent for p in PACKAGE.rglob("__init__.py") if "__pycache__" not in p.parts)


def _map_folders() -> list[str]:
    """Folder paths in the README's map, nesting read from the indentation."""
    block = README.split("## Map of the tree", 1)[1].split("```")[1]
    stack: list[tuple[int, str]] = []
    folders = []
    for line in block.splitlines():
        match = re.match(r"^( *)(\S+/)\s", line)
        if not match:
            continue
        depth, name = len(match.group(1)), match.group(2)
        stack = [(d, n) for d, n in stack if d < depth]
        path = "".join(n for _, n in stack) + name
        stack.append((depth, name))
        folders.append(path.rstrip("/"))
    return folders


def test_every_package_folder_says_what_it_holds() -> None:
    missing = [
        str(p.relative_to(REPO))
        for p in _packages()
        if p not in NO_README and not (p / "README.md").is_file()
    ]
    assert missing == []


def test_the_readme_map_names_every_folder_and_no_other() -> None:
    mapped = _map_folders()
    assert "cds_service/edge" in mapped and "cds_service/record/medicines/data" in mapped
    assert [f for f in mapped if not (REPO / f).is_dir()] == []
    wanted = {
        str(p.relative_to(REPO))
        for p in _packages()
        if p.parent != PACKAGE / "store" / "migrations"
    }
    wanted |= {
        str(d.relative_to(REPO))
        for d in PACKAGE.iterdir()
        if d.is_dir() and d.name != "__pycache__"
    }
    assert sorted(wanted - set(mapped)) == []


def test_every_top_level_package_is_bound_by_a_contract() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layered = {
        name.strip()
        for contract in contracts
        if contract["type"] == "layers"
        for layer in contract["layers"]
        for name in layer.split("|")
    }
    constrained = {m for c in contracts if c["type"] == "forbidden" for m in c["source_modules"]}
    top = {f"cds_service.{p.name}" for p in _packages() if p.parent == PACKAGE}
    assert sorted(top - layered - constrained) == []
