"""Proof before use: score a model on the held-out pages, and judge a tuned one against the
model in use with the same measures as `mlx-edugraph eval`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from mlx_edugraph.evaluation.metrics import Counts
from mlx_edugraph.evaluation.scoring import Evaluation, Matched, evaluate
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.prediction import DIMENSIONS, Prediction
from mlx_edugraph.tuning.examples import Example

TOLERANCE = 0.02
"""How far one dimension's F1 may fall while the whole still improves."""


@dataclass
class HeldOutScores:
    """One model's figures on the held-out pages."""

    evaluation: Evaluation
    by_area: dict[str, float | None]
    """Micro F1 over the three dimensions, per Area group of the held-out pages."""

    @property
    def f1(self) -> float:
        """Micro F1 over all three dimensions together (0 when nothing is scored)."""
        return _f1(sum((d.scores.micro for d in self.evaluation.dimensions.values()), Counts()))

    def dimension_f1(self, dimension: str) -> float:
        return _f1(self.evaluation.dimensions[dimension].scores.micro)

    def summary(self) -> dict:
        """The figures `version.json` and the report keep."""
        return {
            "pages": self.evaluation.pages,
            "f1": self.f1,
            "dimensions": {d: self.dimension_f1(d) for d in DIMENSIONS},
            "exact_match": self.evaluation.exact_match,
            "by_area": self.by_area,
            "outcomes": self.evaluation.outcomes,
        }


def _f1(counts: Counts) -> float:
    return counts.f1 if counts.f1 is not None else (1.0 if counts.fp == counts.fn == 0 else 0.0)


def score(
    held_out: list[Example], label: Callable[[Example], Prediction], ontology: Ontology | None
) -> HeldOutScores:
    """Label each held-out page with `label` and score the answers against the reviews."""
    matched = [Matched(example.truth(), label(example)) for example in held_out]
    groups: dict[str, list[Matched]] = defaultdict(list)
    for example, pair in zip(held_out, matched, strict=True):
        groups[example.area].append(pair)
    by_area = {}
    for area, pairs in sorted(groups.items()):
        counts = sum((d.scores.micro for d in evaluate(pairs).dimensions.values()), Counts())
        by_area[area] = _f1(counts)
    return HeldOutScores(evaluate(matched, ontology=ontology), by_area)


@dataclass
class Verdict:
    better: bool
    reasons: list[str]


def judge(
    before: HeldOutScores,
    after: HeldOutScores,
    tolerance: float = TOLERANCE,
    unlearned: str | None = None,
) -> Verdict:
    """Better: a higher F1 over the three dimensions, and no dimension's F1 lower by more
    than `tolerance`, from training that learned its answers (`unlearned`: why not). A model
    that does not write its own training answers as reviewed may score higher on the held-out
    pages with terms nobody gave (a parent where the reviews name a child): not used."""
    problems = [unlearned] if unlearned else []
    if after.f1 <= before.f1:
        problems.append(f"held-out F1 {after.f1:.3f} is not above {before.f1:.3f}")
    for dimension in DIMENSIONS:
        old, new = before.dimension_f1(dimension), after.dimension_f1(dimension)
        if old - new > tolerance:
            problems.append(
                f"{dimension} F1 falls by {old - new:.3f} ({old:.3f} -> {new:.3f}), more than "
                f"the tolerance {tolerance}"
            )
    if problems:
        return Verdict(False, problems)
    return Verdict(True, [f"held-out F1 {before.f1:.3f} -> {after.f1:.3f}, no dimension worse"])
