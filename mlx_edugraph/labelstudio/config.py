"""The Label Studio labeling config: one `<Taxonomy>` per dimension, built from the ontology.

Taxonomy carries the part-of hierarchy as nested `<Choice>`s and records each selection as its
path from the root, so a reviewer browses hundreds of terms as a tree instead of a flat list. A
term with several parents appears under each of them. Terms an export holds that the ontology
lacks (a model's invented or wrong-dimension terms) sit under one extra branch per dimension, so
they show, flagged by where they sit, and a reviewer can keep or drop them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.prediction import DIMENSIONS

IMAGE_NAME = "image"
"""The `<Image>` tag's name: every result's `to_name`."""

UNSUPPORTED_NAME = "Error"
UNSUPPORTED_VALUE = "UnsupportedMaterial"
"""A single choice for "not K-4 math material", named as the model's own answer names it."""


def outside_branch(ontology: Ontology | None) -> str:
    """The branch holding terms the ontology lacks (the version named, so it is clear which)."""
    if ontology is None:
        return "Unverified (no ontology at hand)"
    return f"Not in EduGraph {ontology.version}"


class TermTree:
    """Where each term sits in one export's taxonomies: the paths of predictions and configs."""

    def __init__(self, ontology: Ontology | None, extra: Mapping[str, Iterable[str]]) -> None:
        self.ontology = ontology
        self.outside = outside_branch(ontology)
        self.extra = {d: sorted(set(extra.get(d, ())) - set(self._known(d))) for d in DIMENSIONS}

    def _known(self, dimension: str) -> list[str]:
        return self.ontology.terms_of(dimension) if self.ontology else []

    def path(self, dimension: str, term: str) -> list[str]:
        """The chosen path to `term`: its first root-to-term chain in the ontology, or the
        branch of terms the ontology lacks."""
        if self.ontology is not None and self.ontology.dimension_of(term) == dimension:
            return self.ontology.paths(term)[0]
        return [self.outside, term]

    def config(self) -> str:
        """The labeling config XML."""
        view = ET.Element("View")
        ET.SubElement(view, "Image", name=IMAGE_NAME, value="$image", zoom="true")
        for dimension in DIMENSIONS:
            ET.SubElement(view, "Header", value=dimension)
            taxonomy = ET.SubElement(
                view, "Taxonomy", name=dimension, toName=IMAGE_NAME, showFullPath="true"
            )
            known = self._known(dimension)
            roots = [t for t in known if not self.ontology.terms[t].parents]
            for root in roots:
                self._add(taxonomy, root, ())
            if self.extra[dimension]:
                branch = ET.SubElement(taxonomy, "Choice", value=self.outside)
                for term in self.extra[dimension]:
                    ET.SubElement(branch, "Choice", value=term)
        ET.SubElement(view, "Header", value="Not K-4 math material")
        unsupported = ET.SubElement(
            view, "Choices", name=UNSUPPORTED_NAME, toName=IMAGE_NAME, choice="single"
        )
        ET.SubElement(unsupported, "Choice", value=UNSUPPORTED_VALUE)
        ET.indent(view)
        return ET.tostring(view, encoding="unicode") + "\n"

    def _add(self, parent: ET.Element, term: str, above: tuple[str, ...]) -> None:
        node = ET.SubElement(parent, "Choice", value=term)
        for child in self.ontology.children(term):
            if child not in above:  # a cycle in a broken ontology stops here
                self._add(node, child, (*above, term))
