"""Competence vectors: a page's final labels as one vector, so that how close two pages'
competences are is a dot product (docs/related.md).

Per dimension, a page's terms and every term they are part of (their ancestors) are set, each to
its weight: how specific the term is in the ontology, `1 + ln((1 + N) / (1 + D))` with N the
dimension's terms and D the term's descendants (a leaf weighs most, a root of everything 1). Each
dimension's block is scaled to length 1 and the three blocks to 1/sqrt(3): the dot product of two
vectors is the mean of the three per-dimension cosines, 1 for identical labels. The weights come
from the ontology alone, so vectors of two collections under one release compare.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.prediction import DIMENSIONS

LabelSet = tuple[frozenset[str], frozenset[str], frozenset[str]]
"""A page's final terms per dimension, in `DIMENSIONS` order."""


def label_set(terms: dict[str, Iterable[str]]) -> LabelSet:
    """The `LabelSet` of a dimension -> terms mapping (missing dimensions are empty)."""
    return tuple(frozenset(terms.get(d, ())) for d in DIMENSIONS)  # type: ignore[return-value]


class CompetenceSpace:
    """The vector columns (every ontology term, then stored terms it lacks) and their weights."""

    def __init__(self, ontology: Ontology | None, extra: Iterable[tuple[str, str]] = ()):
        self.ontology = ontology or Ontology(version="none", terms={})
        known = self.ontology
        columns = [(d, name) for d in DIMENSIONS for name in known.terms_of(d)]
        unknown = {(d, t) for d, t in extra if known.dimension_of(t) != d}
        columns += sorted(unknown, key=lambda c: (DIMENSIONS.index(c[0]), c[1]))
        self.columns: list[tuple[str, str]] = columns
        self.index = {column: i for i, column in enumerate(columns)}
        sizes = {d: len(known.terms_of(d)) for d in DIMENSIONS}
        self.weights = np.array(
            [
                1 + math.log((1 + sizes[d]) / (1 + len(known.descendants(t))))
                if known.dimension_of(t) == d
                else 1 + math.log(1 + sizes[d])  # not in the ontology: a leaf of its own
                for d, t in columns
            ],
            dtype=np.float32,
        )
        self._closures: dict[tuple[str, str], frozenset[str]] = {}

    def closure(self, dimension: str, terms: Iterable[str]) -> set[str]:
        """The terms and every term they are part of (terms of another dimension stay alone)."""
        found: set[str] = set()
        for term in terms:
            found |= self._closure(dimension, term)
        return found

    def _closure(self, dimension: str, term: str) -> frozenset[str]:
        cached = self._closures.get((dimension, term))
        if cached is None:
            known = self.ontology.dimension_of(term) == dimension
            up = self.ontology.ancestors(term) if known else ()
            cached = self._closures[(dimension, term)] = frozenset({term, *up})
        return cached

    def vectors(self, sets: Sequence[LabelSet]) -> np.ndarray:
        """One row per label set (float32, `len(columns)` wide), as the module says."""
        matrix = np.zeros((len(sets), len(self.columns)), dtype=np.float32)
        for row, labels in enumerate(sets):
            for dimension, terms in zip(DIMENSIONS, labels, strict=True):
                cols = [self.index[(dimension, t)] for t in self.closure(dimension, terms)]
                if not cols:
                    continue
                weights = self.weights[cols]
                matrix[row, cols] = weights / (np.linalg.norm(weights) * math.sqrt(3))
        return matrix

    def why(self, asked: LabelSet, other: LabelSet) -> str:
        """What two label sets share, most specific first: "shares IntegerAddition,
        NumbersSmaller20 · Ability: both part of ProcedureApplication" or "· differs in Ability"."""
        if asked == other:
            return "same labels"
        shared: list[str] = []
        parts: list[str] = []
        for dimension, mine, theirs in zip(DIMENSIONS, asked, other, strict=True):
            same = sorted(mine & theirs)
            if same:
                shared += same
                continue
            common = self.closure(dimension, mine) & self.closure(dimension, theirs)
            if common:
                above = set().union(*(self._closure(dimension, t) - {t} for t in common))
                lowest = sorted(common - above)
                parts.append(f"{dimension}: both part of {', '.join(lowest)}")
            elif mine and theirs:  # a dimension asked for on one side only says nothing
                parts.append(f"differs in {dimension}")
        if shared:
            parts.insert(0, f"shares {', '.join(shared)}")
        return " · ".join(parts)


def stored_terms(sets: Iterable[LabelSet]) -> set[tuple[str, str]]:
    """Every (dimension, term) the label sets name: columns for terms the ontology lacks."""
    found: set[tuple[str, str]] = set()
    for labels in sets:
        found |= {(d, t) for d, terms in zip(DIMENSIONS, labels, strict=True) for t in terms}
    return found
