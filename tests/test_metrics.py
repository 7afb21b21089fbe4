"""The pure measures of `mlx_edugraph.evaluation.metrics`, by worked examples and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlx_edugraph.evaluation.metrics import (
    Counts,
    agreement,
    ancestor_distances,
    calibration,
    hierarchy_scores,
    page_counts,
    score_sets,
)

F = frozenset
TERMS = st.sampled_from(["A", "B", "C", "D", "E"])
SETS = st.frozensets(TERMS, max_size=4)
PAIRS = st.lists(st.tuples(SETS, SETS), max_size=8)

# A small hierarchy: Root <- Mid <- Leaf, Root <- Other.
PARENTS = {"Leaf": ("Mid",), "Mid": ("Root",), "Other": ("Root",), "Root": ()}


def parents(name: str):
    return PARENTS.get(name, ())


def test_counts_ratios_and_undefined() -> None:
    counts = Counts(tp=3, fp=1, fn=2)
    assert counts.precision == 0.75
    assert counts.recall == 0.6
    assert counts.f1 == pytest.approx(6 / 9)
    assert Counts().precision is None and Counts().recall is None and Counts().f1 is None
    assert Counts(fp=2).precision == 0.0 and Counts(fp=2).f1 == 0.0


def test_score_sets_worked_example() -> None:
    pairs = [
        (F({"A", "B"}), F({"A", "B"})),  # exact
        (F({"A"}), F({"A", "C"})),  # C added
        (F({"B"}), F()),  # B missed
    ]
    s = score_sets(pairs)
    assert s.micro == Counts(tp=3, fp=1, fn=1)
    assert s.micro.precision == 0.75 and s.micro.recall == 0.75
    assert s.exact_match == pytest.approx(1 / 3)
    assert s.per_term == {
        "A": Counts(2, 0, 0),
        "B": Counts(1, 0, 1),
        "C": Counts(0, 1, 0),
    }
    # Macro over A, B, C: precision (1 + 1 + 0) / 3, recall (1 + 0.5 + 0) / 3.
    assert s.macro_precision == pytest.approx(2 / 3)
    assert s.macro_recall == pytest.approx(0.5)
    assert s.macro_f1 == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert s.missed == [("B", 1)]
    assert s.added == [("C", 1)]


def test_score_sets_of_nothing_is_undefined() -> None:
    s = score_sets([])
    assert s.pages == 0 and s.exact_match is None and s.macro_f1 is None
    empty = score_sets([(F(), F())])
    assert empty.exact_match == 1.0 and empty.micro.f1 is None


@given(PAIRS)
def test_score_sets_properties(pairs) -> None:
    s = score_sets(pairs)
    total = Counts()
    for truth, predicted in pairs:
        total += page_counts(truth, predicted)
    assert s.micro == total
    for value in (s.micro.precision, s.micro.recall, s.micro.f1, s.macro_f1, s.exact_match):
        assert value is None or 0.0 <= value <= 1.0
    assert sum(c.tp for c in s.per_term.values()) == total.tp
    assert sum(n for _, n in s.missed) == total.fn
    assert sum(n for _, n in s.added) == total.fp
    if pairs and all(t == p for t, p in pairs):
        assert s.exact_match == 1.0 and total.fp == total.fn == 0


def test_ancestor_distances_take_the_shortest_way_and_cut_cycles() -> None:
    assert ancestor_distances("Leaf", parents) == {"Mid": 1, "Root": 2}
    assert ancestor_distances("Root", parents) == {}
    cyclic = {"X": ("Y",), "Y": ("X",)}
    assert ancestor_distances("X", lambda n: cyclic.get(n, ())) == {"Y": 1}


def test_hierarchy_credit_for_a_predicted_ancestor() -> None:
    # True Leaf, predicted its grandparent Root: credit 0.25 on both sides.
    h = hierarchy_scores([(F({"Leaf"}), F({"Root"}))], parents)
    assert h.precision == 0.25 and h.recall == 0.25 and h.f1 == 0.25 and h.credited == 1
    # The parent earns 0.5; a descendant or an unrelated term earns nothing.
    assert hierarchy_scores([(F({"Leaf"}), F({"Mid"}))], parents).recall == 0.5
    assert hierarchy_scores([(F({"Mid"}), F({"Leaf"}))], parents).recall == 0.0
    assert hierarchy_scores([(F({"Leaf"}), F({"Other"}))], parents).precision == 0.0


@given(PAIRS)
def test_hierarchy_scores_reduce_to_strict_without_a_hierarchy(pairs) -> None:
    strict = score_sets(pairs).micro
    h = hierarchy_scores(pairs, lambda name: ())
    assert h.precision == strict.precision and h.recall == strict.recall and h.credited == 0


@given(
    st.lists(
        st.tuples(
            st.frozensets(st.sampled_from(list(PARENTS)), max_size=3),
            st.frozensets(st.sampled_from(list(PARENTS)), max_size=3),
        ),
        max_size=6,
    )
)
def test_hierarchy_scores_are_never_below_strict_or_above_one(pairs) -> None:
    strict = score_sets(pairs).micro
    h = hierarchy_scores(pairs, parents)
    for loose, exact in ((h.precision, strict.precision), (h.recall, strict.recall)):
        assert (loose is None) == (exact is None)
        if loose is not None:
            assert exact - 1e-12 <= loose <= 1.0


def test_calibration_bins_and_error() -> None:
    points = [(0.99, True), (0.995, True), (0.96, True), (0.96, False), (0.3, False), (1.0, True)]
    result = calibration(points)
    filled = {(b.low, b.high): b for b in result.bins if b.count}
    assert set(filled) == {(0.0, 0.5), (0.95, 0.99), (0.99, 1.0)}
    top = filled[(0.99, 1.0)]
    assert top.count == 3 and top.precision == 1.0  # 1.0 falls in the last bin
    assert filled[(0.95, 0.99)].precision == 0.5
    assert result.terms == 6
    expected = (3 * abs(1 - (0.99 + 0.995 + 1.0) / 3) + 2 * abs(0.5 - 0.96) + 1 * 0.3) / 6
    assert result.expected_calibration_error == pytest.approx(expected)
    assert calibration([]).expected_calibration_error is None


@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), max_size=30))
def test_calibration_keeps_every_point(points) -> None:
    result = calibration(points)
    assert sum(b.count for b in result.bins) == len(points)
    assert result.expected_calibration_error is None or 0 <= result.expected_calibration_error <= 1


def test_agreement() -> None:
    result = agreement([(F({"A"}), F({"A"})), (F({"A", "B"}), F({"A"})), (F(), F())])
    assert result.exact == pytest.approx(2 / 3)
    assert result.jaccard == pytest.approx((1 + 0.5 + 1) / 3)
    assert agreement([]).exact is None
