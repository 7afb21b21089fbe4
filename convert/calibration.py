"""Activation-aware weight quantization (AWQ) calibrated on worksheets with the EduGraph prompt.

mlx-vlm's AWQ measures which input channels of each language-model layer carry large
activations and rescales the weights so that quantization spares them. Its default calibration
(generic images, "Describe this image") is unlike what this model sees; here the inputs are
worksheet pages, rendered with the checkpoint's own chat template, as labeling renders them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from . import backend
from .errors import ConvertError

SAMPLE_PAGES = 8
"""Generated pages when no calibration folder is given: every sample kind, some twice."""
MAX_PAGES = 32
CALIBRATION_MAX_PIXELS = 200_704
"""~200 visual tokens a page: enough to see worksheet activations, cheap to run (196 x 32 x 32)."""
MAX_ROWS = 512
"""Token rows kept per layer for the scale search (the first pages' tokens)."""


def calibration_images(
    folder: Path | None, say: Callable[[str], None]
) -> tuple[list[Image.Image], str]:
    """Worksheet pages from `folder` (images, PDFs), or generated sample pages; and a label."""
    from mlx_edugraph.pages.worksheets import WorksheetError, cap_pixels, discover, load

    if folder is None:
        from mlx_edugraph.pages.samples import ALL_KINDS, make_worksheet

        pages = [make_worksheet(ALL_KINDS[i % len(ALL_KINDS)], seed=i) for i in range(SAMPLE_PAGES)]
        images = [cap_pixels(page, CALIBRATION_MAX_PIXELS) for page in pages]
        return images, f"{SAMPLE_PAGES} generated sample worksheets"
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConvertError(f"--calibration {folder}: no such folder")
    images = []
    for ref in list(discover([folder]))[:MAX_PAGES]:
        try:
            images.append(load(ref, max_pixels=CALIBRATION_MAX_PIXELS).image)
        except WorksheetError as exc:
            say(f"calibration: skipping {ref.label}: {exc}")
    if not images:
        raise ConvertError(f"--calibration {folder}: no readable worksheet images or PDFs in it")
    return images, f"{len(images)} worksheet pages from {folder.resolve()}"


def apply_awq(
    model: Any,
    processor: Any,
    images: list[Image.Image],
    bits: int,
    group_size: int,
    say: Callable[[str], None],
) -> dict:
    """Run the calibration pages through `model` and fold AWQ scales into its weights."""
    import mlx.core as mx

    from mlx_edugraph.model import vlm

    wrapped = vlm.VLM(model, processor, "calibration")
    prompt = vlm.render_prompt(wrapped)
    encoded = [vlm.encode(wrapped, prompt, image) for image in images]

    def run() -> None:
        for index, item in enumerate(encoded, 1):
            say(f"calibrating (AWQ): page {index}/{len(encoded)}")
            mx.eval(model(item.input_ids, item.pixel_values, **item.extra).logits)

    return backend.awq(
        model.language_model, run, bits=bits, group_size=group_size, max_rows=MAX_ROWS
    )
