"""The ontology loader against the real EduGraph release files (from `../shared`; skipped
without them), on small files written here, and its JSON cache."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from mlx_edugraph.labels import ontology as ontology_module
from mlx_edugraph.labels.ontology import (
    Ontology,
    OntologyError,
    Term,
    load_ontology,
    parse_ontology,
    version_from_name,
)
from mlx_edugraph.paths import cache_dir
from tests.conftest import ONTOLOGY_V04_RDF, ONTOLOGY_V04_TTL
from tests.ontology_files import SHARED

V04_TTL = SHARED / "ontology" / "edugraph-v0.4.0.ttl"
V04_RDF = SHARED / "ontology" / "edugraph-v0.4.0.rdf"
V021_RDF = SHARED / "ontology" / "edugraph-v0.21.0-math.rdf"

TINY_TTL = """\
@prefix edu: <http://edugraph.io/edu#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
{header}
edu:Root a owl:NamedIndividual, edu:Area ; rdfs:isDefinedBy "The root." .
edu:Leaf a owl:NamedIndividual, edu:Area ; edu:partOfArea edu:Root ; rdfs:comment "A leaf." .
"""


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLX_EDUGRAPH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def release(path: Path) -> Ontology:
    """A real release file from `../shared`, parsed without the cache; skipped without it."""
    if not path.is_file():
        pytest.skip(f"needs {path} (not present)")
    return load_ontology(path, use_cache=False)


# Module fixtures run outside the per-test home, hence no cache.
@pytest.fixture(scope="module")
def v04() -> Ontology:
    return release(V04_TTL)


@pytest.fixture(scope="module")
def v04_rdf() -> Ontology:
    return release(V04_RDF)


@pytest.fixture(scope="module")
def v021() -> Ontology:
    return release(V021_RDF)


def dimension_counts(ontology: Ontology) -> dict[str, int]:
    return dict(Counter(term.dimension for term in ontology.terms.values()))


def test_v04_counts_per_dimension(v04: Ontology) -> None:
    assert dimension_counts(v04) == {"Area": 78, "Scope": 91, "Ability": 149}
    assert v04.version == "v0.4.0"


def test_v04_turtle_and_rdf_xml_agree_exactly(v04: Ontology, v04_rdf: Ontology) -> None:
    assert dimension_counts(v04_rdf) == dimension_counts(v04)
    assert v04_rdf.terms.keys() == v04.terms.keys()
    for name, term in v04.terms.items():
        other = v04_rdf.terms[name]
        assert (other.parents, other.definition, other.comment) == (
            term.parents,
            term.definition,
            term.comment,
        )
    assert v04_rdf == v04


def test_v04_known_facts(v04: Ontology) -> None:
    multiplication = v04.get("IntegerMultiplication")
    assert multiplication is not None
    assert multiplication.dimension == "Area"
    assert multiplication.parents == ("IntegerArithmetic",)
    assert multiplication.iri == "http://edugraph.io/edu#IntegerMultiplication"
    assert multiplication.definition.startswith("Multiplying two or multiple integers.")
    assert "Arithmetic" in v04.ancestors("IntegerArithmetic")
    assert {"IntegerArithmetic", "Arithmetic"} <= v04.ancestors("IntegerMultiplication")
    assert v04.dimension_of("ProcedureExecution") == "Ability"
    assert v04.get("ProcedureExecution").parents == ("ProcedureApplication",)
    assert v04.dimension_of("NumbersSmaller10") == "Scope"
    assert v04.dimension_of("NoSuchTerm") is None
    assert v04.get("NoSuchTerm") is None


def test_v021_uses_slash_iris_and_part_of(v021: Ontology) -> None:
    assert dimension_counts(v021) == {"Area": 203, "Scope": 117, "Ability": 124}
    assert v021.version == "v0.21.0"
    execution = v021.get("ProcedureExecution")
    assert execution.iri == "http://edugraph.io/edu/ProcedureExecution"
    assert execution.parents == ("ProcedureApplication",)
    assert v021.get("IntegerArithmetic").parents == ("ArithmeticSpaces",)
    assert v021.ancestors("IntegerArithmetic") == {"ArithmeticSpaces", "Arithmetic"}
    assert v021.dimension_of("NumbersSmaller10") == "Scope"
    # The release reorganised arithmetic: the operation terms the model emits are gone.
    assert v021.get("IntegerMultiplication") is None


def test_paths_children_and_terms_of(v04: Ontology) -> None:
    assert v04.paths("IntegerMultiplication") == [
        ["Mathematics", "Arithmetic", "IntegerArithmetic", "IntegerMultiplication"]
    ]
    # Two parents give two root-to-term chains.
    assert v04.paths("IntegerNotation") == [
        ["Mathematics", "Arithmetic", "IntegerNotation"],
        ["Mathematics", "IntuitiveMathematics", "NumberSense", "NumberNotation", "IntegerNotation"],
    ]
    assert v04.paths("Mathematics") == [["Mathematics"]]
    assert v04.paths("NoSuchTerm") == []
    assert "IntegerMultiplication" in v04.children("IntegerArithmetic")
    assert v04.children("IntegerMultiplication") == []
    areas = v04.terms_of("Area")
    assert len(areas) == 78 and areas == sorted(areas)
    with pytest.raises(ValueError, match="Areas"):
        v04.terms_of("Areas")


def test_hierarchy_is_cycle_safe() -> None:
    terms = {
        "A": Term("A", "Area", parents=("C",)),
        "B": Term("B", "Area", parents=("A",)),
        "C": Term("C", "Area", parents=("B", "Root")),
        "Root": Term("Root", "Area"),
    }
    ontology = Ontology(version="test", terms=terms)
    assert ontology.ancestors("A") == {"B", "C", "Root"}
    assert ontology.paths("A") == [["B", "C", "A"], ["Root", "C", "A"]]


def test_unknown_parent_is_rejected() -> None:
    with pytest.raises(ValueError, match="Missing"):
        Ontology(version="test", terms={"A": Term("A", "Area", parents=("Missing",))})


def test_search(v04: Ontology) -> None:
    assert v04.search("IntegerMultiplication")[0] == "IntegerMultiplication"
    assert v04.search("intmul") == ["IntegerMultiplication"]
    assert set(v04.search("multiplication", limit=3)) == {
        "DecimalMultiplication",
        "FractionMultiplication",
        "IntegerMultiplication",
    }
    assert "IntegerMultiplication" in v04.search("multiplicaton")  # a typo
    assert v04.search("numbers", "Scope")[0].startswith("Numbers")
    assert all(v04.dimension_of(n) == "Scope" for n in v04.search("e", "Scope", limit=50))
    assert v04.search("", "Area", limit=3) == v04.terms_of("Area")[:3]
    assert v04.search("zzzzqqq") == []


def test_json_round_trip(v04: Ontology, v021: Ontology) -> None:
    for ontology in (v04, v021):
        assert Ontology.from_json(ontology.to_json()) == ontology


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        "{}",
        '{"schema": 99, "version": "v", "terms": []}',
        '{"schema": 1, "version": 4, "terms": []}',
        '{"schema": 1, "version": "v", "terms": [{"name": "A"}]}',
        '{"schema": 1, "version": "v", "terms": [{"name": "A", "dimension": "Colour",'
        ' "parents": [], "definition": "", "comment": "", "iri": ""}]}',
        '{"schema": 1, "version": "v", "terms": [{"name": "A", "dimension": "Area",'
        ' "parents": ["B"], "definition": "", "comment": "", "iri": ""}]}',
        '{"schema": 1, "version": "v", "terms": [{"name": "A", "dimension": "Area",'
        ' "parents": "A", "definition": "", "comment": "", "iri": ""}]}',
    ],
)
def test_from_json_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError):
        Ontology.from_json(text)


def test_load_caches_the_parsed_form(monkeypatch: pytest.MonkeyPatch) -> None:
    v04 = load_ontology(ONTOLOGY_V04_RDF, use_cache=False)
    assert load_ontology(ONTOLOGY_V04_RDF) == v04
    cached = list((cache_dir() / "ontology" / "parsed").glob("*.json"))
    assert len(cached) == 1

    def no_parsing(data: bytes, source: str) -> Ontology:
        raise AssertionError("parsed again despite the cache")

    monkeypatch.setattr(ontology_module, "_parse", no_parsing)
    assert load_ontology(ONTOLOGY_V04_RDF) == v04


def test_corrupt_cache_loads_as_a_miss() -> None:
    v04 = load_ontology(ONTOLOGY_V04_TTL)
    [cached] = (cache_dir() / "ontology" / "parsed").glob("*.json")
    cached.write_text('{"schema": 1, "terms": [', encoding="utf-8")
    assert load_ontology(ONTOLOGY_V04_TTL) == v04
    assert Ontology.from_json(cached.read_text(encoding="utf-8")).terms == v04.terms


def test_version_sources(tmp_path: Path) -> None:
    plain = TINY_TTL.format(header="")
    embedded = TINY_TTL.format(
        header='<http://edugraph.io/edu> a owl:Ontology ; owl:versionInfo "0.5.0" .'
    )
    by_iri = TINY_TTL.format(
        header="<http://edugraph.io/edu> a owl:Ontology ;"
        " owl:versionIRI <http://edugraph.io/edu/0.6.1> ."
    )
    assert parse_ontology(plain.encode(), "x.ttl").version == "unknown"
    assert parse_ontology(plain.encode(), "edugraph-v0.9.0.ttl").version == "v0.9.0"
    assert parse_ontology(plain.encode(), "edugraph-v0.9.0.ttl", "v1.0").version == "v1.0"
    assert parse_ontology(embedded.encode(), "edugraph-v0.9.0.ttl", "v1.0").version == "v0.5.0"
    assert parse_ontology(by_iri.encode(), "x.ttl").version == "v0.6.1"
    # The cache keeps the file's own version only, so the caller's fallback applies on a hit.
    path = tmp_path / "tiny.ttl"
    path.write_text(plain, encoding="utf-8")
    assert load_ontology(path, "v2.0").version == "v2.0"
    assert load_ontology(path).version == "unknown"


def test_tiny_file_terms() -> None:
    ontology = parse_ontology(TINY_TTL.format(header="").encode(), "tiny.ttl")
    assert ontology.get("Leaf") == Term(
        "Leaf", "Area", ("Root",), "", "A leaf.", "http://edugraph.io/edu#Leaf"
    )
    assert ontology.get("Root").definition == "The root."


def test_version_from_name() -> None:
    assert version_from_name("edugraph-v0.21.0-math.rdf") == "v0.21.0"
    assert version_from_name("/x/v9/core-ontology.rdf") is None


@pytest.mark.parametrize("source", [ONTOLOGY_V04_TTL, ONTOLOGY_V04_RDF])
def test_format_is_sniffed_without_a_known_suffix(source: Path, tmp_path: Path) -> None:
    path = tmp_path / "ontology.download"
    shutil.copyfile(source, path)
    assert load_ontology(path, use_cache=False).terms == load_ontology(source).terms


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.ttl", "@prefix edu: <http://edugraph.io/edu#> .\nedu:A edu:b {", "as Turtle"),
        ("broken.rdf", '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="x"><unclosed>', "as RDF/XML"),
        ("binary.ttl", "\udcff\udcfe", "as Turtle"),
        ("empty.ttl", "", "no EduGraph terms"),
        ("other.ttl", "<http://x/a> <http://x/b> <http://x/c> .", "no EduGraph terms"),
    ],
)
def test_malformed_file_names_the_file(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(OntologyError, match=message) as caught:
        load_ontology(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.ttl"
    with pytest.raises(OntologyError, match="nowhere.ttl"):
        load_ontology(path)


def test_json_form_is_plain_json(v04: Ontology) -> None:
    record = json.loads(v04.to_json())
    assert record["version"] == "v0.4.0"
    assert len(record["terms"]) == 318
