"""The engine on real tiny Qwen3-VL models: prompt, exact taught answers, confidence, timings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlx_edugraph.labels.ontology import load_ontology
from mlx_edugraph.pages.samples import make_worksheet
from mlx_edugraph.pages.worksheets import LoadedWorksheet, WorksheetRef
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE, TAUGHT_ANSWERS
from tests.conftest import ONTOLOGY_V04_TTL
from tests.models import CHAT_TEMPLATE_TEXT

SYSTEM_PROMPT_MARK = "EduGraph"


@pytest.fixture(scope="session")
def ontology():
    return load_ontology(ONTOLOGY_V04_TTL)


@pytest.fixture(scope="session")
def taught_engine(taught_mlx_model: Path, ontology):
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine

    return MlxEngine(ModelChoice(str(taught_mlx_model)), ontology=ontology)


def _sheet(kind: str, seed: int = 7) -> LoadedWorksheet:
    image = make_worksheet(kind, size=DEMO_PAGE_SIZE, seed=seed)
    return LoadedWorksheet(WorksheetRef(Path(f"{kind}.png")), sha256=kind * 4, image=image)


def _system_prompt() -> str:
    """The first line of the system turn the template renders when no system message is given."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    messages = [{"role": "user", "content": [{"type": "image"}]}]
    rendered = (
        ImmutableSandboxedEnvironment()
        .from_string(CHAT_TEMPLATE_TEXT)
        .render(messages=messages, add_generation_prompt=True)
    )
    system = rendered.split("<|im_start|>system\n", 1)[1].split("<|im_end|>", 1)[0]
    return system.splitlines()[0]


def test_prompt_is_the_template_with_the_image_alone(tiny_mlx_model: Path) -> None:
    from mlx_edugraph.model import vlm

    model = vlm.load(str(tiny_mlx_model))
    prompt = vlm.render_prompt(model)
    first_line = _system_prompt()
    assert prompt.count(first_line) == 1
    assert prompt.startswith("<|im_start|>system\n")
    user_turn = prompt.split("<|im_start|>user\n", 1)[1]
    assert (
        user_turn
        == "<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n<|im_start|>assistant\n"
    )


@pytest.mark.parametrize("kind", sorted(TAUGHT_ANSWERS))
def test_taught_4bit_model_gives_the_exact_answer(taught_engine, kind: str) -> None:
    prediction = taught_engine.label(_sheet(kind))
    expected = json.loads(TAUGHT_ANSWERS[kind])
    assert prediction.raw_text == TAUGHT_ANSWERS[kind]
    if "Error" in expected:
        assert prediction.outcome == "unsupported"
        assert prediction.labels == []
        return
    assert prediction.outcome == "labeled"
    for dimension, terms in expected.items():
        assert prediction.terms(dimension) == terms
    assert {label.status for label in prediction.labels} == {"known"}
    for label in prediction.labels:
        assert 0.0 < label.confidence <= 1.0


def test_implied_parent_is_kept_and_marked(taught_engine) -> None:
    # The multiplication answer holds ProcedureApplication with its part ProcedureExecution,
    # as the training targets do.
    prediction = taught_engine.label(_sheet("multiplication"))
    implied = {label.term for label in prediction.labels if label.implied}
    assert implied == {"ProcedureApplication"}


def test_prediction_records_provenance_timings_and_size(taught_engine) -> None:
    prediction = taught_engine.label(_sheet("addition"))
    provenance = prediction.provenance
    assert len(provenance.model_fingerprint) == 16
    assert provenance.ontology_version == "v0.4.0"
    assert provenance.prompt_version.startswith("template-")
    timings = prediction.timings
    assert timings.visual_tokens == (DEMO_PAGE_SIZE[0] // 32) * (DEMO_PAGE_SIZE[1] // 32)
    assert timings.prompt_tokens > timings.visual_tokens
    assert timings.generated_tokens > 5
    assert 0 < timings.prefill_s < timings.total_s
    assert timings.decode_tps > 0
    assert prediction.image_size == DEMO_PAGE_SIZE


def test_label_file_applies_and_records_the_resolution_cap(
    taught_mlx_model: Path, ontology, tmp_path: Path
) -> None:
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine

    path = tmp_path / "addition.png"
    make_worksheet("addition", size=(512, 640), seed=3).save(path)
    engine = MlxEngine(
        ModelChoice(str(taught_mlx_model)),
        ontology=ontology,
        max_pixels=DEMO_PAGE_SIZE[0] * DEMO_PAGE_SIZE[1],
    )
    prediction = engine.label_file(path)
    assert prediction.image_size == DEMO_PAGE_SIZE
    assert prediction.path == str(path)
    assert prediction.terms("Area") == ["IntegerAddition"]


def test_token_bound_gives_a_truncated_outcome(taught_mlx_model: Path, ontology) -> None:
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine

    engine = MlxEngine(ModelChoice(str(taught_mlx_model)), ontology=ontology, max_tokens=6)
    prediction = engine.label(_sheet("addition"))
    assert prediction.outcome == "truncated"
    assert prediction.raw_text and TAUGHT_ANSWERS["addition"].startswith(prediction.raw_text)
    assert prediction.error


def test_random_model_output_is_kept_and_never_raises(tiny_mlx_model: Path, ontology) -> None:
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine

    engine = MlxEngine(ModelChoice(str(tiny_mlx_model)), ontology=ontology, max_tokens=12)
    prediction = engine.label(_sheet("counting"))
    assert prediction.outcome in ("unparseable", "truncated")
    assert prediction.raw_text


@pytest.mark.parametrize("prompt", [None, "system"], ids=["own template", "supplied prompt"])
def test_the_engine_labels_under_its_choices_fingerprint(
    taught_mlx_model: Path, prompt: str | None
) -> None:
    """What the store keys predictions by is known before the model loads (the TUI and `eval`
    look the store up with it), and the engine labels under exactly that."""
    from mlx_edugraph.labeling.engine_choice import make_engine
    from mlx_edugraph.model.choice import resolve_choice
    from mlx_edugraph.model.prompt import EDUGRAPH_SYSTEM_PROMPT, PromptOverride

    supplied = PromptOverride("test", system=EDUGRAPH_SYSTEM_PROMPT) if prompt else None
    choice = resolve_choice(str(taught_mlx_model), prompt=supplied)
    assert len(choice.fingerprint) == (16 + len("+prompt-") + 12 if prompt else 16)
    engine = make_engine(choice, ontology=None)
    assert engine.in_flight == 0  # the local model runs on the thread that made it
    prediction = engine.label(_sheet("addition"))
    assert prediction.provenance.model_fingerprint == choice.fingerprint
    assert prediction.provenance.model_version == "base"


def test_a_stop_ends_the_run_at_the_next_token_and_keeps_finished_pages(
    taught_mlx_model: Path, ontology, tmp_path: Path
) -> None:
    """The review app quitting: the page in flight stops within a token, unsaved; the pages
    before it stay stored; the engine is whole again for the next page."""
    from mlx_edugraph.labeling.batch import run
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine
    from mlx_edugraph.pages.samples import write_samples
    from mlx_edugraph.pages.worksheets import file_sha256
    from mlx_edugraph.stopping import Stopped
    from mlx_edugraph.store.sqlite_store import Store

    paths = write_samples(tmp_path / "ws", 2, size=DEMO_PAGE_SIZE, kinds=("addition", "clock"))
    started: list[WorksheetRef] = []
    asked_on_second = 0

    def stop() -> bool:
        nonlocal asked_on_second
        asked_on_second += len(started) == 2
        return asked_on_second > 3  # three forward passes into the second page

    engine = MlxEngine(ModelChoice(str(taught_mlx_model)), ontology=ontology, stop=stop)
    fingerprint = engine.provenance.model_fingerprint
    with Store(tmp_path / "labels.sqlite") as store:
        events = run([WorksheetRef(path) for path in paths], engine, store, started=started.append)
        assert next(events).status == "labeled"
        with pytest.raises(Stopped):
            next(events)
        assert asked_on_second == 4
        assert store.is_done(file_sha256(paths[0]), 0, fingerprint)
        assert store.get(file_sha256(paths[1]), 0, fingerprint) is None
    engine.stop = None
    assert engine.label(_sheet("clock")).raw_text == TAUGHT_ANSWERS["clock"]
