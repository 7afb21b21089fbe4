"""Ask an MLX checkpoint about sample worksheets with greedy decoding.

This is how the demo build and the tests check that a taught model survived conversion. It
decodes through `mlx_edugraph.model.vlm` without the engine's prefix reuse or answer grammar, so a
taught answer must come from the weights alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlx_edugraph.pages.samples import make_worksheet
from mlx_edugraph.stopping import StopCheck, check
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
    stop: StopCheck | None = None,
) -> list[ProbeResult]:
    """Greedy answers of the model in `model_dir` for each (kind, seed) sample page (`stop`
    is asked before each)."""
    import time

    from mlx_edugraph.model import vlm

    loaded = vlm.load(str(model_dir))
    prompt = vlm.render_prompt(loaded)
    stops = loaded.stop_token_ids
    results = []
    for kind in kinds:
        for seed in seeds:
            check(stop)
            started = time.perf_counter()
            encoded = vlm.encode(loaded, prompt, make_worksheet(kind, size=size, seed=seed))
            tokens = []
            for step in vlm.generate(loaded, encoded, max_tokens=max_tokens):
                if step.token in stops:
                    break
                tokens.append(step.token)
            text = vlm.decode(loaded, tokens)
            seconds = time.perf_counter() - started
            results.append(ProbeResult(kind, seed, text, encoded.prompt_tokens, seconds))
    return results
