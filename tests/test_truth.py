"""Every ground-truth format is read; a malformed file names the file and the line or entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlx_edugraph.evaluation.truth import TruthError, read_truth, truth_from_reviews
from mlx_edugraph.store.review import Review

F = frozenset
IRI = "http://edugraph.io/edu#"


def write_jsonl(path: Path, *records) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_jsonl_with_either_key_spelling(tmp_path: Path) -> None:
    truth = write_jsonl(
        tmp_path / "truth.jsonl",
        {
            "path": "a.png",
            "Area": ["IntegerAddition"],
            "Scope": [],
            "Ability": "ProcedureExecution",
        },
        "",
        {"image": "sub/b.pdf", "page": 2, "areas": [IRI + "MeasuringTime"], "SCOPES": ["edu:X"]},
        {"image": "c.png", "Error": "UnsupportedMaterial"},
        {"path": "d.png", "unsupported": True, "Abilities": []},
    )
    a, b, c, d = read_truth(truth)
    assert a.path == tmp_path / "a.png" and a.page == 0
    assert a.labels == {
        "Area": F({"IntegerAddition"}),
        "Scope": F(),
        "Ability": F({"ProcedureExecution"}),
    }
    assert b.path == tmp_path / "sub" / "b.pdf" and b.page == 2
    assert b.labels["Area"] == F({"MeasuringTime"}) and b.labels["Scope"] == F({"X"})
    assert b.origin == f"{truth} line 3"
    assert c.unsupported and d.unsupported and not a.unsupported
    assert not any(c.labels.values())


def test_edugraph_release_layout(tmp_path: Path) -> None:
    for folder, entries in {
        "set-1": [
            {
                "questionImage": "images/q1.png",
                "labels": {
                    "Area": [IRI + "IntegerAddition"],
                    "Scope": [IRI + "NumbersSmaller20"],
                    "Ability": [IRI + "ProcedureExecution"],
                },
                "answerImage": "images/a1.png",
            }
        ],
        "set-2/deeper": [
            {"questionImage": "q.png", "labels": {"areas": ["Arithmetic"], "scopes": []}},
        ],
    }.items():
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "meta.json").write_text(json.dumps(entries))
    first, second = read_truth(tmp_path)  # a folder: every meta.json below it
    assert first.path == tmp_path / "set-1" / "images" / "q1.png"
    assert first.labels == {
        "Area": F({"IntegerAddition"}),
        "Scope": F({"NumbersSmaller20"}),
        "Ability": F({"ProcedureExecution"}),
    }
    assert second.path == tmp_path / "set-2" / "deeper" / "q.png"
    assert second.labels["Area"] == F({"Arithmetic"})
    (only,) = read_truth(tmp_path / "set-1" / "meta.json")  # one meta.json file
    assert only.origin.endswith("meta.json entry 0")


def test_store_reviews_are_truth_when_settled() -> None:
    labels = {"Area": ["IntegerAddition"], "Scope": [], "Ability": []}
    reviews = [
        Review("s1", 0, "a.png", "accepted", labels),
        Review(
            "s2",
            3,
            "b.pdf",
            "corrected",
            {"Area": [], "Scope": [], "Ability": []},
            unsupported=True,
        ),
        Review("s3", 0, "c.png", "flagged", labels),
    ]
    accepted, corrected = truth_from_reviews(reviews)
    assert accepted.sha256 == "s1" and accepted.labels["Area"] == F({"IntegerAddition"})
    assert corrected.sha256 == "s2" and corrected.page == 3 and corrected.unsupported
    assert corrected.origin == "review of b.pdf p3"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"path": "a.png", "Area": []}', "{not json"], "line 2: not valid JSON"),
        (['["a.png"]'], "line 1: expected a JSON object, got list"),
        (['{"Area": ["X"]}'], 'line 1: needs "path" or "image"'),
        (['{"path": "a.png", "Area": [1, 2]}'], "line 1: Area must be a list of term names"),
        (['{"path": "a.png", "page": -1}'], 'line 1: "page" must be a page number'),
        (['{"path": "a.pdf", "Area": []}'], 'line 1: a PDF needs "page"'),
        (['{"path": "a.png", "Error": "Oops"}'], 'line 1: Error must be "UnsupportedMaterial"'),
        (
            ['{"path": "a.png", "Error": "UnsupportedMaterial", "Area": ["X"]}'],
            "line 1: marked UnsupportedMaterial but also has labels",
        ),
        ([""], "no ground-truth records"),
    ],
)
def test_malformed_jsonl_names_file_and_line(tmp_path: Path, lines, message) -> None:
    truth = write_jsonl(tmp_path / "truth.jsonl", *lines)
    with pytest.raises(TruthError) as caught:
        read_truth(truth)
    assert str(caught.value).startswith(str(truth))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"questionImage": "q.png",\n "labels": {]', "meta.json line 2: not valid JSON"),
        ('{"questionImage": "q.png"}', "expected a list of entries, got dict"),
        ('[{"questionImage": "q.png", "labels": {}}, "q2.png"]', "entry 1: expected an object"),
        ('[{"labels": {"Area": []}}]', 'entry 0: needs "questionImage"'),
        ('[{"questionImage": "q.png"}]', 'entry 0: needs "labels"'),
        ('[{"questionImage": "q.png", "labels": {"Scope": {"a": 1}}}]', "entry 0: Scope must be"),
        ("[]", "no entries"),
    ],
)
def test_malformed_meta_json_names_file_and_entry(tmp_path: Path, text, message) -> None:
    meta = tmp_path / "meta.json"
    meta.write_text(text)
    with pytest.raises(TruthError) as caught:
        read_truth(meta)
    assert str(meta) in str(caught.value) and message in str(caught.value)


def test_missing_or_empty_sources(tmp_path: Path) -> None:
    with pytest.raises(TruthError, match="no such file"):
        read_truth(tmp_path / "nope.jsonl")
    with pytest.raises(TruthError, match="no meta.json files"):
        read_truth(tmp_path)
    binary = tmp_path / "truth.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(TruthError, match="cannot be read"):
        read_truth(binary)
