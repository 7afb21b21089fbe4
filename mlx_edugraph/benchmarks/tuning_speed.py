"""`bench --tune`: what `tune` costs on a model: training steps per second, peak memory, and
the whole way from reviewed pages to a model in use, for several numbers of reviewed pages.

The baselines in the same run, on the same pages for the same steps: LoRA with mlx-vlm's own
loss (logits over the whole sequence, the vision tower every step: `tune` before its
answer-only loss), LoRA as `tune` trains now, and full fine-tuning (every weight trainable,
dequantized), which shows what the LoRA adapters on the frozen 4-bit base save.
Random-weight proxies cannot be proven better, so promotion is forced here; the proof's own
verdict is reported beside the time.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlx_edugraph.model import vlm, vlm_training
from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.pages.worksheets import WorksheetRef, file_sha256, load
from mlx_edugraph.paths import HOME_ENV_VAR
from mlx_edugraph.store.review import Review
from mlx_edugraph.store.sqlite_store import Store
from mlx_edugraph.tinymodel.answers import TAUGHT_ANSWERS
from mlx_edugraph.tuning.run import TuneOptions, tune

ANSWER_TOKENS = 48
"""Held-out answers are cut here: about a real answer's length (a random model rambles)."""

BASELINE_PAGES = 5
BASELINE_STEPS = 15
"""Three passes over `BASELINE_PAGES` pages for each way of training, side by side: the
vision features of a page are computed on its first pass and reused on the next two."""

BASELINES = (
    ("LoRA, mlx-vlm's loss (before)", "lora", False),
    ("LoRA, answer-only loss, vision once (`tune`)", "lora", True),
    ("full fine-tuning, dequantized, mlx-vlm's loss", "full", False),
)
"""(name, train type, answer-only loss) of each baseline."""


@dataclass
class TuneRun:
    """One `tune` on `pages` reviewed pages."""

    pages: int
    train_pages: int
    held_out: int
    steps: int
    steps_per_s: float
    peak_memory_gb: float
    train_s: float
    total_s: float
    """From the start of `tune` to the new version in use (scoring and install included)."""
    proof_better: bool


@dataclass
class Baseline:
    """Steps per second and peak memory of one way of training, on the same examples."""

    name: str
    steps_per_s: float
    peak_memory_gb: float
    trainable: int


def reviewed_pages(folder: Path, count: int, size: tuple[int, int], db: Path) -> None:
    """`count` generated worksheets (kinds cycle), each reviewed with its kind's taught answer."""
    import json

    paths = write_samples(folder, count, size=size, seed=5000)
    with Store(db) as store:
        for path in paths:
            kind = path.stem.split("-", 1)[1]
            answer = json.loads(TAUGHT_ANSWERS[kind])
            labels = {d: answer.get(d, []) for d in ("Area", "Scope", "Ability")}
            sha256 = file_sha256(path)
            store.put_review(
                Review(sha256, 0, str(path), "corrected", labels, unsupported="Error" in answer)
            )


@contextlib.contextmanager
def own_user_folder(folder: Path) -> Iterator[None]:
    """Versions made by the benchmark go to a throwaway user folder, not the real one."""
    previous = os.environ.get(HOME_ENV_VAR)
    os.environ[HOME_ENV_VAR] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(HOME_ENV_VAR, None)
        else:
            os.environ[HOME_ENV_VAR] = previous


def run_tune_bench(
    model: str,
    page_counts: Sequence[int],
    *,
    size: tuple[int, int],
    epochs: int,
    learning_rate: float,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[list[TuneRun], list[Baseline]]:
    """`tune` on each count of reviewed pages, then LoRA against full fine-tuning."""
    with tempfile.TemporaryDirectory(prefix="mlx-edugraph-tune-bench-") as tmp:
        runs = []
        for count in page_counts:
            log(f"tune on {count} reviewed pages ...")
            work = Path(tmp) / str(count)
            runs.append(_tune_once(model, count, work, size, epochs, learning_rate))
            log(f"  {runs[-1]}")
        examples = []
        for path in sorted((Path(tmp) / str(page_counts[0]) / "pages").iterdir())[:BASELINE_PAGES]:
            kind = path.stem.split("-", 1)[1]
            examples.append((load(WorksheetRef(path)).image, TAUGHT_ANSWERS[kind]))
        baselines = [
            _baseline(model, examples, way, learning_rate, Path(tmp), log) for way in BASELINES
        ]
    return runs, baselines


def _tune_once(
    model: str,
    count: int,
    work: Path,
    size: tuple[int, int],
    epochs: int,
    learning_rate: float,
) -> TuneRun:
    reviewed_pages(work / "pages", count, size, work / "labels.sqlite")
    steps: list[dict] = []
    vlm.reset_peak_memory()
    with own_user_folder(work / "home"), Store(work / "labels.sqlite") as store:
        started = time.perf_counter()
        result = tune(
            TuneOptions(
                base=model,
                store=store,
                settings=vlm_training.AdapterSettings(learning_rate=learning_rate),
                epochs=epochs,
                promote=True,
                max_tokens=ANSWER_TOKENS,
            ),
            on_step=lambda step, total, info: steps.append(info),
        )
        total = time.perf_counter() - started
    train_s = sum(info["step_time"] for info in steps)
    return TuneRun(
        pages=count,
        train_pages=result.train_pages,
        held_out=result.before.evaluation.pages,
        steps=len(steps),
        steps_per_s=len(steps) / train_s,
        peak_memory_gb=max(info["peak_memory"] for info in steps),
        train_s=train_s,
        total_s=total,
        proof_better=result.verdict.better,
    )


def _baseline(
    model: str,
    examples: list,
    way: tuple[str, str, bool],
    learning_rate: float,
    tmp: Path,
    log: Callable[[str], None],
) -> Baseline:
    from mlx.utils import tree_flatten

    name, train_type, answer_loss = way
    log(f"{name}: {BASELINE_STEPS} steps ...")
    loaded = vlm.load(model)
    vlm.reset_peak_memory()
    settings = vlm_training.AdapterSettings(
        learning_rate=learning_rate, train_type=train_type, answer_loss=answer_loss
    )
    training = vlm_training.AdapterTraining(loaded, examples, settings, total_steps=BASELINE_STEPS)
    trainable = sum(v.size for _, v in tree_flatten(loaded.model.trainable_parameters()))
    infos: list[dict] = []
    training.run(
        BASELINE_STEPS, infos.append, adapter_file=tmp / train_type / str(answer_loss) / "weights"
    )
    training.close()
    seconds = sum(info["step_time"] for info in infos[1:])  # the first step compiles
    return Baseline(
        name,
        (len(infos) - 1) / seconds,
        max(info["peak_memory"] for info in infos),
        trainable,
    )


def format_tune_table(runs: list[TuneRun], baselines: list[Baseline]) -> str:
    lines = [
        "| reviewed pages | train / held out | steps | steps/s | peak memory | training | "
        "tune -> model in use | proof says better |",
        "|---:|---:|---:|---:|---:|---:|---:|:--:|",
    ]
    for run in runs:
        lines.append(
            f"| {run.pages} | {run.train_pages} / {run.held_out} | {run.steps} | "
            f"{run.steps_per_s:.2f} | {run.peak_memory_gb:.2f} GB | {run.train_s:.0f} s | "
            f"{run.total_s:.0f} s | {'yes' if run.proof_better else 'no'} |"
        )
    lines += [
        "",
        "| training | trainable weights | steps/s | peak memory |",
        "|---|---:|---:|---:|",
    ]
    for baseline in baselines:
        lines.append(
            f"| {baseline.name} | {baseline.trainable:,} | {baseline.steps_per_s:.2f} | "
            f"{baseline.peak_memory_gb:.2f} GB |"
        )
    if len(baselines) == len(BASELINES):
        before, after, full = baselines
        for what, other in (("mlx-vlm's loss (before)", before), ("full fine-tuning", full)):
            lines.append(
                f"\n`tune` against {what}: {after.steps_per_s / other.steps_per_s:.2f}x the "
                f"steps per second, {after.peak_memory_gb / other.peak_memory_gb:.2f}x the peak "
                "memory"
            )
    return "\n".join(lines)
