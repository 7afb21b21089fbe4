"""The training step itself, on the taught tiny model: the same seed gives the same adapter
bytes, and our answer-only loss with vision features computed once equals mlx-vlm's own loss
(full-sequence logits, vision tower every step) on the same batch."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mlx_edugraph.pages.samples import make_worksheet
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE, TAUGHT_ANSWERS

KINDS = ("clock", "addition", "picture")


@pytest.fixture(scope="module")
def examples() -> list:
    answer = json.dumps(
        {
            "Area": ["MeasuringTime"],
            "Scope": ["AnalogClock"],
            "Ability": ["ProcedureIdentification"],
        }
    )
    return [
        (make_worksheet(kind, size=DEMO_PAGE_SIZE, seed=7), answer if kind == "clock" else
         TAUGHT_ANSWERS[kind])
        for kind in KINDS
    ]  # fmt: skip


def _adapter(model_path: Path, examples: list, folder: Path, seed: int) -> str:
    from mlx_edugraph.model import vlm, vlm_training

    settings = vlm_training.AdapterSettings(learning_rate=1e-3, seed=seed, dropout=0.1)
    training = vlm_training.AdapterTraining(
        vlm.load(str(model_path)), examples, settings, total_steps=4
    )
    training.run(4, lambda info: None, adapter_file=folder / "last.safetensors")
    training.save(folder)
    training.close()
    return hashlib.sha256((folder / vlm_training.ADAPTER_WEIGHTS).read_bytes()).hexdigest()


def test_the_same_seed_gives_the_same_adapter_bytes(
    taught_mlx_model: Path, examples: list, tmp_path: Path
) -> None:
    """LoRA initialisation, dropout and the order of the pages all come from the seed."""
    first = _adapter(taught_mlx_model, examples, tmp_path / "a", seed=3)
    assert _adapter(taught_mlx_model, examples, tmp_path / "b", seed=3) == first
    assert _adapter(taught_mlx_model, examples, tmp_path / "c", seed=4) != first


def test_the_answer_loss_equals_mlx_vlms_with_vision_features_computed_once(
    taught_mlx_model: Path, examples: list, tmp_path: Path
) -> None:
    from mlx_edugraph.model import vlm, vlm_training

    model = vlm.load(str(taught_mlx_model))
    training = vlm_training.AdapterTraining(
        model, examples, vlm_training.AdapterSettings(learning_rate=1e-3), total_steps=6
    )
    training.run(6, lambda info: None, adapter_file=tmp_path / "last.safetensors")
    assert training.loss.vision_runs == len(examples)  # two passes, the tower ran once a page
    model.model.train()  # as in training (dropout is 0 here)
    references = []
    for index in range(len(examples)):
        batch = training.batch(index)
        references.append(training.reference_loss(batch))
        ours = training.loss(model.model, batch)[0].item()
        assert ours == pytest.approx(references[-1], abs=1e-4)
    assert max(references) > 0.01  # the corrected clock: a loss that means something
    assert training.loss.vision_runs == len(examples)
    training.close()
