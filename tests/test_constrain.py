"""The answer grammar and the portable token mask (the one that runs without Metal)."""

from __future__ import annotations

from itertools import permutations
from pathlib import Path

import numpy as np
import pytest

from mlx_edugraph.tinymodel import TAUGHT_ANSWERS
from tests.conftest import ONTOLOGY_V04_TTL
from tests.ontology_files import needs_shared


@pytest.fixture(scope="module")
def loaded(tiny_mlx_model: Path):
    from mlx_edugraph.model import vlm

    return vlm.load(str(tiny_mlx_model))


@pytest.fixture(scope="module")
def grammars(loaded):
    from mlx_edugraph.labels.ontology import load_ontology
    from mlx_edugraph.model import vlm
    from mlx_edugraph.model.grammar import Grammar

    ontology = load_ontology(ONTOLOGY_V04_TTL)
    size = vlm.vocab_size(loaded)
    return Grammar(loaded.tokenizer, size, ontology), Grammar(loaded.tokenizer, size, None)


def _ids(loaded, text: str) -> list[int]:
    return loaded.tokenizer.encode(text, add_special_tokens=False)


def test_grammar_accepts_every_taught_answer(loaded, grammars) -> None:
    for grammar in grammars:
        for answer in TAUGHT_ANSWERS.values():
            assert grammar.accepts(_ids(loaded, answer)), answer


def test_keys_in_any_order_and_json_whitespace(loaded, grammars) -> None:
    members = ['"Area": ["IntegerAddition"]', '"Scope": []', '"Ability": ["ProcedureExecution"]']
    for order in permutations(members):
        assert grammars[0].accepts(_ids(loaded, "{" + ", ".join(order) + "}"))
    assert grammars[0].accepts(_ids(loaded, '{\n  "Ability" : [ ],"Area":[], "Scope": [ ] }'))


def test_forced_tokens_spell_the_rest_of_the_answer(loaded, grammars) -> None:
    # Choose each taught answer's tokens one by one, skipping the ones the grammar forces:
    # the choices plus the forced tokens are the answer, with fewer choices than tokens.
    from mlx_edugraph.model import vlm

    for answer in TAUGHT_ANSWERS.values():
        expected = _ids(loaded, answer)
        state, produced, choices = grammars[0].state(vlm.apply_token_mask), [], 0
        while len(produced) < len(expected):
            token = expected[len(produced)]
            choices += 1
            produced += [token, *state.advance(token)]
        assert produced == expected, answer
        assert choices < len(expected), answer


def test_masks_along_an_answer_are_what_decoding_may_choose(loaded, grammars) -> None:
    """`tune`'s stopping rule reads the answer through these masks: each reviewed token is
    allowed where it stands, a forced token is the only one allowed, and past the answer's end
    (or a token the grammar refuses) everything is."""
    answer = TAUGHT_ANSWERS["clock"]
    ids = [*_ids(loaded, answer), loaded.tokenizer.convert_tokens_to_ids("<|im_end|>")]
    masks = grammars[0].masks_along([*ids, ids[0]])
    bits = np.unpackbits(masks.view(np.uint8), axis=1, bitorder="little")
    assert all(bits[i, token] for i, token in enumerate(ids))
    allowed = bits[: len(ids)].sum(axis=1)
    assert (allowed == 1).any() and (allowed > 1).any()  # forced tokens and choices
    assert bits[len(ids)].all()  # after <|im_end|>: no constraint
    refused = grammars[0].masks_along(_ids(loaded, '{"Area": ["Nonsense"]}'))
    assert (refused[-1] == -1).all()


def test_without_fast_forward_nothing_is_forced(loaded, grammars) -> None:
    from mlx_edugraph.model import vlm

    state = grammars[0].state(vlm.apply_token_mask, fast_forward=False)
    assert all(state.advance(t) == [] for t in _ids(loaded, TAUGHT_ANSWERS["addition"]))


@pytest.mark.parametrize(
    "answer",
    [
        '{"Area": ["NoSuchTerm"], "Scope": [], "Ability": []}',  # unknown term
        '{"Area": ["NumbersSmaller20"], "Scope": [], "Ability": []}',  # a Scope term
        '{"Area": ["IntegerAddition"], "Scope": []}',  # a dimension missing
        '{"Area": [], "Area": [], "Scope": [], "Ability": []}',  # a key twice
        '{"Error": "Unreadable"}',
        '{"Areas": [], "Scope": [], "Ability": []}',
    ],
)
def test_ontology_grammar_rejects(loaded, grammars, answer: str) -> None:
    assert not grammars[0].accepts(_ids(loaded, answer))


def test_offline_grammar_keeps_only_the_shape(loaded, grammars) -> None:
    offline = grammars[1]
    assert offline.accepts(_ids(loaded, '{"Area": ["NoSuchTerm"], "Scope": [], "Ability": []}'))
    assert not offline.accepts(_ids(loaded, '{"Area": "IntegerAddition"}'))
    assert not offline.accepts(_ids(loaded, "IntegerAddition"))


@pytest.mark.parametrize("vocab", [1, 31, 32, 33, 1088, 1100])
def test_portable_mask_matches_the_bitmask(vocab: int) -> None:
    import mlx.core as mx

    from mlx_edugraph.model.grammar import token_mask

    rng = np.random.default_rng(vocab)
    words = (vocab + 31) // 32 - (1 if vocab == 1100 else 0)  # 1100: a bitmask shorter than V
    bitmask = rng.integers(-(2**31), 2**31, size=(1, words), dtype=np.int64).astype(np.int32)
    logits = rng.normal(size=(1, vocab)).astype(np.float32)
    out = np.array(token_mask(mx.array(logits), mx.array(bitmask)))
    bits = np.unpackbits(bitmask.view(np.uint8), bitorder="little")[: min(vocab, 32 * words)]
    allowed = np.zeros(vocab, dtype=bool)
    allowed[: bits.size] = bits.astype(bool)
    assert np.array_equal(out[0][allowed], logits[0][allowed])
    assert np.all(np.isneginf(out[0][~allowed]))


def test_portable_mask_keeps_bfloat16(tiny_mlx_model: Path) -> None:
    import mlx.core as mx

    from mlx_edugraph.model.grammar import token_mask

    logits = mx.ones((1, 40), dtype=mx.bfloat16)
    out = token_mask(logits, mx.array([[0b101, 0]], dtype=mx.int32))
    assert out.dtype == mx.bfloat16
    assert np.isfinite(np.array(out.astype(mx.float32))[0]).nonzero()[0].tolist() == [0, 2]


def test_metal_kernel_only_where_metal_exists() -> None:
    import mlx.core as mx

    from mlx_edugraph.model import vlm

    logits = mx.zeros((1, 64))
    out = vlm.apply_token_mask(logits, mx.array([[1, 0]], dtype=mx.int32))
    assert np.isfinite(np.array(out)[0]).nonzero()[0].tolist() == [0]


def test_non_ascii_terms_are_written_as_themselves(loaded) -> None:
    from mlx_edugraph.labels.ontology import Ontology, Term
    from mlx_edugraph.model import vlm
    from mlx_edugraph.model.grammar import Grammar

    terms = {"Zähl": Term("Zähl", "Area"), "S": Term("S", "Scope"), "A": Term("A", "Ability")}
    grammar = Grammar(loaded.tokenizer, vlm.vocab_size(loaded), Ontology("test", terms))
    assert grammar.accepts(_ids(loaded, '{"Area": ["Zähl"], "Scope": ["S"], "Ability": []}'))


LEARNED_TERMS = {
    "Area": "IntegerAddition IntegerSubtraction IntegerMultiplication IntegerDivision "
    "MeasuringTime DigitNotation MeasuringObjects IntegerNotation Numeration Decrement Increment "
    "NumerationWithIntegers NumericComparison NumericOrder",
    "Scope": "ArabicNumerals Base10 NumbersWithoutZero NumbersWithoutNegatives "
    "NumbersWithNegatives NumbersSmaller100 NumbersSmaller1000 NumbersLarger100 NumbersSmaller20 "
    "NumbersSmaller10 NumbersLarger10 NumbersWithZero AnalogClock CountingSymbols "
    "CentimeterScale MillimeterScale NumbersLarger1000 Tapemeter MinuteIntervals HourIntervals "
    "SecondIntervals TenFrame",
    "Ability": "ProcedureApplication ProcedureIdentification ProcedureExecution "
    "ProcedureMemorization Formalization WritingSpeed",
}
"""Every label term of the 4B's stage-2 training file (docs/ontology-version.md), by dimension."""


@needs_shared("ontology/edugraph-v0.4.0.ttl")
def test_grammar_admits_every_term_the_model_learned(loaded, grammars) -> None:
    """A term the model learned is never forced into another: the pinned release's grammar
    admits each in its own dimension."""
    import json

    for dimension, terms in LEARNED_TERMS.items():
        answer = {"Area": [], "Scope": [], "Ability": [], dimension: terms.split()}
        assert grammars[0].accepts(_ids(loaded, json.dumps(answer))), dimension
