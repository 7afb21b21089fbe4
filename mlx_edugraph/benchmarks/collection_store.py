"""A generated store of labeled pages, for collection benchmarks and tests (no model involved).

Pages get answers of the demo's kinds with a few term variations, random confidences, some
reviews (accepted, corrected, flagged), an unsupported share, and a few terms the ontology does
not have, like a real collection under review.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from mlx_edugraph.prediction import Label, Prediction, Provenance
from mlx_edugraph.store.review import Review
from mlx_edugraph.store.sqlite_store import Store

ANSWERS: tuple[dict[str, list[str]], ...] = (
    {"Area": ["IntegerAddition"], "Scope": ["NumbersSmaller20"], "Ability": ["ProcedureExecution"]},
    {
        "Area": ["IntegerAddition"],
        "Scope": ["NumbersSmaller10", "NumbersWithoutZero"],
        "Ability": ["ProcedureExecution"],
    },
    {
        "Area": ["IntegerMultiplication"],
        "Scope": ["NumbersSmaller100"],
        "Ability": ["ProcedureApplication", "ProcedureExecution"],
    },
    {
        "Area": ["NumerationWithIntegers"],
        "Scope": ["NumbersSmaller10", "CountingSymbols"],
        "Ability": ["VisualRecognition"],
    },
    {"Area": ["MeasuringTime"], "Scope": ["AnalogClock"], "Ability": ["VisualRecognition"]},
    {"Area": ["MeasuringTime"], "Scope": ["HourIntervals"], "Ability": ["InventedSkill"]},
)
"""Answers the generated pages get; InventedSkill is not an EduGraph term (flagged, not lost)."""

FINGERPRINT = "generated0000000"


def generated_pages(
    count: int, *, seed: int = 0, folder: str = "/generated"
) -> Iterator[tuple[Prediction, dict[str, list[str]]]]:
    """`count` predictions (one in 20 unsupported) and the answer each was drawn from."""
    rng = random.Random(seed)
    provenance = Provenance("generated", FINGERPRINT, "v0.4.0", "generated", "", "base")
    for index in range(count):
        path = f"{folder}/{index // 1000:03d}/{index:06d}.png"
        sha256 = f"{seed:08x}{index:056x}"
        if index % 20 == 19:
            yield Prediction(path, 0, sha256, "unsupported", provenance=provenance), {}
            continue
        answer = rng.choice(ANSWERS)
        labels = [
            Label(term, dimension, "known", False, round(rng.uniform(0.2, 1.0), 3))
            for dimension, terms in answer.items()
            for term in terms
        ]
        yield Prediction(path, 0, sha256, "labeled", labels, provenance=provenance), answer


def fill_store(db: Path, count: int, *, seed: int = 0, reviewed: float = 0.1) -> Path:
    """A store at `db` with `count` generated pages; `reviewed` of them reviewed (a third
    each accepted, corrected to another answer, flagged)."""
    rng = random.Random(seed + 1)
    with Store(db) as store:
        batch = list(generated_pages(count, seed=seed))
        store.put_many(prediction for prediction, _ in batch)
        for prediction, answer in batch:
            if not answer or rng.random() >= reviewed:
                continue
            status = rng.choice(("accepted", "corrected", "flagged"))
            labels = rng.choice(ANSWERS) if status == "corrected" else answer
            store.put_review(Review(prediction.sha256, 0, prediction.path, status, dict(labels)))
    return db
