"""docs/host-fidelity.md stays true: every behaviour it lists names tests, and every test it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "host-fidelity.md"
# `runner/test_x.py::test_y`, `::test_y` (in the file named last), or a whole file `unit/test_x.py`.
REFERENCE = re.compile(r"`([\w/]+\.py)?(?:::(\w+))?`")


def rows() -> list[list[str]]:
    """The cells of every table row under a behaviour heading (not the sources table)."""
    found, section = [], ""
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            section = line
        elif line.startswith("| ") and not line.startswith(("| behaviour", "| short name")) and section:
            found.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return found


def references(cell: str) -> list[tuple[str, str]]:
    return [(file, test) for file, test in REFERENCE.findall(cell) if file or test]


def test_every_behaviour_names_at_least_one_test() -> None:
    table = rows()
    assert len(table) >= 30
    for cells in table:
        assert references(cells[-1]), f"no test named for: {cells[0][:80]}"


def test_every_test_named_exists() -> None:
    named, current = 0, ""
    for cells in rows():
        for file, test in references(cells[-1]):
            current = file or current
            path = ROOT / "tests" / current
            assert path.is_file(), f"{current} does not exist"
            if test:
                assert re.search(rf"^def {test}\(", path.read_text(), re.MULTILINE), f"{current}::{test} is missing"
            named += 1
    assert named >= 50
