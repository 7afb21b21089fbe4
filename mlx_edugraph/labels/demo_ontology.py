"""The demo's own ontology: the EduGraph v0.4.0 terms the demo model answers with and its truth
file names, with their real parents, so the demo checks, completes and draws trees offline.

Written here from facts of the v0.4.0 release (names, `partOf*` parents, `expands*` links among
these terms; `tests/test_demo_ontology.py` checks them against the release when it is beside
the checkout). The release's definitions and comments are not copied: outside the demo, the
release itself is used (`ontology_source`).
"""

from __future__ import annotations

from mlx_edugraph.labels.ontology import Ontology, Term

DEMO_ONTOLOGY_VERSION = "v0.4.0-demo"
"""Says in every record it checked that the demo's subset, not the release, was at hand."""

DEMO_TERMS: dict[str, dict[str, tuple[str, ...]]] = {
    "Area": {
        "Mathematics": (),
        "Arithmetic": ("Mathematics",),
        "IntegerArithmetic": ("Arithmetic",),
        "IntegerAddition": ("IntegerArithmetic",),
        "IntegerMultiplication": ("IntegerArithmetic",),
        "IntuitiveMathematics": ("Mathematics",),
        "NumberSense": ("IntuitiveMathematics",),
        "Numeration": ("NumberSense",),
        "NumerationWithIntegers": ("Numeration",),
        "SpatialSense": ("IntuitiveMathematics",),
        "Measurement": ("SpatialSense",),
        "MeasuringTime": ("Measurement",),
    },
    "Scope": {
        "AbstractionScope": (),
        "NumericAbstraction": ("AbstractionScope",),
        "NumericRange": ("NumericAbstraction",),
        "NumbersSmaller10": ("NumericRange",),
        "NumbersSmaller20": ("NumericRange",),
        "NumbersSmaller100": ("NumericRange",),
        "NumbersWithoutZero": ("NumericRange",),
        "TimeAbstraction": ("AbstractionScope",),
        "TimeIntervals": ("TimeAbstraction",),
        "HourIntervals": ("TimeIntervals",),
        "MeasurementScope": (),
        "TimeMeasurement": ("MeasurementScope",),
        "AnalogClock": ("TimeMeasurement",),
        "RepresentationalScope": (),
        "NumberRepresentation": ("RepresentationalScope",),
        "VisualNumbers": ("NumberRepresentation",),
        "CountingSymbols": ("VisualNumbers",),
    },
    "Ability": {
        "AnalyticalCapability": (),
        "LogicalThinking": ("AnalyticalCapability",),
        "LogicalProcessing": ("LogicalThinking",),
        "ProcedureApplication": ("LogicalProcessing",),
        "ProcedureExecution": ("ProcedureApplication",),
        "ProcedureIdentification": ("ProcedureApplication",),
        "CommunicationCapability": (),
        "Processing": ("CommunicationCapability",),
        "Reception": ("Processing",),
        "VisualReception": ("Reception",),
        "VisualRecognition": ("VisualReception",),
    },
}
"""Dimension -> term -> its v0.4.0 parents (every parent is a term here: the subset is closed
upwards, so each term's place in the tree is the release's)."""

DEMO_EXPANDS: dict[str, tuple[str, ...]] = {"IntegerMultiplication": ("IntegerAddition",)}
"""The release's `expands` links between two of these terms (multiplication builds on
addition): `next` and `before` follow them on the demo as on the release."""


def demo_ontology() -> Ontology:
    """The demo subset as an `Ontology` (names, parents and expands links; no definitions)."""
    terms = {
        name: Term(
            name,
            dimension,
            parents,
            iri=f"http://edugraph.io/edu#{name}",
            expands=DEMO_EXPANDS.get(name, ()),
        )
        for dimension, named in DEMO_TERMS.items()
        for name, parents in named.items()
    }
    return Ontology(version=DEMO_ONTOLOGY_VERSION, terms=terms)
