"""The conversion computes the same function: MLX logits of the converted tiny checkpoints (random
and taught) match transformers' `Qwen3VLForConditionalGeneration` (torch, CPU, float32) on the
same image + prompt.

Tolerances, as max |logit difference| over every prompt position, image tokens included:
- MLX float32 vs torch float32: 1e-4 (measured <= 8e-6: only summation order differs);
- MLX bfloat16 vs torch float32: 4% of the largest |logit| (bf16 rounding of weights and
  activations; measured 0.5% random, 1.4% taught with the real template, 2.9% taught in a lone
  checkout, whose tiny template and tokenizer give other taught weights).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mlx_edugraph.convert.converter import convert

FLOAT32_ATOL = 1e-4
BFLOAT16_RTOL = 0.04
PAGE_SIZE = (256, 320)


def mlx_logits(model_dir: Path, image) -> tuple[np.ndarray, dict]:
    """Logits at every prompt position, and the inputs mlx-vlm's processor prepared."""
    import mlx.core as mx

    from mlx_edugraph.model import vlm

    model = vlm.load(str(model_dir))
    encoded = vlm.encode(model, vlm.render_prompt(model), image)
    logits = model.model(encoded.input_ids, encoded.pixel_values, **encoded.extra).logits
    inputs = {
        "input_ids": np.array(encoded.input_ids),
        "pixel_values": np.array(encoded.pixel_values.astype(mx.float32)),
        "image_grid_thw": np.array(encoded.extra["image_grid_thw"]),
        "image_token_id": model.image_token_id,
    }
    return np.array(logits.astype(mx.float32))[0], inputs


def torch_logits(checkpoint: Path, inputs: dict) -> np.ndarray:
    from transformers import Qwen3VLForConditionalGeneration

    model = Qwen3VLForConditionalGeneration.from_pretrained(checkpoint, dtype=torch.float32)
    ids = torch.from_numpy(inputs["input_ids"]).long()
    with torch.no_grad():
        out = model.eval()(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            pixel_values=torch.from_numpy(inputs["pixel_values"]),
            image_grid_thw=torch.from_numpy(inputs["image_grid_thw"]).long(),
            # transformers 5 places image tokens in M-RoPE by this mask.
            mm_token_type_ids=(ids == inputs["image_token_id"]).long(),
        )
    return out.logits[0].float().numpy()


@pytest.fixture(scope="module")
def page():
    from mlx_edugraph.pages.samples import make_worksheet

    return make_worksheet("counting", size=PAGE_SIZE, seed=3)


@pytest.fixture(scope="module", params=["tiny_checkpoint", "taught_checkpoint"])
def checkpoint(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def converted(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The checkpoint converted unquantized, by dtype."""
    return {
        dtype: convert(
            str(checkpoint),
            tmp_path_factory.mktemp(dtype) / "model",
            quantize=False,
            dtype=dtype,
            verify=False,
        ).out
        for dtype in ("float32", "bfloat16")
    }


@pytest.fixture(scope="module")
def reference(checkpoint: Path, converted: dict[str, Path], page) -> tuple[np.ndarray, dict]:
    """The transformers logits, on the inputs mlx-vlm's processor prepared."""
    _, inputs = mlx_logits(converted["float32"], page)
    return torch_logits(checkpoint, inputs), inputs


def test_float32_conversion_matches_transformers(
    converted: dict[str, Path], page, reference
) -> None:
    expected, inputs = reference
    got, got_inputs = mlx_logits(converted["float32"], page)
    assert (inputs["input_ids"] == got_inputs["input_ids"]).all()
    assert (got_inputs["input_ids"] == inputs["image_token_id"]).sum() == 80  # the image is in
    print(f"float32: max |MLX - transformers| logit = {np.abs(got - expected).max():.2e}")
    assert np.abs(got - expected).max() <= FLOAT32_ATOL
    assert (got.argmax(-1) == expected.argmax(-1)).all()


def test_bfloat16_conversion_matches_transformers(
    converted: dict[str, Path], page, reference
) -> None:
    expected, _ = reference
    got, _ = mlx_logits(converted["bfloat16"], page)
    relative = np.abs(got - expected).max() / np.abs(expected).max()
    print(f"bfloat16: max |MLX - transformers| logit = {relative:.2%} of the largest logit")
    assert relative <= BFLOAT16_RTOL


def test_tolerance_is_tighter_than_what_the_image_changes(
    converted: dict[str, Path], reference
) -> None:
    """Another page moves the logits far more than the tolerance: the check sees the vision path."""
    from mlx_edugraph.pages.samples import make_worksheet

    expected, _ = reference
    other, _ = mlx_logits(converted["float32"], make_worksheet("clock", size=PAGE_SIZE, seed=4))
    assert np.abs(other - expected).max() > 100 * FLOAT32_ATOL
