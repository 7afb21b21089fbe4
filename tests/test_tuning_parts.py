"""The parts of `tune` that need no model: which reviewed pages become examples (and which are
left out, counted), the held-out split, the promotion rule, the answer text, the messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlx_edugraph.evaluation.metrics import Counts, SetScores
from mlx_edugraph.evaluation.scoring import DimensionResult
from mlx_edugraph.model.vlm_training import AdapterSettings
from mlx_edugraph.pages.samples import make_worksheet
from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.store.review import Review
from mlx_edugraph.store.sqlite_store import Store
from mlx_edugraph.tinymodel import TAUGHT_ANSWERS
from mlx_edugraph.tuning.examples import Example, from_store, from_truth_file
from mlx_edugraph.tuning.proof import HeldOutScores, judge
from mlx_edugraph.tuning.run import _why
from mlx_edugraph.tuning.split import TooFewPages, minimum_pages, split


def _page(folder: Path, name: str, seed: int) -> Path:
    path = folder / name
    make_worksheet("clock", size=(64, 80), seed=seed).save(path)
    return path


def _review(path: Path, sha256: str, status: str = "corrected", area: str = "MeasuringTime"):
    labels = {"Area": [area], "Scope": ["AnalogClock"], "Ability": ["VisualRecognition"]}
    return Review(sha256, 0, str(path), status, labels)


def test_store_reviews_left_out_are_counted_by_reason(tmp_path: Path) -> None:
    from mlx_edugraph.pages.worksheets import file_sha256

    pages = [_page(tmp_path, f"p{i}.png", i) for i in range(5)]
    hashes = [file_sha256(p) for p in pages]
    with Store(tmp_path / "labels.sqlite") as store:
        for path, sha256 in zip(pages, hashes, strict=True):
            store.put_review(_review(path, sha256))
        store.put_review(_review(pages[3], hashes[3], status="flagged"))
        pages[0].unlink()  # gone
        _page(tmp_path, "p1.png", 99)  # changed: other bytes under the reviewed name
        collected = from_store(store)
    assert sorted(e.path.name for e in collected.examples) == ["p2.png", "p4.png"]
    assert collected.flagged == 1
    assert collected.gone == [f"review of {pages[0]}"]
    assert collected.changed == [f"review of {pages[1]}"]
    lines = collected.left_out()
    assert lines[0] == "1 flagged review(s) left out (not settled yet)"
    assert lines[1].startswith("1 file(s) gone skipped")
    assert lines[2].startswith("1 file(s) changed since the review (other bytes) skipped")


def test_a_renamed_file_is_found_under_its_other_name(tmp_path: Path) -> None:
    from mlx_edugraph.pages.worksheets import file_sha256

    path = _page(tmp_path, "old.png", 1)
    sha256 = file_sha256(path)
    with Store(tmp_path / "labels.sqlite") as store:
        store.put_review(_review(path, sha256))
        store.remember_path(sha256, 0, str(tmp_path / "new.png"))
        path.rename(tmp_path / "new.png")
        (example,) = from_store(store).examples
    assert example.path == tmp_path / "new.png"


def test_contradicting_reviews_of_a_page_the_newest_wins(tmp_path: Path) -> None:
    path = _page(tmp_path, "a.png", 1)
    records = [
        {"path": "a.png", "Area": ["MeasuringTime"], "Scope": ["AnalogClock"]},
        {"path": "a.png", "Area": ["MeasuringTime"], "Scope": ["HourIntervals"]},
        {"path": "a.png", "Area": ["MeasuringTime"], "Scope": ["HourIntervals"]},  # agrees
    ]
    truth = tmp_path / "truth.jsonl"
    truth.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    collected = from_truth_file(truth)
    (example,) = collected.examples
    assert example.path == path and example.labels["Scope"] == ("HourIntervals",)
    assert collected.overruled == [f"{truth} line 1"]
    assert (
        "1 older contradicting review(s) of a page (the newest one wins)"
        in (collected.left_out()[0])
    )


def test_the_answer_is_written_as_the_model_writes_it() -> None:
    kinds = {"clock": ("MeasuringTime", ("AnalogClock", "HourIntervals"), ("VisualRecognition",))}
    area, scope, ability = kinds["clock"]
    labels = {"Area": (area,), "Scope": scope, "Ability": ability}
    example = Example(Path("x.png"), 0, "s", labels, False, "x")
    assert example.answer == TAUGHT_ANSWERS["clock"]
    empty = {d: () for d in DIMENSIONS}
    assert Example(Path("y.png"), 0, "t", empty, True, "y").answer == TAUGHT_ANSWERS["picture"]


def _examples(counts: dict[str, int]) -> list[Example]:
    found = []
    for area, count in counts.items():
        for i in range(count):
            labels = {"Area": (area,), "Scope": (), "Ability": ()}
            found.append(Example(Path(f"{area}{i}"), 0, f"{area}-{i}", labels, False, area))
    return found


def test_the_split_holds_out_a_fifth_of_each_area_with_a_fixed_seed() -> None:
    examples = _examples({"A": 10, "B": 5, "C": 1})
    parts = split(examples)
    held = sorted(e.area for e in parts.held_out)
    assert held == ["A", "A", "B"]  # C has one page: it is trained on
    assert len(parts.train) == 13
    again = split(list(reversed(examples)))
    assert [e.sha256 for e in again.held_out] == [e.sha256 for e in parts.held_out]
    assert [e.sha256 for e in split(examples, seed=1).held_out] != [
        e.sha256 for e in parts.held_out
    ]


def test_too_few_pages_are_refused_with_the_count_needed() -> None:
    assert minimum_pages() == 10
    with pytest.raises(TooFewPages, match="at least 10 reviewed pages .* there are 7: review 3"):
        split(_examples({"A": 7}))
    # Ten pages in ten Areas: no Area has two, the held-out set is topped up to two.
    assert len(split(_examples({f"A{i}": 1 for i in range(10)})).held_out) == 2


def _scores(area: tuple, scope: tuple, ability: tuple) -> HeldOutScores:
    """Scores whose dimensions have these (tp, fp, fn) counts."""

    class Fake:
        pass

    evaluation = Fake()
    evaluation.dimensions = {
        d: DimensionResult(SetScores(1, Counts(*c), None, None, None, None))
        for d, c in zip(DIMENSIONS, (area, scope, ability), strict=True)
    }
    return HeldOutScores(evaluation, {})


def test_promotion_needs_a_gain_and_no_dimension_falling_beyond_the_tolerance() -> None:
    before = _scores((10, 0, 0), (5, 5, 5), (8, 2, 2))
    better = judge(before, _scores((10, 0, 0), (9, 1, 1), (8, 2, 2)))
    assert better.better and "->" in better.reasons[0]
    same = judge(before, before)
    assert not same.better and "is not above" in same.reasons[0]
    traded = judge(before, _scores((9, 1, 1), (10, 0, 0), (8, 2, 2)))
    assert not traded.better and "Area F1 falls by 0.100" in traded.reasons[0]
    assert judge(before, _scores((9, 1, 1), (10, 0, 0), (8, 2, 2)), tolerance=0.2).better


def test_running_out_of_memory_suggests_a_smaller_batch() -> None:
    message = _why(MemoryError("std::bad_alloc"), AdapterSettings(batch_size=4))
    assert "ran out of memory" in message and "--batch-size 2" in message
    metal = RuntimeError("[metal::malloc] Attempting to allocate 9000000000 bytes")
    assert "--grad-checkpoint" in _why(metal, AdapterSettings(batch_size=1))
    lean = AdapterSettings(batch_size=1, grad_checkpoint=True)
    assert "a smaller --max-pixels" in _why(metal, lean)
    assert _why(ValueError("bad shape"), AdapterSettings()).startswith("training failed")


def test_checkpointing_is_chosen_when_a_step_would_not_fit(tmp_path: Path, monkeypatch) -> None:
    """The 4B's shape on a 16 GB Mac needs it, on a 32 GB one not; the CPU reports no
    working set; a flag given wins."""
    from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS
    from mlx_edugraph.tuning import memory

    text = {"num_hidden_layers": 36, "hidden_size": 2560}
    (tmp_path / "config.json").write_text(json.dumps({"text_config": text}))
    with open(tmp_path / "model.safetensors", "wb") as weights:
        weights.truncate(3_100_000_000)  # sparse: the 4B's 4-bit weights, on paper
    need = memory.estimated_peak(tmp_path, DEFAULT_MAX_PIXELS)
    assert 14e9 < need < 16e9  # docs/tuning.md: 13-15 GB, plus the margin
    for working_set, checkpoint in ((11.8e9, True), (24e9, False), (None, False)):
        monkeypatch.setattr(memory, "working_set", lambda size=working_set: size)
        plan = memory.plan_memory(tmp_path, DEFAULT_MAX_PIXELS, None)
        assert plan.checkpoint is checkpoint, plan.why
    assert memory.plan_memory(tmp_path, DEFAULT_MAX_PIXELS, True).checkpoint
