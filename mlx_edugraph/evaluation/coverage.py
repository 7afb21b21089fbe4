"""What a collection of worksheets covers: counts along the ontology's hierarchy, its gaps,
Area x Scope co-occurrence, confidence and review progress.

Pure: it takes the pages (`store.collection.pages`) and the ontology and computes every figure
of `mlx-edugraph report` and of the TUI's coverage screen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.store.collection import CollectionPage

CONFIDENCE_BINS = 10


@dataclass
class Node:
    """One ontology term in a coverage tree."""

    term: str
    at: int
    """Pages labeled with this very term."""
    below: int
    """Pages labeled with this term or any term part of it (each page once)."""
    children: list[Node] = field(default_factory=list)


@dataclass
class Coverage:
    """Every figure of a coverage report for one set of pages."""

    pages: int
    reviewed: int
    """Pages whose labels a person accepted or corrected (their labels are the ones counted)."""
    flagged: int
    unreviewed: int
    gone: int
    """Pages whose file is no longer where the store saw it (still counted)."""
    outcomes: Counter
    trees: dict[str, list[Node]]
    gaps: dict[str, dict[str, list[str]]]
    """Per dimension, per top-level branch: the terms no page has (at or below)."""
    cooccurrence: Counter
    """(Area term, Scope term) -> pages labeled with both."""
    confidence: list[int]
    """Predicted pages per tenth of their least confident label (0-0.1, ..., 0.9-1)."""
    unknown: dict[str, Counter]
    """Per dimension: terms the ontology does not have (or has under another dimension)."""

    @property
    def ontology_known(self) -> bool:
        return bool(self.trees)


def coverage(pages: Sequence[CollectionPage], ontology: Ontology | None) -> Coverage:
    """The coverage of `pages`; without an ontology there are no trees or gaps (every term is
    then listed as unverified under `unknown`)."""
    # Pages share term sets (a collection has few distinct answers): count the sets first,
    # then walk each distinct set up the hierarchy once.
    sets: dict[str, Counter] = {d: Counter() for d in DIMENSIONS}
    pair_sets: Counter = Counter()
    bins = [0] * CONFIDENCE_BINS
    for page in pages:
        for dimension in DIMENSIONS:
            sets[dimension][frozenset(page.terms[dimension])] += 1
        pair_sets[(frozenset(page.terms["Area"]), frozenset(page.terms["Scope"]))] += 1
        if page.min_confidence is not None and page.source == "predicted":
            bins[min(int(page.min_confidence * CONFIDENCE_BINS), CONFIDENCE_BINS - 1)] += 1
    known = {name: term.dimension for name, term in ontology.terms.items()} if ontology else {}
    at: dict[str, Counter] = {d: Counter() for d in DIMENSIONS}
    below: dict[str, Counter] = {d: Counter() for d in DIMENSIONS}
    unknown: dict[str, Counter] = {d: Counter() for d in DIMENSIONS}
    for dimension in DIMENSIONS:
        for terms, count in sets[dimension].items():
            covered: set[str] = set()
            for term in terms:
                if known.get(term) != dimension:
                    unknown[dimension][term] += count
                    continue
                at[dimension][term] += count
                covered |= ontology.ancestors(term) | {term}
            for term in covered:
                below[dimension][term] += count
    pairs: Counter = Counter()
    for (areas, scopes), count in pair_sets.items():
        for area in areas:
            for scope in scopes:
                pairs[(area, scope)] += count
    trees: dict[str, list[Node]] = {}
    gaps: dict[str, dict[str, list[str]]] = {}
    if ontology is not None:
        for dimension in DIMENSIONS:
            roots = [t for t in ontology.terms_of(dimension) if not ontology.get(t).parents]
            trees[dimension] = [_node(ontology, r, at[dimension], below[dimension]) for r in roots]
            gaps[dimension] = {
                root.term: sorted(_missing(root)) for root in _branches(trees[dimension])
            }
    reviews = Counter(page.review for page in pages)
    return Coverage(
        pages=len(pages),
        reviewed=reviews["accepted"] + reviews["corrected"],
        flagged=reviews["flagged"],
        unreviewed=reviews[""],
        gone=sum(not page.exists for page in pages),
        outcomes=Counter(page.outcome for page in pages),
        trees=trees,
        gaps=gaps,
        cooccurrence=pairs,
        confidence=bins,
        unknown={d: c for d, c in unknown.items() if c},
    )


def _node(ontology: Ontology, term: str, at: Counter, below: Counter, seen=()) -> Node:
    chain = (*seen, term)
    children = [c for c in ontology.children(term) if c not in chain]  # a cycle stops here
    return Node(
        term, at[term], below[term], [_node(ontology, c, at, below, chain) for c in children]
    )


def _branches(roots: list[Node]) -> list[Node]:
    """The top-level branches: the children of a dimension's single root, else the roots."""
    if len(roots) == 1 and roots[0].children:
        return roots[0].children
    return roots


def _missing(node: Node) -> set[str]:
    """The highest terms with no page: a term without pages stands for all its parts."""
    if node.below == 0:
        return {node.term}
    found: set[str] = set()
    for child in node.children:
        found |= _missing(child)
    return found


def walk(nodes: list[Node], depth: int = 0):
    """(depth, node) for every node of the trees, parents before children."""
    for node in nodes:
        yield depth, node
        yield from walk(node.children, depth + 1)
