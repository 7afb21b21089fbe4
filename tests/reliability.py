"""The reliability report (docs/reliability.md), kept true by the tests that produce it.

A test declares the case it covers with `@pytest.mark.reliability(section, case)` (on the test,
or on one `pytest.param`) and states what it observed with the `outcome` fixture:
`outcome("error record: empty file (0 bytes)")`. The observed text must equal the case's row in
the report, or the test fails; `tests/test_reliability_report.py` checks that every declared
case has a row and every row a declared case. After changing behaviour, regenerate the rows of
the tests that ran with:

    MLX_EDUGRAPH_RELIABILITY=write .venv/bin/python -m pytest -m reliability

To add a case: mark a test, call `outcome(...)` in it, and regenerate.
"""

from __future__ import annotations

import ast
import fcntl
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "reliability.md"
WRITE_ENV_VAR = "MLX_EDUGRAPH_RELIABILITY"
SECTIONS = ("Inputs", "Model output", "Interruptions", "Trust and safety")
"""The issue's sections, in the report's order."""

HEADER = """\
# Reliability: what happens with bad input, interruptions and hostile files

Every row is a test: the test asserts the behaviour and checks that the outcome it observed is
the text in this table, so the table cannot drift from the code (`tests/reliability.py`).
Regenerate the rows after a deliberate change with
`MLX_EDUGRAPH_RELIABILITY=write .venv/bin/python -m pytest -m reliability`.

"""
_TABLE_HEAD = "| Case | Test | Observed outcome |\n| --- | --- | --- |\n"
_ROW = re.compile(r"^\| (?P<case>.*?) \| `(?P<test>[^`]*)` \| (?P<outcome>.*) \|$")


@dataclass(frozen=True)
class Row:
    """One case of the report."""

    section: str
    case: str
    test: str
    outcome: str


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _uncell(text: str) -> str:
    return text.replace("\\|", "|")


def read_report(path: Path = REPORT) -> dict[tuple[str, str], Row]:
    """The report's rows by (section, case), in file order; {} when there is no report."""
    rows: dict[tuple[str, str], Row] = {}
    section = None
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif (match := _ROW.match(line)) and section and match["case"] != "Case":
            case = _uncell(match["case"])
            rows[(section, case)] = Row(section, case, match["test"], _uncell(match["outcome"]))
    return rows


def render_report(rows: list[Row]) -> str:
    """The report's text: one table per section, rows in the order the tests declare them."""
    order = {key: index for index, key in enumerate(declared_cases())}
    rows = sorted(rows, key=lambda row: order.get((row.section, row.case), len(order)))
    text = HEADER
    for section in SECTIONS:
        chosen = [row for row in rows if row.section == section]
        if not chosen:
            continue
        text += f"## {section}\n\n" + _TABLE_HEAD
        for row in chosen:
            text += f"| {_cell(row.case)} | `{row.test}` | {_cell(row.outcome)} |\n"
        text += "\n"
    return text


def declared_cases(folder: Path = ROOT / "tests") -> Iterator[tuple[str, str]]:
    """Every (section, case) named by a `pytest.mark.reliability(...)` in the test files."""
    for path in sorted(folder.rglob("test_*.py")):
        nodes = ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        for node in sorted(nodes, key=lambda node: getattr(node, "lineno", 0)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "reliability"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "mark"
            ):
                args = [arg.value for arg in node.args if isinstance(arg, ast.Constant)]
                if len(args) != 2 or not all(isinstance(arg, str) for arg in args):
                    raise ValueError(f"{path}:{node.lineno}: reliability(...) needs two literals")
                yield args[0], args[1]


def _writing() -> bool:
    return os.environ.get(WRITE_ENV_VAR) == "write"


_observed: dict[tuple[str, str], Row] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability(section, case): the test is the report row of this case"
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not (_writing() and _observed):
        return
    known = set(declared_cases())
    REPORT.parent.mkdir(exist_ok=True)
    # Under pytest-xdist each worker writes the rows it observed: one at a time (a lock on the
    # report itself), each merging into what the others wrote.
    with REPORT.open("a", encoding="utf-8") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        rows = {key: row for key, row in read_report().items() if key in known}
        rows.update(_observed)
        REPORT.write_text(render_report(list(rows.values())), encoding="utf-8")


def _normalize(text: str, basetemp: Path) -> str:
    """Observed text without what differs between runs: temp folders, the test cache."""
    for folder, name in (
        (os.environ.get("MLX_EDUGRAPH_TEST_CACHE"), "<test-cache>"),
        (str(basetemp), "<tmp>"),
    ):
        if folder:
            text = text.replace(folder, name)
    return text


def _test_id(node: pytest.Item) -> str:
    """The test's node id without the `@group` that pytest-xdist's `--dist loadgroup` appends
    to the tests of an `xdist_group`: the report names a test the same however it ran."""
    marker = node.get_closest_marker("xdist_group")
    if marker is None:
        return node.nodeid
    group = marker.args[0] if marker.args else marker.kwargs.get("name", "default")
    return node.nodeid.removesuffix(f"@{group}")


@pytest.fixture
def outcome(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], None]:
    """Record what the test observed for its case; it must match the report's row."""
    marker = request.node.get_closest_marker("reliability")
    if marker is None:
        raise pytest.UsageError(f"{request.node.nodeid} uses `outcome` without a reliability mark")
    section, case = marker.args
    if section not in SECTIONS:
        raise pytest.UsageError(f"unknown reliability section {section!r}; use one of {SECTIONS}")

    def record(observed: str) -> None:
        text = _cell(_normalize(observed, tmp_path_factory.getbasetemp()))
        row = Row(section, case, _test_id(request.node), _uncell(text))
        if _writing():
            _observed[(section, case)] = row
            return
        documented = read_report().get((section, case))
        assert documented == row, (
            f"{REPORT.name} is out of date for {section} / {case!r}:\n"
            f"  documented: {documented}\n  observed:   {row}\n"
            f"regenerate it with {WRITE_ENV_VAR}=write .venv/bin/python -m pytest -m reliability"
        )

    return record
