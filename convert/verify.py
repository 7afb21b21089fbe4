"""Does the converted model compute what the checkpoint computes? Measured on sample worksheets.

The unquantized checkpoint answers each page greedily; then both models read that same answer
(teacher forcing) and their next-token distributions are compared at every answer position:
top-1 agreement and mean KL(unquantized || converted), measured by
`mlx_edugraph.model.token_agreement` (which `eval --compare` shares). The two models are
loaded one after the other, so memory holds only one of them.
"""

from __future__ import annotations

import gc
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from .adapter import Adapter, merge_adapter
from .errors import ConvertError
from .quantization import cast

SAMPLE_KINDS = ("addition", "counting", "picture")
"""A worksheet with text, one with pictures to count, and a page that is not a worksheet."""
LOW_AGREEMENT = 0.9


@dataclass(frozen=True)
class Verification:
    """Agreement of the converted model with the unquantized one on sample worksheets."""

    pages: int
    tokens: int
    top1_agreement: float
    mean_kl: float
    max_kl: float
    seconds: float

    @property
    def warning(self) -> str | None:
        """Advice when the converted model often disagrees; None when it agrees."""
        if self.top1_agreement < LOW_AGREEMENT:
            return (
                f"top-1 agreement {self.top1_agreement:.1%} is low: the quantized model "
                "often picks a different token; consider more bits or --awq"
            )
        return None

    def to_dict(self) -> dict:
        return asdict(self)


def sample_pages(max_pixels: int) -> list[Image.Image]:
    """The verification pages, drawn and resolution-capped as `label` would see them."""
    from mlx_edugraph.pages.samples import make_worksheet
    from mlx_edugraph.pages.worksheets import cap_pixels

    return [
        cap_pixels(make_worksheet(kind, seed=i), max_pixels) for i, kind in enumerate(SAMPLE_KINDS)
    ]


def verify_model(
    converted: Path, reference: Path, *, adapter: Adapter | None, dtype: str, max_pixels: int
) -> Verification:
    """Compare the model in `converted` with the checkpoint in `reference` (+ `adapter`), cast
    to the converted model's `dtype` so that the comparison measures quantization alone."""
    import mlx.core as mx

    from mlx_edugraph.model import vlm
    from mlx_edugraph.model.token_agreement import (
        NonFiniteLogits,
        reference_answers,
        token_agreement,
    )

    started = time.perf_counter()
    pages = sample_pages(max_pixels)
    ref = vlm.load(str(reference))
    if adapter is not None:
        merge_adapter(ref.model, adapter)
    cast(ref.model, dtype)
    answers = reference_answers(ref, vlm.render_prompt(ref), pages)
    del ref
    gc.collect()
    mx.clear_cache()

    try:
        model = vlm.load(str(converted))
        check = token_agreement(model, vlm.render_prompt(model), pages, answers)
    except NonFiniteLogits as exc:
        raise ConvertError("the converted model produces non-finite logits (NaN or inf)") from exc
    except Exception as exc:
        raise ConvertError(
            f"the converted model does not load or run: {type(exc).__name__}: {exc}"
        ) from exc
    return Verification(
        check.pages,
        check.tokens,
        check.top1_agreement,
        check.mean_kl,
        check.max_kl,
        time.perf_counter() - started,
    )
