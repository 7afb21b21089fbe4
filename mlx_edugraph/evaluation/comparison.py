"""Compare two model builds on the same worksheets: labels and answer tokens.

Label agreement uses each model's predictions (from the store, labeling what is missing), so it
shows what users would see change. Token agreement is finer: model A's greedy answers are read
by both models (teacher forcing) and their next-token distributions compared, the same measure
the converter's verification uses. Only one model is in memory at a time.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from mlx_edugraph.evaluation.metrics import Agreement, agreement, ratio
from mlx_edugraph.evaluation.model_info import ModelInfo, model_info
from mlx_edugraph.evaluation.scoring import Unmatched, predicted_sets
from mlx_edugraph.labeling.batch import Event, run
from mlx_edugraph.model.mlx_engine import MlxEngine
from mlx_edugraph.model.token_agreement import TokenAgreement, reference_answers, token_agreement
from mlx_edugraph.pages.worksheets import WorksheetRef, load
from mlx_edugraph.prediction import DIMENSIONS, Prediction
from mlx_edugraph.store.sqlite_store import Store

DEFAULT_TOKEN_PAGES = 32
"""Pages whose answer tokens are compared: A's log-probabilities of each page (answer length x
vocabulary, about 24 MB for Qwen3-VL) stay in memory until B has read them."""


@dataclass
class Comparison:
    """How far model B's labels and answer tokens agree with model A's."""

    models: list[ModelInfo]
    pages: int
    """Pages both models answered (neither is an error)."""
    outcome_agreement: float | None
    """Share of pages with the same outcome (labeled, unsupported, unparseable, ...)."""
    dimensions: dict[str, Agreement]
    exact_match: float | None
    """Share of pages with the same outcome and the same terms in all three dimensions."""
    tokens: TokenAgreement | None
    """Teacher-forced agreement on A's answers (None when no page could be compared)."""
    errors: list[Unmatched] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def label_agreement(
    first: Sequence[Prediction], second: Sequence[Prediction]
) -> tuple[int, float | None, dict[str, Agreement], float | None]:
    """Pages, outcome agreement, per-dimension agreement and exact agreement of two models'
    predictions of the same pages (in the same order)."""
    both = list(zip(first, second, strict=True))
    sets = [(predicted_sets(a), predicted_sets(b)) for a, b in both]
    dimensions = {d: agreement([(a[d], b[d]) for a, b in sets]) for d in DIMENSIONS}
    same_outcome = [a.outcome == b.outcome for a, b in both]
    exact = sum(ok and sa == sb for ok, (sa, sb) in zip(same_outcome, sets, strict=True))
    return len(both), ratio(sum(same_outcome), len(both)), dimensions, ratio(exact, len(both))


def compare_builds(
    engines: Sequence[Callable[[], MlxEngine]],
    refs: Sequence[WorksheetRef],
    store: Store,
    *,
    token_pages: int = DEFAULT_TOKEN_PAGES,
    prompt_origins: Sequence[str] = ("", ""),
    on_event: Callable[[int, Event], None] = lambda model, event: None,
) -> Comparison:
    """Label `refs` with model A then model B (each made by its factory when needed, one in
    memory at a time), then compare their labels and, on the first `token_pages` pages,
    their answer tokens. `prompt_origins` name explicitly supplied prompts for the report."""
    import mlx.core as mx

    predictions: list[dict[WorksheetRef, Prediction]] = [{}, {}]
    infos: list[ModelInfo] = []
    pages, answers = [], []
    tokens = None
    for index, make in enumerate(engines):
        engine = make()
        infos.append(
            model_info(
                engine.provenance.model,
                engine.provenance.model_fingerprint,
                prompt_origins[index],
            )
        )
        for event in run(refs, engine, store):
            on_event(index, event)
            predictions[index][event.ref] = event.prediction
        if index == 0:
            usable = [r for r in refs if predictions[0][r].outcome != "error"][:token_pages]
            pages = [load(r, max_pixels=engine.max_pixels).image for r in usable]
            answers = reference_answers(engine.vlm, engine.prompt, pages)
        elif pages:
            tokens = token_agreement(engine.vlm, engine.prompt, pages, answers)
        del engine
        gc.collect()
        mx.clear_cache()

    errors = [
        Unmatched(ref.label, f"model {'AB'[i]}: {found[ref].error}")
        for ref in refs
        for i, found in enumerate(predictions)
        if found[ref].outcome == "error"
    ]
    kept = [r for r in refs if all(found[r].outcome != "error" for found in predictions)]
    count, outcome, dimensions, exact = label_agreement(
        [predictions[0][r] for r in kept], [predictions[1][r] for r in kept]
    )
    return Comparison(infos, count, outcome, dimensions, exact, tokens, errors)
