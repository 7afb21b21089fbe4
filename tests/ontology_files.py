"""The files tests read from `../shared` beside the checkout, and stand-ins for a lone checkout.

A contributor's fresh clone has no `../shared`. Tests that only need *an* EduGraph ontology get
`SMALL_ONTOLOGY` written in EduGraph's own Turtle and RDF/XML forms; tests that check facts of
the real release files are marked `needs_shared(...)`, which skips them with the missing path.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
"""The folder beside the checkout that holds the real ontology releases and chat template."""

SMALL_ONTOLOGY: dict[str, dict[str, tuple[str, ...]]] = {
    "Area": {
        "Mathematics": (),
        "Arithmetic": ("Mathematics",),
        "Algebra": ("Mathematics",),
        "Geometry": ("Mathematics",),
        "IntuitiveMathematics": ("Mathematics",),
        "IntegerArithmetic": ("Arithmetic",),
        "IntegerAddition": ("IntegerArithmetic",),
        "IntegerMultiplication": ("IntegerArithmetic",),
        "RationalsArithmetic": ("Arithmetic",),
        "DecimalArithmetic": ("RationalsArithmetic",),
        "DecimalMultiplication": ("DecimalArithmetic",),
        "FractionArithmetic": ("RationalsArithmetic",),
        "FractionMultiplication": ("FractionArithmetic",),
        "NumberSense": ("IntuitiveMathematics",),
        "NumberNotation": ("NumberSense",),
        "IntegerNotation": ("Arithmetic", "NumberNotation"),
        "Numeration": ("NumberSense",),
        "NumerationWithIntegers": ("Numeration",),
        "SpatialSense": ("IntuitiveMathematics",),
        "Measurement": ("SpatialSense",),
        "MeasuringTime": ("Measurement",),
    },
    "Scope": {
        "AbstractionScope": (),
        "MeasurementScope": (),
        "RepresentationalScope": (),
        "NumericAbstraction": ("AbstractionScope",),
        "NumericRange": ("NumericAbstraction",),
        "NumbersSmaller10": ("NumericRange",),
        "NumbersSmaller20": ("NumericRange",),
        "NumbersSmaller100": ("NumericRange",),
        "NumbersWithoutZero": ("NumericRange",),
        "TimeAbstraction": ("AbstractionScope",),
        "TimeIntervals": ("TimeAbstraction",),
        "HourIntervals": ("TimeIntervals",),
        "TimeMeasurement": ("MeasurementScope",),
        "AnalogClock": ("TimeMeasurement",),
        "NumberRepresentation": ("RepresentationalScope",),
        "VisualNumbers": ("NumberRepresentation",),
        "CountingSymbols": ("VisualNumbers",),
    },
    "Ability": {
        "AnalyticalCapability": (),
        "CommunicationCapability": (),
        "LogicalThinking": ("AnalyticalCapability",),
        "LogicalProcessing": ("LogicalThinking",),
        "ProcedureApplication": ("LogicalProcessing",),
        "ProcedureExecution": ("ProcedureApplication",),
        "ProcedureIdentification": ("ProcedureApplication",),
        "Processing": ("CommunicationCapability",),
        "Reception": ("Processing",),
        "VisualReception": ("Reception",),
        "VisualRecognition": ("VisualReception",),
    },
}
"""Terms (with their v0.4.0 parents) that the tests and the tiny models' taught answers use."""

SMALL_EXPANDS: dict[str, tuple[str, ...]] = {
    "DecimalMultiplication": ("IntegerMultiplication",),
    "FractionMultiplication": ("IntegerMultiplication",),
    "IntegerArithmetic": ("IntegerNotation",),
    "IntegerMultiplication": ("IntegerAddition",),
    "NumerationWithIntegers": ("IntegerNotation",),
}
"""The v0.4.0 `expandsArea` links among those terms (for `next` and `before`)."""


def shared_file(relative: str) -> Path | None:
    """`../shared/<relative>` when it is there, else None."""
    path = SHARED / relative
    return path if path.is_file() else None


def needs_shared(*relative: str) -> pytest.MarkDecorator:
    """Skip a test that checks facts of these real files when they are not beside the checkout."""
    missing = next((SHARED / name for name in relative if shared_file(name) is None), None)
    return pytest.mark.skipif(missing is not None, reason=f"needs {missing} (not present)")


def small_ontology_turtle() -> str:
    """`SMALL_ONTOLOGY` as Turtle in the v0.4.0 release's form (hash IRIs, partOfArea etc.)."""
    lines = [
        "@prefix edu: <http://edugraph.io/edu#> .",
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .",
        "@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .",
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .",
        "",
        "<http://edugraph.io/edu> rdf:type owl:Ontology .",
        "",
    ]
    for dimension, terms in SMALL_ONTOLOGY.items():
        lines.append(f"edu:{dimension} rdf:type owl:Class .")
        for name, parents in terms.items():
            statement = f"edu:{name} rdf:type owl:NamedIndividual , edu:{dimension}"
            for parent in parents:
                statement += f" ;\n    edu:partOf{dimension} edu:{parent}"
            for base in SMALL_EXPANDS.get(name, ()):
                statement += f" ;\n    edu:expands{dimension} edu:{base}"
            lines.append(statement + f' ;\n    rdfs:isDefinedBy "Stand-in for {name}." .')
        lines.append("")
    return "\n".join(lines)


def write_small_ontology(folder: Path) -> tuple[Path, Path]:
    """Write the small ontology as `edugraph-v0.4.0.ttl` and `.rdf` (RDF/XML) into `folder`."""
    from rdflib import Graph

    folder.mkdir(parents=True, exist_ok=True)
    ttl = folder / "edugraph-v0.4.0.ttl"
    ttl.write_text(small_ontology_turtle(), encoding="utf-8")
    rdf = folder / "edugraph-v0.4.0.rdf"
    Graph().parse(ttl, format="turtle").serialize(rdf, format="xml")
    return ttl, rdf


def v04_files() -> tuple[Path, Path, bool]:
    """The v0.4.0 Turtle and RDF/XML files tests use, and whether they are the real release.

    Without `../shared`, the small ontology is written once per test run into a temp folder.
    """
    ttl, rdf = (shared_file(f"ontology/edugraph-v0.4.0.{suffix}") for suffix in ("ttl", "rdf"))
    if ttl and rdf:
        return ttl, rdf, True
    folder = Path(tempfile.mkdtemp(prefix="mlx-edugraph-test-ontology-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return (*write_small_ontology(folder), False)
