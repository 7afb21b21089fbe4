"""Matching truth to stored predictions, scoring outcomes, and reading an explicit prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlx_edugraph.evaluation.scoring import Matched, evaluate, plan
from mlx_edugraph.evaluation.truth import TruthItem
from mlx_edugraph.model.prompt import PromptSourceError, read_prompt
from mlx_edugraph.pages.worksheets import WorksheetRef, file_sha256
from mlx_edugraph.prediction import Label, Prediction, Provenance
from mlx_edugraph.store.sqlite_store import Store

F = frozenset


def truth(area=(), unsupported=False, path=None, origin="t") -> TruthItem:
    labels = {"Area": F(area), "Scope": F(), "Ability": F()}
    return TruthItem(labels, origin, path, unsupported=unsupported)


def prediction(outcome="labeled", area=(), status="known", confidence=0.9) -> Prediction:
    labels = [Label(t, "Area", status=status, confidence=confidence) for t in area]
    return Prediction(
        "p.png", 0, "s", outcome, labels, provenance=Provenance(model_fingerprint="m")
    )


def test_outcomes_rates_and_unsupported_detection() -> None:
    result = evaluate(
        [
            Matched(truth(["A"]), prediction(area=["A", "Invented"], status="known")),
            Matched(truth(unsupported=True), prediction("unsupported")),
            Matched(truth(["B"]), prediction("unsupported")),  # a missed worksheet
            Matched(truth(["C"]), prediction("unparseable")),
            Matched(truth(["D"]), prediction("error")),  # never scored, listed instead
        ]
    )
    assert result.pages == 4
    assert result.outcomes == {"labeled": 1, "unparseable": 1, "unsupported": 2}
    assert result.unsupported_rate == 0.5 and result.unparseable_rate == 0.25
    assert (result.unsupported.tp, result.unsupported.fp, result.unsupported.fn) == (1, 1, 0)
    area = result.dimensions["Area"].scores
    assert (area.micro.tp, area.micro.fp, area.micro.fn) == (1, 1, 2)
    assert result.exact_match == 0.25  # only the unsupported picture
    assert [e.origin for e in result.errors] == ["t"]
    assert result.dimensions["Area"].hierarchy is None  # no ontology given


def test_unknown_terms_rate() -> None:
    result = evaluate(
        [
            Matched(truth(["A"]), prediction(area=["A"])),
            Matched(truth(), prediction(area=["Zz"], status="unknown")),
        ]
    )
    assert result.unknown_term_rate == 0.5 and result.predicted_terms == 2


def test_plan_matches_by_content_and_explains_what_it_leaves_out(tmp_path: Path) -> None:
    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / name).write_bytes(name.encode())
    (tmp_path / "copy-of-a.png").write_bytes(b"a.png")
    items = [
        truth(["A"], path=tmp_path / "copy-of-a.png", origin="a"),  # same bytes as a.png
        truth(["B"], path=tmp_path / "b.png", origin="b"),
        truth(["C"], path=tmp_path / "c.png", origin="c"),
        truth(path=tmp_path / "gone.png", origin="gone"),
        truth(path=tmp_path / "a.png", origin="twice"),
    ]
    stored = {file_sha256(tmp_path / "b.png"): prediction(area=["B"])}
    with Store(tmp_path / "db.sqlite") as store:
        worksheets = [WorksheetRef(tmp_path / "a.png"), WorksheetRef(tmp_path / "b.png")]
        planned = plan(items, store, lambda sha, page: stored.get(sha), worksheets)
    assert [m.truth.origin for m in planned.matched] == ["b"]
    ((item, ref),) = planned.to_label.values()
    assert item.origin == "a" and ref.path == tmp_path / "a.png"  # labeled under its given name
    reasons = {u.origin: u.reason for u in planned.unmatched}
    assert reasons == {
        "c": "not among the given worksheets",
        "gone": f"{tmp_path / 'gone.png'}: cannot read file: No such file or directory",
        "twice": "the same page is listed twice",
    }


def test_read_prompt_from_a_model_folder_a_template_or_a_text_file(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "chat_template.json").write_text('{"chat_template": "{{ messages }}"}')
    assert read_prompt(model).template == "{{ messages }}"
    (tmp_path / "t.jinja").write_text("{{ x }}")
    assert read_prompt(tmp_path / "t.jinja").template == "{{ x }}"
    (tmp_path / "prompt.txt").write_text("Label this worksheet.\n")
    found = read_prompt(tmp_path / "prompt.txt")
    assert found.system == "Label this worksheet." and found.template is None
    with pytest.raises(PromptSourceError, match="has no chat template"):
        read_prompt(tmp_path)
    with pytest.raises(PromptSourceError, match="cannot read"):
        read_prompt(tmp_path / "missing.txt")
