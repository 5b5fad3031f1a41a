"""The README's two commands are the ones a new user and CI run; they must not drift apart."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)
    return [block.strip() for block in blocks[:2]]


def ci_commands() -> list[str]:
    lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    return [
        line.strip()
        for line in lines
        if line.strip()
        and not line.lstrip().startswith("#")
        and not line.startswith(("set ", "cd "))
    ]


def test_readme_starts_with_install_and_serve_then_the_test_command() -> None:
    install_and_serve, test_command = readme_commands()
    assert install_and_serve.startswith("pip install .")
    assert "b12-cds serve" in install_and_serve
    assert test_command == "make test"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    _, test_command = readme_commands()
    assert ci_commands() == [test_command]
    run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "set -euo pipefail" in run


def test_make_test_fails_when_pytest_collects_nothing() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test:", makefile, flags=re.MULTILINE)
    assert "-eq 5" in makefile and "exit $$status" in makefile
