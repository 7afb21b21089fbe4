"""Pure label-set measures: precision, recall, F1, exact sets, hierarchy credit, calibration.

Every function takes plain sets of term names (one pair per worksheet page: truth, predicted)
so it can be checked by hand and by property tests; nothing here knows about models or files.
Undefined ratios (nothing to divide by) are None, never a silent 0 or 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

Pair = tuple[frozenset[str], frozenset[str]]
"""(true terms, predicted terms) of one worksheet page in one dimension."""

HIERARCHY_DECAY = 0.5
"""Credit of a predicted ancestor: 0.5 for the parent of a true term, 0.25 for a grandparent."""

CALIBRATION_EDGES: tuple[float, ...] = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
"""Confidence bins, finer near 1 where a fine-tuned model puts most of its terms."""


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when there is nothing to divide by."""
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class Counts:
    """True positives, false positives and false negatives of some terms."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        return ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


def page_counts(truth: frozenset[str], predicted: frozenset[str]) -> Counts:
    """The counts of one page: shared terms, added terms, missed terms."""
    return Counts(len(truth & predicted), len(predicted - truth), len(truth - predicted))


@dataclass(frozen=True)
class SetScores:
    """How well predicted term sets match true ones, over pages of one dimension."""

    pages: int
    micro: Counts
    macro_precision: float | None
    macro_recall: float | None
    macro_f1: float | None
    exact_match: float | None
    """Share of pages whose predicted set equals the true set."""
    per_term: dict[str, Counts] = field(default_factory=dict)
    missed: list[tuple[str, int]] = field(default_factory=list)
    """True terms the model left out, most often first."""
    added: list[tuple[str, int]] = field(default_factory=list)
    """Terms the model added that the truth lacks, most often first."""


def _mean(values: Iterable[float | None]) -> float | None:
    # A term never predicted has no precision; like scikit-learn's zero_division=0 it counts 0.
    found = [0.0 if value is None else value for value in values]
    return sum(found) / len(found) if found else None


def score_sets(pairs: Sequence[Pair]) -> SetScores:
    """Micro and macro (over every term in truth or predictions) scores and exact-set rate."""
    per_term: dict[str, Counts] = {}
    missed: Counter[str] = Counter()
    added: Counter[str] = Counter()
    total = Counts()
    exact = 0
    for truth, predicted in pairs:
        total += page_counts(truth, predicted)
        exact += truth == predicted
        for term in truth | predicted:
            per_term[term] = per_term.get(term, Counts()) + page_counts(
                truth & {term}, predicted & {term}
            )
        missed.update(truth - predicted)
        added.update(predicted - truth)
    terms = sorted(per_term)
    return SetScores(
        pages=len(pairs),
        micro=total,
        macro_precision=_mean(per_term[t].precision for t in terms),
        macro_recall=_mean(per_term[t].recall for t in terms),
        macro_f1=_mean(per_term[t].f1 for t in terms),
        exact_match=ratio(exact, len(pairs)),
        per_term={t: per_term[t] for t in terms},
        missed=_most_often(missed),
        added=_most_often(added),
    )


def _most_often(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def ancestor_distances(term: str, parents: Callable[[str], Iterable[str]]) -> dict[str, int]:
    """Every ancestor of `term` with the fewest part-of steps up to it (cycles are cut)."""
    distances: dict[str, int] = {}
    frontier = [term]
    step = 0
    while frontier:
        step += 1
        following = []
        for name in frontier:
            for parent in parents(name):
                if parent != term and parent not in distances:
                    distances[parent] = step
                    following.append(parent)
        frontier = following
    return distances


@dataclass(frozen=True)
class HierarchyScores:
    """Precision, recall and F1 where a predicted ancestor of a true term earns partial credit."""

    precision: float | None
    recall: float | None
    f1: float | None
    credited: int
    """Predicted terms that earned partial credit as an ancestor of a missed true term."""


def hierarchy_scores(
    pairs: Sequence[Pair],
    parents: Callable[[str], Iterable[str]],
    decay: float = HIERARCHY_DECAY,
) -> HierarchyScores:
    """Micro scores in which a wrong predicted term that is an ancestor of a missed true term
    counts `decay ** steps` (the closest such pair counts) on both the precision side and the
    recall side; exact matches count 1 as usual."""
    hit_p = hit_r = predicted_total = truth_total = 0.0
    credited = 0
    for truth, predicted in pairs:
        exact = len(truth & predicted)
        missed, extra = truth - predicted, predicted - truth
        up = {t: ancestor_distances(t, parents) for t in missed}
        credit_of_true = {
            t: max((decay ** up[t][p] for p in extra if p in up[t]), default=0.0) for t in missed
        }
        credit_of_predicted = {
            p: max((decay ** up[t][p] for t in missed if p in up[t]), default=0.0) for p in extra
        }
        credited += sum(1 for value in credit_of_predicted.values() if value > 0)
        hit_p += exact + sum(credit_of_predicted.values())
        hit_r += exact + sum(credit_of_true.values())
        predicted_total += len(predicted)
        truth_total += len(truth)
    precision, recall = ratio(hit_p, predicted_total), ratio(hit_r, truth_total)
    f1 = None
    if precision is not None and recall is not None:
        f1 = ratio(2 * precision * recall, precision + recall) or 0.0
    return HierarchyScores(precision, recall, f1, credited)


@dataclass(frozen=True)
class CalibrationBin:
    """Predicted terms whose confidence fell in [low, high), and how many of them were right."""

    low: float
    high: float
    count: int
    mean_confidence: float | None
    precision: float | None


@dataclass(frozen=True)
class Calibration:
    """A reliability table: does a term's confidence predict that the term is right?"""

    bins: list[CalibrationBin]
    terms: int
    expected_calibration_error: float | None
    """Mean |precision - confidence| over the bins, weighted by their share of terms."""


def calibration(
    points: Iterable[tuple[float, bool]], edges: Sequence[float] = CALIBRATION_EDGES
) -> Calibration:
    """Bin (confidence, correct) pairs of predicted terms; the last bin includes 1.0."""
    groups: list[list[tuple[float, bool]]] = [[] for _ in edges[1:]]
    for confidence, correct in points:
        index = next((i for i in range(len(groups)) if confidence < edges[i + 1]), len(groups) - 1)
        groups[index].append((confidence, correct))
    terms = sum(map(len, groups))
    bins, gap = [], 0.0
    for low, high, group in zip(edges[:-1], edges[1:], groups, strict=True):
        mean = ratio(sum(c for c, _ in group), len(group))
        right = ratio(sum(ok for _, ok in group), len(group))
        bins.append(CalibrationBin(low, high, len(group), mean, right))
        if mean is not None and right is not None:
            gap += len(group) / terms * abs(right - mean)
    return Calibration(bins, terms, gap if terms else None)


@dataclass(frozen=True)
class Agreement:
    """How often two label sources give the same terms, over pages of one dimension."""

    pages: int
    exact: float | None
    """Share of pages with identical term sets."""
    jaccard: float | None
    """Mean |A ∩ B| / |A ∪ B| per page (two empty sets agree fully)."""


def agreement(pairs: Sequence[tuple[frozenset[str], frozenset[str]]]) -> Agreement:
    """Exact-set and mean Jaccard agreement of two sources' term sets, page by page."""
    exact = sum(a == b for a, b in pairs)
    overlap = sum(len(a & b) / len(a | b) if a | b else 1.0 for a, b in pairs)
    return Agreement(len(pairs), ratio(exact, len(pairs)), ratio(overlap, len(pairs)))
