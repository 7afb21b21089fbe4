"""docs/reliability.md has exactly one row per case the tests declare (see tests/reliability.py)."""

from __future__ import annotations

from collections import Counter

from tests.reliability import REPORT, SECTIONS, declared_cases, read_report, render_report


def test_every_declared_case_has_a_row_and_every_row_a_test() -> None:
    declared = list(declared_cases())
    assert [case for case, count in Counter(declared).items() if count > 1] == []
    rows = read_report()
    missing, extra = set(declared) - set(rows), set(rows) - set(declared)
    assert not missing and not extra, (
        f"regenerate docs/reliability.md (see its header): cases without a row {missing}, "
        f"rows without a test {extra}"
    )
    assert {section for section, _ in declared} <= set(SECTIONS)


def test_report_is_in_its_generated_form() -> None:
    assert REPORT.read_text(encoding="utf-8") == render_report(list(read_report().values()))
