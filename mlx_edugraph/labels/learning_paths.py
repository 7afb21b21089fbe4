"""Learning paths over the ontology: which competences build on a page's (`next`) and which it
builds on (`before`), each step with the links that make it one (docs/related.md).

Areas follow the release's `expands` links and the part-of hierarchy: a term builds on another
when it, or a term it is part of, expands that term or a term that is part of it. Scopes follow
`expands` links between Scopes only, one link at a time (the next Scope, not every wider one).
"""

from __future__ import annotations

from collections.abc import Iterable

from mlx_edugraph.labels.ontology import Ontology

NUMERIC_RANGE_ORDER: tuple[tuple[str, str], ...] = (
    ("NumbersSmaller20", "NumbersSmaller10"),
    ("NumbersSmaller100", "NumbersSmaller20"),
    ("NumbersSmaller1000", "NumbersSmaller100"),
    ("NumbersLarger10", "NumbersSmaller10"),
    ("NumbersLarger20", "NumbersLarger10"),
    ("NumbersLarger20", "NumbersSmaller20"),
    ("NumbersLarger100", "NumbersLarger20"),
    ("NumbersLarger100", "NumbersSmaller100"),
    ("NumbersLarger1000", "NumbersLarger100"),
    ("NumbersLarger1000", "NumbersSmaller1000"),
)
"""EduGraph v0.21.0's `expands` links between its numeric ranges (wider expands narrower).
v0.4.0 has the same Scopes but links no Scopes; for an ontology without Scope links of its own,
these order the ones it has."""


def _links(ontology: Ontology, dimension: str) -> list[tuple[str, str]]:
    return sorted(
        (name, base)
        for name, term in ontology.terms.items()
        if term.dimension == dimension
        for base in term.expands
    )


class LearningPaths:
    """The steps from a page's Areas and Scopes to the terms after (or before) them."""

    def __init__(self, ontology: Ontology):
        self.ontology = ontology
        self.area_links = _links(ontology, "Area")
        own = _links(ontology, "Scope")
        self.scope_links = own or [
            (wide, narrow)
            for wide, narrow in NUMERIC_RANGE_ORDER
            if ontology.dimension_of(wide) == ontology.dimension_of(narrow) == "Scope"
        ]
        self._below: dict[str, frozenset[str]] = {}

    def _with_parts(self, term: str) -> frozenset[str]:
        """The term and every term part of it (cached: a root has hundreds)."""
        found = self._below.get(term)
        if found is None:
            found = self._below[term] = frozenset({term} | self.ontology.descendants(term))
        return found

    def areas(self, areas: Iterable[str], *, after: bool) -> dict[str, str]:
        """Area term -> why it comes after (`after`) or before one of `areas` (not one of
        `areas` itself: what a page practises is no step from it)."""
        known = self.ontology
        areas = set(areas)
        steps: dict[str, str] = {}
        for mine in sorted(areas):
            below = self._with_parts(mine)
            above = {mine} | known.ancestors(mine)
            for later, base in self.area_links:
                if after and base in below:
                    for term in sorted(self._with_parts(later)):
                        steps.setdefault(term, _reason(later, base, term, (base, mine)))
                elif not after and later in above:
                    for term in sorted(self._with_parts(base)):
                        steps.setdefault(term, _reason(later, base, mine, (term, base)))
        return {term: why for term, why in steps.items() if term not in areas}

    def scopes(self, scopes: Iterable[str], *, after: bool) -> dict[str, str]:
        """Scope term -> why it is the next (`after`) or the previous Scope of one of `scopes`."""
        mine = set(scopes)
        steps: dict[str, str] = {}
        for wide, narrow in self.scope_links:
            if after and narrow in mine and wide not in mine:
                steps.setdefault(wide, f"{wide} expands {narrow}")
            elif not after and wide in mine and narrow not in mine:
                steps.setdefault(narrow, f"{wide} expands {narrow}")
        return steps


def _reason(later: str, base: str, later_term: str, base_side: tuple[str, str]) -> str:
    """The link, e.g. "DecimalAddition expands IntegerAddition", with the part-of steps from
    the pages' own terms to it: `later_term` is (part of) `later`; `base_side` is (part, whole)
    on the other end."""
    text = f"{later} expands {base}"
    if later_term != later:
        text = f"{later_term} is part of {later}, which expands {base}"
    part, whole = base_side
    if part != whole:
        text += f" ({part} is part of {whole})"
    return text
