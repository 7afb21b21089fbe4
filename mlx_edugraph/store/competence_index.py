"""The collection's pages grouped by their final labels, for `related`, `next` and `before`.

A collection has far fewer distinct label sets than pages (the coverage report counts them the
same way), so each query scores the distinct sets, one competence vector each, and only then
lists the pages of the best ones: at 100,000 pages a query stays well under 200 ms.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from mlx_edugraph.labels.competence import CompetenceSpace, LabelSet, stored_terms
from mlx_edugraph.labels.learning_paths import LearningPaths
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.store.collection import _NEWEST
from mlx_edugraph.store.sqlite_store import Store

Page = tuple[str, int]


@dataclass(frozen=True)
class Match:
    """One page of an answer: how close its competences are (0-1) and why it is listed."""

    key: str
    page: int
    path: str
    score: float
    why: str
    labels: LabelSet

    @property
    def name(self) -> str:
        return f"{self.path} p{self.page}" if self.page else self.path


class CompetenceIndex:
    """Distinct label sets, their pages (in path order) and their competence vectors."""

    def __init__(self, members: dict[LabelSet, list[tuple[str, str, int]]], ontology: Ontology):
        # Sets in the order of their first page's path: a stable sort by score keeps ties in it.
        for pages in members.values():
            pages.sort()
        self.sets: list[LabelSet] = sorted(members, key=lambda s: members[s][0])
        self.members = [members[s] for s in self.sets]
        self.space = CompetenceSpace(ontology, stored_terms(self.sets))
        self.paths = LearningPaths(self.space.ontology)
        self.matrix = self.space.vectors(self.sets)
        self._group = {
            (key, page): i for i, pages in enumerate(self.members) for _, key, page in pages
        }
        # Per dimension, term -> the sets that have it: a step's candidates without a pass
        # over every set.
        self._having: list[dict[str, list[int]]] = [{}, {}, {}]
        for i, labels in enumerate(self.sets):
            for having, terms in zip(self._having, labels, strict=True):
                for term in terms:
                    having.setdefault(term, []).append(i)

    @classmethod
    def load(cls, store: Store, ontology: Ontology | None) -> CompetenceIndex:
        """Every page with final labels (a person's where one settled it, else the newest
        prediction's), grouped by its label set."""
        terms: dict[Page, list[set[str]]] = {}
        column = {d: i for i, d in enumerate(DIMENSIONS)}
        for key, page, dimension, term in store.query(f"WITH {_NEWEST} SELECT * FROM final"):
            if dimension in column:
                terms.setdefault((key, page), [set(), set(), set()])[column[dimension]].add(term)
        members: dict[LabelSet, list[tuple[str, str, int]]] = {}
        for key, page, path in store.query(f"WITH {_NEWEST} SELECT key, page, path FROM newest"):
            found = terms.get((key, page))
            if found is not None:
                labels = tuple(frozenset(t) for t in found)
                members.setdefault(labels, []).append((os.fsdecode(path), key, page))  # type: ignore[arg-type]
        return cls(members, ontology or Ontology(version="none", terms={}))

    def __len__(self) -> int:
        return len(self._group)

    def labels_of(self, page: Page) -> LabelSet | None:
        group = self._group.get(page)
        return None if group is None else self.sets[group]

    def scores(self, labels: LabelSet) -> np.ndarray:
        """Each label set's closeness to `labels`: the dot product of their vectors."""
        return self.matrix @ self.space.vectors([labels])[0]

    def related(self, labels: LabelSet, k: int, skip: Page | None = None) -> list[Match]:
        """The `k` pages whose competences are closest to `labels`, closest first."""
        scores = self.scores(labels)
        order = np.argsort(-scores, kind="stable")
        why = lambda i: self.space.why(labels, self.sets[i])  # noqa: E731
        return list(self._pages(order, scores, k, skip, why))

    def steps(
        self, labels: LabelSet, k: int, *, after: bool, skip: Page | None = None
    ) -> list[Match]:
        """The `k` pages that come after (`after`) or before `labels` on a learning path, most
        related first, each with its step (`LearningPaths`)."""
        areas = self.paths.areas(labels[0], after=after)
        scopes = self.paths.scopes(labels[1], after=after)
        reasons: dict[int, str] = {}
        for term in sorted(areas):
            for i in self._having[0].get(term, ()):
                reasons[i] = f"{reasons[i]}; {areas[term]}" if i in reasons else areas[term]
        by_scope: dict[int, list[str]] = {}
        for term in sorted(scopes):
            for i in self._having[1].get(term, ()):
                if i not in reasons and self.sets[i][0] == labels[0]:
                    by_scope.setdefault(i, []).append(scopes[term])
        wider = "wider" if after else "narrower"
        for i, steps in by_scope.items():
            reasons[i] = f"same Areas, {wider} Scope: " + "; ".join(steps)
        scores = self.scores(labels)
        found = np.fromiter(reasons, dtype=np.int64, count=len(reasons))
        order = found[np.lexsort((found, -scores[found]))]  # by score, ties in set order
        return list(self._pages(order, scores, k, skip, reasons.__getitem__))

    def _pages(self, order, scores, k: int, skip, why: Callable[[int], str]) -> Iterator[Match]:
        """The first `k` pages of the sets in `order` (but `skip`), each set's why said once."""
        count = 0
        for i in order:
            text = None
            for path, key, page in self.members[i]:
                if count == k:
                    return
                if (key, page) == skip:
                    continue
                text = why(i) if text is None else text
                count += 1
                yield Match(key, page, path, float(scores[i]), text, self.sets[i])

    def pages(self) -> Iterator[tuple[str, str, int, int]]:
        """(path, key, page, row of `matrix`) of every page, in path order within each set."""
        for i, pages in enumerate(self.members):
            for path, key, page in pages:
                yield path, key, page, i
