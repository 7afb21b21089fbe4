"""The demo whole offline: its own ontology (facts of EduGraph v0.4.0, checked against the release
when it is beside the checkout), used where no release is at hand; completion from the store's
terms outside the demo; the offline warning in one short line, the detail behind --verbose."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlx_edugraph.cli import main
from mlx_edugraph.labels.demo_ontology import (
    DEMO_EXPANDS,
    DEMO_ONTOLOGY_VERSION,
    DEMO_TERMS,
    demo_ontology,
)
from mlx_edugraph.labels.ontology import load_ontology
from mlx_edugraph.labels.ontology_source import cached_release, resolve_ontology
from mlx_edugraph.prediction import Label, Prediction
from mlx_edugraph.store.sqlite_store import Store
from mlx_edugraph.tinymodel import TAUGHT_ANSWERS
from mlx_edugraph.tinymodel.demo import demo_truth
from tests.conftest import ONTOLOGY_V04_RDF
from tests.ontology_files import needs_shared, shared_file

RELEASE = "ontology/edugraph-v0.4.0.ttl"


def demo_terms_used() -> dict[str, set[str]]:
    """Per dimension, the terms the demo model answers with and its truth file names."""
    used: dict[str, set[str]] = {}
    answers = [json.loads(text) for text in TAUGHT_ANSWERS.values()]
    answers += [json.loads(line) for line in demo_truth().read_text().splitlines()]
    for answer in answers:
        for dimension in DEMO_TERMS:
            used.setdefault(dimension, set()).update(answer.get(dimension, []))
    return used


def test_the_demo_ontology_holds_every_term_the_demo_uses_with_its_parents() -> None:
    ontology = demo_ontology()
    for dimension, terms in demo_terms_used().items():
        for term in terms:
            assert ontology.dimension_of(term) == dimension, term
    assert ontology.version == DEMO_ONTOLOGY_VERSION
    assert all(not term.definition and not term.comment for term in ontology.terms.values())


@needs_shared(RELEASE)
def test_the_demo_ontology_states_the_releases_facts() -> None:
    from rdflib import Graph, URIRef

    release = load_ontology(shared_file(RELEASE), use_cache=False)
    demo = demo_ontology()
    for name, term in demo.terms.items():
        assert release.dimension_of(name) == term.dimension, name
        assert set(release.get(name).parents) == set(term.parents), name
    used = {term for terms in demo_terms_used().values() for term in terms}
    assert set(demo.terms) == used | {a for term in used for a in release.ancestors(term)}
    graph = Graph().parse(shared_file(RELEASE))
    edu = "http://edugraph.io/edu#"
    expands = {
        name: tuple(sorted(linked))
        for name in demo.terms
        if (
            linked := {
                str(o).removeprefix(edu)
                for p in ("expands", "expandsArea", "expandsScope", "expandsAbility")
                for o in graph.objects(URIRef(edu + name), URIRef(edu + p))
            }
            & set(demo.terms)
        )
    }
    assert expands == DEMO_EXPANDS


def test_the_demo_uses_its_ontology_offline_and_a_cached_release_before_it() -> None:
    resolved = resolve_ontology(demo=True)
    assert resolved.ontology.version == DEMO_ONTOLOGY_VERSION and resolved.warning is None
    cached = cached_release("v0.4.0")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(Path(ONTOLOGY_V04_RDF).read_bytes())  # the release file is RDF/XML
    assert resolve_ontology(demo=True).source.startswith("cache ")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    db = tmp_path / "labels.sqlite"
    with Store(db) as opened:
        labels = [
            Label("IntegerMultiplication", "Area", "unverified", False, 0.9),
            Label("NumbersSmaller100", "Scope", "unverified", False, 0.9),
        ]
        opened.put(Prediction(str(tmp_path / "a.png"), 0, "a" * 64, "labeled", labels))
    return db


def test_find_in_the_demo_suggests_the_term_meant(store: Path, capsys) -> None:
    assert main(["find", "--area", "IntegerMultiplicaton", "--db", str(store), "--demo"]) == 2
    err = capsys.readouterr().err
    assert "IntegerMultiplicaton is not a term of the EduGraph ontology v0.4.0-demo" in err
    assert "did you mean IntegerMultiplication" in err and "warning" not in err
    assert main(["find", "--area", "Arithmetic", "--db", str(store), "--demo"]) == 0
    captured = capsys.readouterr()
    assert "a.png" in captured.out and "1 page(s) match" in captured.err  # a term's parts


def test_offline_the_warning_is_one_short_line_and_verbose_says_why(store: Path, capsys) -> None:
    assert main(["find", "--area", "IntegerMultiplicaton", "--db", str(store)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("warning: labels are unverified") and "--ontology FILE" in err[0]
    assert len(err[0]) < 200 and "--verbose" in err[0]
    assert "did you mean IntegerMultiplication" in err[1]  # from the store's terms
    main(["find", "--area", "IntegerMultiplication", "--db", str(store), "--verbose"])
    assert "cannot reach http://127.0.0.1:9/" in capsys.readouterr().err


def test_completion_offers_the_store_terms_without_an_ontology(store: Path) -> None:
    from textual.app import App
    from textual.widgets import OptionList

    from mlx_edugraph.tui.term_picker import TermPicker

    class Host(App):
        def __init__(self) -> None:
            super().__init__()
            self.settings = SimpleNamespace(db=store)

    async def run(ontology) -> list[str]:
        app = Host()
        async with app.run_test() as pilot:
            app.push_screen(TermPicker(ontology, "Area", set()))
            await pilot.pause()
            await pilot.press(*"intmul")
            await pilot.pause()
            options = app.screen.query_one(OptionList)
            return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

    assert asyncio.run(run(None)) == ["intmul (unverified)", "IntegerMultiplication (in the store)"]
    assert asyncio.run(run(demo_ontology())) == ["IntegerMultiplication"]


def test_the_tui_labeler_resolves_the_demo_ontology(tmp_path: Path) -> None:
    from mlx_edugraph.tui.labeler import Labeler, Settings
    from mlx_edugraph.tui.messages import OntologyReady

    posted: list = []
    Labeler(Settings(db=tmp_path / "x.sqlite", demo=True), posted.append)._ontology()
    (ready,) = [m for m in posted if isinstance(m, OntologyReady)]
    assert ready.ontology.version == DEMO_ONTOLOGY_VERSION and not ready.warning
