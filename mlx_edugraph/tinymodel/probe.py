"""Ask an MLX checkpoint about sample worksheets with greedy decoding, through mlx-vlm.

This is how the demo build and the tests check that a taught model survived conversion; it
uses mlx-vlm's public `load`, `apply_chat_template` and `generate` the way a user would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlx_edugraph.samples import make_worksheet
from mlx_edugraph.tinymodel.teach import TEACH_SIZE


@dataclass(frozen=True)
class ProbeResult:
    """What the model answered for one sample worksheet."""

    kind: str
    seed: int
    text: str
    prompt_tokens: int
    seconds: float


def probe(
    model_dir: Path,
    kinds: Iterable[str],
    seeds: Iterable[int],
    *,
    size: tuple[int, int] = TEACH_SIZE,
    max_tokens: int = 64,
) -> list[ProbeResult]:
    """Greedy answers of the model in `model_dir` for each (kind, seed) sample page."""
    import time

    from mlx_vlm import generate, load
    from mlx_vlm.prompt_utils import apply_chat_template

    model, processor = load(str(model_dir), trust_remote_code=False)
    prompt = apply_chat_template(processor, model.config, "", num_images=1)
    results = []
    for kind in kinds:
        for seed in seeds:
            page = make_worksheet(kind, size=size, seed=seed)
            started = time.perf_counter()
            out = generate(
                model,
                processor,
                prompt,
                image=[page],
                max_tokens=max_tokens,
                temperature=0.0,
                verbose=False,
            )
            results.append(
                ProbeResult(kind, seed, out.text, out.prompt_tokens, time.perf_counter() - started)
            )
    return results
