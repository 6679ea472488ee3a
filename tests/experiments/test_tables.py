"""docs/experiments.md cannot drift from the results: each of its tables is marked with a table id, and
`python -m experiments tables --markdown` on the committed results file prints it verbatim."""

import re
import subprocess
import sys

from experiments.migrate import ROOT
from experiments.tables import TABLES

DOC = ROOT / "docs" / "experiments.md"
MARKER = re.compile(r"^<!-- table: ([a-z0-9-]+) -->$")


def doc_tables() -> list:
    """(table id or None, the table's lines) for every markdown table of the doc."""
    lines = DOC.read_text().splitlines()
    found = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("|"):
            start = i
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
            marker = MARKER.match(lines[start - 1]) if start else None
            found.append((marker.group(1) if marker else None, "\n".join(lines[start:i])))
        i += 1
    return found


def test_every_table_in_the_doc_is_marked_and_reprinted_verbatim():
    printed = subprocess.run(
        [sys.executable, "-m", "experiments", "tables", "--markdown"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tables = doc_tables()
    assert tables, "the doc has no tables"
    for id, body in tables:
        assert id is not None, f"a table without a <!-- table: id --> line:\n{body[:200]}"
        assert id in TABLES, id
        assert f"<!-- table: {id} -->\n{body}\n" in printed, f"table {id} differs from the results"


def test_every_registered_table_is_in_the_doc():
    assert {id for id, _ in doc_tables()} == set(TABLES)
