"""The speed features change nothing the model says: prefix reuse, the answer grammar, early
stop, and our engine against the naive mlx-vlm path, on real tiny Qwen3-VL models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlx_edugraph.pages.samples import make_worksheet
from mlx_edugraph.pages.worksheets import LoadedWorksheet, WorksheetRef
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE, TAUGHT_ANSWERS
from tests.conftest import ONTOLOGY_V04_TTL

MODES = {
    "cold": {"reuse_prefix": False, "constrain": False},
    "reuse": {"reuse_prefix": True, "constrain": False},
    "constrain": {"reuse_prefix": False, "constrain": True, "fast_forward": False},
    "reuse+constrain": {"reuse_prefix": True, "constrain": True, "fast_forward": False},
    "default": {"reuse_prefix": True, "constrain": True, "fast_forward": True},
}
"""Engine settings to compare; "default" is what `label` runs."""


@pytest.fixture(scope="module")
def ontology():
    from mlx_edugraph.labels.ontology import load_ontology

    return load_ontology(ONTOLOGY_V04_TTL)


@pytest.fixture(scope="module")
def taught_engines(taught_mlx_model: Path, ontology) -> dict:
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine

    return {
        name: MlxEngine(ModelChoice(str(taught_mlx_model)), ontology=ontology, **kw)
        for name, kw in MODES.items()
    }


def _sheet(kind: str, seed: int = 7) -> LoadedWorksheet:
    image = make_worksheet(kind, size=DEMO_PAGE_SIZE, seed=seed)
    return LoadedWorksheet(WorksheetRef(Path(f"{kind}.png")), sha256=kind * 4, image=image)


def test_prefix_reuse_is_bit_identical_on_the_random_model(tiny_mlx_model: Path) -> None:
    # Exact log-probabilities: the visual_pos_masks offset bug moves them by ~0.005 here.
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine

    choice = ModelChoice(str(tiny_mlx_model))
    cold, warm = (
        MlxEngine(choice, ontology=None, max_tokens=12, reuse_prefix=reuse, constrain=False)
        for reuse in (False, True)
    )
    # Several pages in a row: the cached prefix is trimmed back and reused each time.
    for kind, seed in (("counting", 1), ("clock", 2), ("counting", 1)):
        expected = cold.generate(_sheet(kind, seed))
        got = warm.generate(_sheet(kind, seed))
        assert got.tokens == expected.tokens
        assert got.logprobs == expected.logprobs
    assert warm._prefix is not None and len(warm._prefix.tokens) > 100


def test_prefix_is_the_system_turn_up_to_the_image(tiny_mlx_model: Path) -> None:
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine

    engine = MlxEngine(
        ModelChoice(str(tiny_mlx_model)), ontology=None, max_tokens=2, constrain=False
    )
    engine.generate(_sheet("addition"))
    text = engine.vlm.tokenizer.decode(engine._prefix.tokens)
    assert text.startswith("<|im_start|>system\n")
    assert text.endswith("<|im_start|>user\n")


@pytest.mark.parametrize("kind", sorted(TAUGHT_ANSWERS))
def test_taught_answers_are_exact_in_every_mode(taught_engines: dict, kind: str) -> None:
    runs = {name: engine.generate(_sheet(kind)) for name, engine in taught_engines.items()}
    for name, run in runs.items():
        assert run.text == TAUGHT_ANSWERS[kind], name
        assert not run.truncated, name
        # Same tokens and the model's own log-probabilities: confidence does not depend on
        # the mode (the grammar's mask is applied after they are taken).
        assert run.tokens == runs["cold"].tokens, name
        if name == "default":
            # Forced tokens come from one multi-token pass: the same sums in another order.
            assert run.logprobs == pytest.approx(runs["cold"].logprobs, abs=1e-4), name
        else:
            assert run.logprobs == runs["cold"].logprobs, name


def test_grammar_keeps_the_random_model_to_known_terms(tiny_mlx_model: Path, ontology) -> None:
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine

    engine = MlxEngine(ModelChoice(str(tiny_mlx_model)), ontology=ontology)
    for kind in ("addition", "picture"):
        # Random weights love blank space; the grammar bounds it, so the answer completes.
        prediction = engine.label(_sheet(kind))
        assert prediction.outcome in ("labeled", "unsupported"), prediction.raw_text
        json.loads(prediction.raw_text)
        assert all(label.status == "known" for label in prediction.labels)


def test_naive_path_and_engine_give_the_same_labels(
    taught_mlx_model: Path, ontology, tmp_path: Path
) -> None:
    """Training-sized pages, greedy, same resolution; our engine with reuse, early stop and
    the grammar on; the naive path is mlx-vlm's own loop on the image file."""
    from mlx_edugraph.labels.answer import parse_answer
    from mlx_edugraph.model import vlm_baseline
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine

    engine = MlxEngine(ModelChoice(str(taught_mlx_model)), ontology=ontology)
    for kind in sorted(TAUGHT_ANSWERS):
        path = tmp_path / f"{kind}.png"
        make_worksheet(kind, size=DEMO_PAGE_SIZE, seed=11).save(path)
        naive = vlm_baseline.naive_generate(engine.vlm, engine.prompt, str(path), max_tokens=512)
        ours = engine.label_file(path)
        assert naive.text == ours.raw_text == TAUGHT_ANSWERS[kind]
        naive_labels = parse_answer(naive.text, ontology).labels
        assert [(x.term, x.dimension, x.status) for x in naive_labels] == [
            (x.term, x.dimension, x.status) for x in ours.labels
        ]
        # The naive path decodes the end-of-turn token too; ours stops at the brace.
        assert len(naive.token_ids) == ours.timings.generated_tokens + 1


def test_naive_path_and_engine_decode_the_same_tokens_on_the_random_model(
    tiny_mlx_model: Path, tmp_path: Path
) -> None:
    from mlx_edugraph.model import vlm_baseline
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine
    from mlx_edugraph.pages.worksheets import load

    engine = MlxEngine(
        ModelChoice(str(tiny_mlx_model)), ontology=None, constrain=False, answer_tokens=10
    )
    path = tmp_path / "counting.png"
    make_worksheet("counting", size=DEMO_PAGE_SIZE, seed=5).save(path)
    naive = vlm_baseline.naive_generate(
        engine.vlm, engine.prompt, str(path), max_tokens=10, fixed_length=True
    )
    ours = engine.generate(load(WorksheetRef(path), max_pixels=engine.max_pixels))
    assert naive.token_ids == ours.tokens
    assert len(ours.tokens) == 10 and ours.truncated


def test_fixed_answer_length_refuses_the_grammar(tiny_mlx_model: Path) -> None:
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine

    with pytest.raises(ValueError, match="constrain=False"):
        MlxEngine(ModelChoice(str(tiny_mlx_model)), ontology=None, answer_tokens=8)


def test_forced_tokens_save_forward_passes(taught_engines: dict) -> None:
    default = taught_engines["default"].label(_sheet("addition")).timings
    one_by_one = taught_engines["reuse+constrain"].label(_sheet("addition")).timings
    assert default.generated_tokens == one_by_one.generated_tokens
    assert one_by_one.decode_passes == one_by_one.generated_tokens - 1
    assert default.decode_passes < one_by_one.decode_passes


def test_forward_time_is_most_of_a_page(taught_engines: dict) -> None:
    timings = taught_engines["default"].label(_sheet("clock")).timings
    assert 0 < timings.forward_s <= timings.total_s
