"""Model output that must never crash anything: each answer becomes a prediction with a clear
outcome and its raw text, and that prediction survives the store and the export unchanged."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlx_edugraph.labels.answer import parse_answer
from mlx_edugraph.labels.ontology import Ontology, load_ontology
from mlx_edugraph.prediction import Label, Prediction, Provenance, Timings
from mlx_edugraph.store.export_predictions import export
from mlx_edugraph.store.sqlite_store import Store
from tests.conftest import ONTOLOGY_V04_TTL

AREA, SCOPE, ABILITY = "IntegerAddition", "NumbersSmaller20", "ProcedureExecution"
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return load_ontology(ONTOLOGY_V04_TTL, use_cache=False)


def predict(text: str, ontology: Ontology | None, *, truncated: bool = False) -> Prediction:
    """The prediction the engine makes of an answer text (the parser's result, text kept)."""
    parsed = parse_answer(text, ontology, truncated=truncated)
    labeled = parsed.outcome == "labeled"
    return Prediction(
        path="sheet.png",
        page=0,
        sha256="0" * 64,
        outcome=parsed.outcome,
        labels=parsed.labels,
        raw_text=text,
        error=None if labeled else parsed.detail,
        notes=parsed.detail if labeled else None,
        provenance=Provenance("model", "f1", "v0.4.0", "p1"),
    )


def kept(prediction: Prediction, folder: Path, store: Store | None = None) -> Prediction:
    """The prediction after a trip through a real store and a JSONL export (both must agree)."""
    with Store(folder / "labels.sqlite") if store is None else contextlib.nullcontext(store) as db:
        db.put(prediction)
        stored = db.get(prediction.sha256, prediction.page, prediction.provenance.model_fingerprint)
    export([stored], folder / "labels.jsonl")
    # Any JSONL reader must see one line, even one that splits at U+2028 or U+0085.
    (line,) = (folder / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    assert Prediction.from_dict(json.loads(line)) == stored
    return stored


def described(prediction: Prediction) -> str:
    why = prediction.error or prediction.notes
    labels = ", ".join(f"{lab.term} ({lab.status})" for lab in prediction.labels)
    return f"{prediction.outcome}" + (f": {labels}" if labels else "") + (f"; {why}" if why else "")


CASES = [
    pytest.param(
        "asdf ]] ::: \x00 \u2603 lorem ipsum",
        "unparseable",
        marks=pytest.mark.reliability("Model output", "garbage text"),
        id="garbage",
    ),
    pytest.param(
        "",
        "unparseable",
        marks=pytest.mark.reliability("Model output", "empty output"),
        id="empty",
    ),
    pytest.param(
        f'{{"Area": ["{AREA}"], "Scope": ["Numb',
        "truncated",
        marks=pytest.mark.reliability("Model output", "truncated JSON"),
        id="truncated",
    ),
    pytest.param(
        f'Sure! Here are the labels:\n```json\n{{"Area": ["{AREA}"]}}\n```\nHope this helps.',
        "labeled",
        marks=pytest.mark.reliability("Model output", "JSON with prose and code fences around it"),
        id="prose-and-fences",
    ),
    pytest.param(
        f'{{"Aera": ["{AREA}"], "Scope": ["{SCOPE}"], "Abilty": ["{ABILITY}"]}}',
        "labeled",
        marks=pytest.mark.reliability("Model output", "wrong or misspelled keys"),
        id="misspelled-keys",
    ),
    pytest.param(
        f'{{"Aera": ["{AREA}"], "Skope": ["{SCOPE}"]}}',
        "unparseable",
        marks=pytest.mark.reliability("Model output", "only wrong or misspelled keys"),
        id="only-misspelled-keys",
    ),
    pytest.param(
        f'{{"Area": 5, "Scope": {{"x": 1}}, "Ability": ["{ABILITY}", 7, null]}}',
        "labeled",
        marks=pytest.mark.reliability("Model output", "non-list values"),
        id="non-list-values",
    ),
    pytest.param(
        '{"Area": ["QuantumFractions"], "Scope": [], "Ability": []}',
        "labeled",
        marks=pytest.mark.reliability("Model output", "unknown terms"),
        id="unknown-terms",
    ),
    pytest.param(
        f'{{"Area": ["{SCOPE}"], "Scope": [], "Ability": []}}',
        "labeled",
        marks=pytest.mark.reliability("Model output", "terms in the wrong dimension"),
        id="wrong-dimension",
    ),
    pytest.param(
        f'{{"Area": ["{AREA}", "{AREA}", " {AREA}"]}}',
        "labeled",
        marks=pytest.mark.reliability("Model output", "duplicate terms"),
        id="duplicates",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_answer_becomes_a_prediction_with_its_raw_text(
    ontology: Ontology, tmp_path: Path, outcome, text: str, expected: str
) -> None:
    prediction = kept(predict(text, ontology), tmp_path)
    assert prediction.outcome == expected
    assert prediction.raw_text == text
    if expected != "labeled":
        assert prediction.labels == [] and prediction.error
    outcome(described(prediction) + "; raw text kept in store and export")


@pytest.mark.reliability("Model output", "runaway output stopped by the token bound")
def test_runaway_output_is_cut_by_the_token_bound(
    tiny_mlx_model: Path, ontology: Ontology, tmp_path: Path, outcome
) -> None:
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine
    from mlx_edugraph.pages.samples import make_worksheet
    from mlx_edugraph.pages.worksheets import LoadedWorksheet, WorksheetRef

    # Random weights never close the answer: decoding runs until the bound stops it.
    bound = 40
    engine = MlxEngine(ModelChoice(str(tiny_mlx_model)), ontology=ontology, max_tokens=bound)
    page = make_worksheet("counting", size=(256, 320), seed=3)
    prediction = engine.label(LoadedWorksheet(WorksheetRef(Path("sheet.png")), "1" * 64, page))
    assert prediction.timings.generated_tokens <= bound
    assert prediction.outcome in ("truncated", "unparseable") and prediction.raw_text
    stored = kept(prediction, tmp_path)
    assert stored.raw_text == prediction.raw_text
    outcome(
        f"{prediction.outcome} after {prediction.timings.generated_tokens} tokens "
        f"(bound {bound}): {prediction.error}; raw text kept in store and export"
    )


JSONISH = st.text(alphabet='{}[]":, \nAreaScopeAbilityError' + AREA + "xyz\\", max_size=80)


@pytest.mark.reliability("Model output", "any text (hypothesis): parser and store never fail")
def test_any_answer_text_becomes_a_kept_prediction(
    ontology: Ontology, tmp_path_factory: pytest.TempPathFactory, outcome
) -> None:
    seen: set[str] = set()

    folder = tmp_path_factory.mktemp("any")

    @PROPERTY
    @given(text=st.text(max_size=200) | JSONISH, truncated=st.booleans())
    def check(text: str, truncated: bool) -> None:
        prediction = predict(text, ontology, truncated=truncated)
        assert prediction.outcome in ("labeled", "unsupported", "unparseable", "truncated")
        stored = kept(prediction, folder, store)
        assert stored == prediction and stored.raw_text == text
        seen.add(prediction.outcome)

    with Store(folder / "labels.sqlite") as store:
        check()
    assert {"unparseable", "truncated"} <= seen
    outcome("never raises; every outcome kept with its raw text through store and JSONL export")


names = st.text(min_size=1, max_size=40) | st.binary(min_size=1, max_size=40).map(os.fsdecode)
labels = st.builds(
    Label,
    term=st.text(max_size=30),
    dimension=st.sampled_from(["Area", "Scope", "Ability"]),
    status=st.sampled_from(["known", "unknown", "wrong_dimension", "unverified"]),
    implied=st.booleans(),
    confidence=st.none() | st.floats(0, 1),
)
predictions = st.builds(
    Prediction,
    path=names,
    page=st.integers(0, 10_000),
    sha256=st.text("0123456789abcdef", min_size=64, max_size=64),
    outcome=st.sampled_from(["labeled", "unsupported", "unparseable", "truncated", "error"]),
    labels=st.lists(labels, max_size=6),
    raw_text=st.text(max_size=300),
    error=st.none() | st.text(max_size=60),
    notes=st.none() | st.text(max_size=60),
    image_size=st.none() | st.tuples(st.integers(1, 5000), st.integers(1, 5000)),
    timings=st.builds(Timings, total_s=st.floats(0, 1e4)),
    provenance=st.builds(Provenance, model_fingerprint=st.just("f1")),
)


@pytest.mark.reliability(
    "Model output", "store round trip (hypothesis): any prediction, any file name"
)
def test_store_round_trip_of_any_prediction(
    tmp_path_factory: pytest.TempPathFactory, outcome
) -> None:
    folder = tmp_path_factory.mktemp("round-trip")
    count = iter(range(1 << 30))

    @PROPERTY
    @given(prediction=predictions)
    def check(prediction: Prediction) -> None:
        prediction.sha256 = f"{next(count):064x}"  # a fresh worksheet each time
        assert kept(prediction, folder, store) == prediction
        assert store.paths_of(prediction.sha256, prediction.page) == [prediction.path]

    with Store(folder / "labels.sqlite") as store:
        check()
    outcome("equal after store and JSONL export, including names with newlines and non-UTF-8 bytes")
