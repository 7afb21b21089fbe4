"""Reading the model's answer text: one example per rule, and properties it never breaks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlx_edugraph.labels.answer import ParsedAnswer, parse_answer
from mlx_edugraph.labels.ontology import Ontology, load_ontology
from mlx_edugraph.prediction import DIMENSIONS
from tests.conftest import ONTOLOGY_V04_TTL

OUTCOMES = {"labeled", "unsupported", "unparseable", "truncated"}
KEY_SPELLINGS = {
    "Area": ["Area", "area", "AREA", "Areas", "areas"],
    "Scope": ["Scope", "scope", "Scopes", "SCOPES"],
    "Ability": ["Ability", "ability", "Abilities", "abilities"],
}
PROPERTY = settings(deadline=None)  # timing varies across CI machines; the runs are short


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return load_ontology(ONTOLOGY_V04_TTL, use_cache=False)


def terms(answer: ParsedAnswer, dimension: str) -> list[str]:
    return [label.term for label in answer.labels if label.dimension == dimension]


def check_invariants(answer: ParsedAnswer, text: str) -> None:
    """What holds for any input: a known outcome, parallel spans that point at the terms."""
    assert answer.outcome in OUTCOMES
    assert len(answer.spans) == len(answer.labels)
    if answer.outcome != "labeled":
        assert answer.labels == []
    keys = [(label.dimension, label.term) for label in answer.labels]
    assert len(keys) == len(set(keys))
    for label, span in zip(answer.labels, answer.spans, strict=True):
        assert label.dimension in DIMENSIONS
        assert label.term and label.term == label.term.strip()
        if span is not None:
            assert text[span[0] : span[1]] == label.term


# Example tests, one per rule.


def test_plain_answer(ontology: Ontology) -> None:
    text = (
        '{"Area": ["IntegerMultiplication"], "Scope": ["NumbersSmaller10"], '
        '"Ability": ["ProcedureExecution"]}'
    )
    answer = parse_answer(text, ontology)
    assert answer.outcome == "labeled"
    assert answer.detail is None
    assert [(label.dimension, label.term, label.status) for label in answer.labels] == [
        ("Area", "IntegerMultiplication", "known"),
        ("Scope", "NumbersSmaller10", "known"),
        ("Ability", "ProcedureExecution", "known"),
    ]
    assert [text[s:e] for s, e in answer.spans] == [label.term for label in answer.labels]
    check_invariants(answer, text)


@pytest.mark.parametrize(
    "text",
    [
        '{"Ability": ["ProcedureExecution"], "Scope": ["NumbersSmaller10"], "Area": ["Geometry"]}',
        '{"Areas": ["Geometry"], "Scopes": ["NumbersSmaller10"], '
        '"Abilities": ["ProcedureExecution"]}',
        '{"AREA": ["Geometry"], " scope ": ["NumbersSmaller10"], '
        '"abilities": ["ProcedureExecution"]}',
    ],
)
def test_keys_in_any_order_spelling_and_case(ontology: Ontology, text: str) -> None:
    answer = parse_answer(text, ontology)
    assert answer.outcome == "labeled"
    assert [(label.dimension, label.term) for label in answer.labels] == [
        ("Area", "Geometry"),
        ("Scope", "NumbersSmaller10"),
        ("Ability", "ProcedureExecution"),
    ]


def test_fences_and_prose_around(ontology: Ontology) -> None:
    text = (
        'Sure! Here is {my answer}, with "quotes":\n```json\n'
        '{"Area": ["Geometry"], "Scope": [], "Ability": []}\n```\nDone {really}.'
    )
    answer = parse_answer(text, ontology)
    assert answer.outcome == "labeled"
    assert terms(answer, "Area") == ["Geometry"]
    check_invariants(answer, text)


def test_braces_inside_strings_do_not_confuse(ontology: Ontology) -> None:
    text = '{"Area": ["A}{B", "Geometry"], "Scope": ["x\\"}"], "Ability": []} trailing }'
    answer = parse_answer(text, ontology)
    assert answer.outcome == "labeled"
    assert terms(answer, "Area") == ["A}{B", "Geometry"]
    assert terms(answer, "Scope") == ['x"}']
    assert answer.spans[2] is None  # the escaped quote: no plain span in the text
    check_invariants(answer, text)


def test_first_object_with_answer_keys_wins(ontology: Ontology) -> None:
    text = 'Format: {"Example": 1} then {"Area": ["Geometry"]} or {"Area": ["Algebra"]}'
    answer = parse_answer(text, ontology)
    assert terms(answer, "Area") == ["Geometry"]


def test_single_string_is_a_one_element_list(ontology: Ontology) -> None:
    answer = parse_answer('{"Area": "Geometry", "Scope": [], "Ability": []}', ontology)
    assert answer.outcome == "labeled"
    assert terms(answer, "Area") == ["Geometry"]
    assert answer.spans[0] == (10, 18)


@pytest.mark.parametrize("value", ["5", "null", "true", '{"a": "Geometry"}'])
def test_other_values_ignore_the_dimension_with_a_note(ontology: Ontology, value: str) -> None:
    text = f'{{"Area": {value}, "Scope": ["NumbersSmaller10"], "Ability": []}}'
    answer = parse_answer(text, ontology)
    assert answer.outcome == "labeled"
    assert terms(answer, "Area") == []
    assert terms(answer, "Scope") == ["NumbersSmaller10"]
    assert answer.detail == f"Area: expected a list of terms, got {value}"


def test_only_unusable_values_is_unparseable(ontology: Ontology) -> None:
    answer = parse_answer('{"Area": 5, "Scope": null}', ontology)
    assert answer.outcome == "unparseable"
    assert "Area: expected a list of terms, got 5" in answer.detail
    assert "Scope: expected a list of terms, got null" in answer.detail


def test_non_string_items_and_other_keys_are_skipped_with_a_note(ontology: Ontology) -> None:
    text = '{"Area": [3, "Geometry", null, " ", ["x"]], "Colour": ["red"]}'
    answer = parse_answer(text, ontology)
    assert answer.outcome == "labeled"
    assert terms(answer, "Area") == ["Geometry"]
    assert answer.detail == (
        'Area: skipped 3; Area: skipped null; Area: skipped " "; Area: skipped ["x"]; '
        "ignored key 'Colour'"
    )


def test_order_kept_and_duplicates_removed(ontology: Ontology) -> None:
    text = '{"Area": ["Geometry", "Algebra", "Geometry", " Algebra"], "Scope": [], "Ability": []}'
    answer = parse_answer(text, ontology)
    assert terms(answer, "Area") == ["Geometry", "Algebra"]
    assert answer.spans == [(11, 19), (23, 30)]


def test_same_dimension_under_two_spellings_is_merged(ontology: Ontology) -> None:
    answer = parse_answer('{"Area": ["Geometry"], "Areas": ["Algebra", "Geometry"]}', ontology)
    assert terms(answer, "Area") == ["Geometry", "Algebra"]


def test_statuses(ontology: Ontology) -> None:
    text = (
        '{"Area": ["Geometry", "NumbersSmaller10", "Wizardry"], "Scope": [], '
        '"Ability": ["ProcedureExecution"]}'
    )
    answer = parse_answer(text, ontology)
    assert [(label.term, label.status) for label in answer.labels] == [
        ("Geometry", "known"),
        ("NumbersSmaller10", "wrong_dimension"),
        ("Wizardry", "unknown"),
        ("ProcedureExecution", "known"),
    ]
    unverified = parse_answer(text, None)
    assert {label.status for label in unverified.labels} == {"unverified"}
    assert not any(label.implied for label in unverified.labels)


def test_iris_and_whitespace_are_stripped(ontology: Ontology) -> None:
    text = (
        '{"Area": [" http://edugraph.io/edu#IntegerMultiplication ", '
        '"http://edugraph.io/edu/Geometry", "edu:Algebra", "\\tArithmetic\\n"]}'
    )
    answer = parse_answer(text, ontology)
    assert terms(answer, "Area") == [
        "IntegerMultiplication",
        "Geometry",
        "Algebra",
        "Arithmetic",
    ]
    assert all(label.status == "known" for label in answer.labels)
    assert answer.spans[3] is None  # written with escapes
    check_invariants(answer, text)


def test_implied_ancestors_within_a_dimension(ontology: Ontology) -> None:
    text = (
        '{"Area": ["Arithmetic", "IntegerMultiplication", "Geometry"], "Scope": [], '
        '"Ability": ["ProcedureApplication", "ProcedureExecution"]}'
    )
    answer = parse_answer(text, ontology)
    implied = {label.term for label in answer.labels if label.implied}
    assert implied == {"Arithmetic", "ProcedureApplication"}


def test_implied_does_not_cross_dimensions(ontology: Ontology) -> None:
    text = '{"Area": ["ProcedureApplication"], "Ability": ["ProcedureExecution"]}'
    answer = parse_answer(text, ontology)
    assert not any(label.implied for label in answer.labels)


@pytest.mark.parametrize(
    "text",
    [
        '{"Error": "UnsupportedMaterial"}',
        '```json\n{"error": " unsupportedmaterial "}\n```',
        '{"Error": ["UnsupportedMaterial"]}',
        '{"Area": ["Geometry"], "Error": "UnsupportedMaterial"}',
    ],
)
def test_unsupported_material(ontology: Ontology, text: str) -> None:
    answer = parse_answer(text, ontology)
    assert answer.outcome == "unsupported"
    assert answer.labels == []


@pytest.mark.parametrize("value", ['"Blurry"', "null", '["UnsupportedMaterial", "x"]'])
def test_other_errors_are_unparseable(ontology: Ontology, value: str) -> None:
    answer = parse_answer(f'{{"Error": {value}}}', ontology)
    assert answer.outcome == "unparseable"
    assert answer.detail == f"the model answered an error: {value}"


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("", "no JSON object"),
        ("I cannot label this worksheet.", "no JSON object"),
        ('["Geometry"]', "no JSON object"),
        ("{}", "without Area, Scope, Ability or Error keys"),
        ('{"Labels": ["Geometry"]}', "without Area, Scope, Ability or Error keys"),
        ('{"Area": [}', "invalid JSON"),
        ("{'Area': ['Geometry']}", "invalid JSON"),
    ],
)
def test_unparseable(ontology: Ontology, text: str, detail: str) -> None:
    answer = parse_answer(text, ontology)
    assert answer.outcome == "unparseable"
    assert detail in answer.detail


@pytest.mark.parametrize("text", ['{"Area": ["Geometry", "Alg', '```json\n{"Area": [', "{"])
def test_unfinished_object_is_truncated(ontology: Ontology, text: str) -> None:
    answer = parse_answer(text, ontology)
    assert answer.outcome == "truncated"
    assert answer.labels == []


def test_truncated_flag_wins(ontology: Ontology) -> None:
    answer = parse_answer('{"Area": ["Geometry"]}', ontology, truncated=True)
    assert answer.outcome == "truncated"
    assert answer.labels == [] and answer.spans == []


def test_empty_lists_are_a_labeled_answer_without_labels(ontology: Ontology) -> None:
    answer = parse_answer('{"Area": [], "Scope": [], "Ability": []}', ontology)
    assert answer.outcome == "labeled"
    assert answer.labels == []


def test_deep_nesting_does_not_raise(ontology: Ontology) -> None:
    deep = '{"Area": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert parse_answer(deep, ontology).outcome == "unparseable"
    assert parse_answer("{" * 100_000, ontology).outcome == "truncated"


# Properties.

names = st.from_regex(r"[A-Z][A-Za-z0-9]{0,24}", fullmatch=True)
prose = st.text(st.characters(blacklist_characters="{}", blacklist_categories=["Cs"]), max_size=40)


@st.composite
def answers(draw: st.DrawFn, ontology: Ontology) -> tuple[str, dict[str, list[str]]]:
    """A valid answer text with fences, prose, key spellings and IRIs, and its terms."""
    term = st.sampled_from(sorted(ontology.terms)) | names
    chosen = draw(st.lists(st.sampled_from(DIMENSIONS), min_size=1, max_size=3, unique=True))
    expected: dict[str, list[str]] = {}
    obj = {}
    for dimension in chosen:
        picked = draw(st.lists(term, max_size=6))
        prefixes = st.sampled_from(["", "http://edugraph.io/edu#", "http://edugraph.io/edu/"])
        spaces = st.sampled_from(["", " ", "  "])
        written = [draw(spaces) + draw(prefixes) + name + draw(spaces) for name in picked]
        obj[draw(st.sampled_from(KEY_SPELLINGS[dimension]))] = written
        expected[dimension] = list(dict.fromkeys(picked))
    body = json.dumps(obj, indent=draw(st.sampled_from([None, 1, 2])))
    fence = draw(st.sampled_from([("", ""), ("```json\n", "\n```"), ("```\n", "\n```")]))
    return draw(prose) + fence[0] + body + fence[1] + draw(prose), expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
answer_keys = st.sampled_from([s for spellings in KEY_SPELLINGS.values() for s in spellings])


@PROPERTY
@given(text=st.text())
def test_any_text_never_raises(ontology: Ontology, text: str) -> None:
    check_invariants(parse_answer(text, ontology), text)


@PROPERTY
@given(text=st.text(alphabet='{}[]":,\\ \n`AreaScopebilty#/x0', max_size=60))
def test_json_like_noise_never_raises(ontology: Ontology, text: str) -> None:
    check_invariants(parse_answer(text, ontology), text)
    check_invariants(parse_answer(text, None), text)


@PROPERTY
@given(value=json_values | st.dictionaries(answer_keys | st.just("Error"), json_values))
def test_any_json_value_never_raises(ontology: Ontology, value: object) -> None:
    text = json.dumps(value)
    check_invariants(parse_answer(text, ontology), text)


@PROPERTY
@given(data=st.data())
def test_valid_answers_give_their_terms_and_spans(ontology: Ontology, data: st.DataObject) -> None:
    text, expected = data.draw(answers(ontology))
    answer = parse_answer(text, ontology)
    assert answer.outcome == "labeled"
    for dimension in DIMENSIONS:
        assert terms(answer, dimension) == expected.get(dimension, [])
    for label, span in zip(answer.labels, answer.spans, strict=True):
        assert span is not None
        assert text[span[0] : span[1]] == label.term
        if ontology.get(label.term) is None:
            assert label.status == "unknown"
        elif ontology.dimension_of(label.term) == label.dimension:
            assert label.status == "known"
        else:
            assert label.status == "wrong_dimension"
    check_invariants(answer, text)


@PROPERTY
@given(data=st.data())
def test_truncations_of_valid_answers(ontology: Ontology, data: st.DataObject) -> None:
    text, _ = data.draw(answers(ontology))
    cut = data.draw(st.integers(0, len(text)))
    head = text[:cut]
    answer = parse_answer(head, ontology)
    check_invariants(answer, head)
    opening, closing = text.index("{"), text.rindex("}")
    if cut <= opening:
        assert answer.outcome == "unparseable"
    elif cut <= closing:
        assert answer.outcome == "truncated"
    else:
        assert answer.outcome == "labeled"
    assert parse_answer(text, ontology, truncated=True).outcome == "truncated"
