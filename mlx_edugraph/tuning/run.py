"""One `tune` run: reviewed pages -> LoRA adapter -> held-out proof -> a new model version.

Training state lives in `<versions>/.training/` until the run ends: `plan.json` (the split,
the settings, the step count) and the newest checkpoint (adapter and optimizer state), swapped
in whole every few steps. Stopping keeps the newest checkpoint for `--resume`; a run killed at
any point leaves no version behind and the current model as it was. Only a finished, scored
adapter becomes a version (`versions.install`), and only a better one becomes current.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from mlx_edugraph.labels.answer import DEFAULT_MAX_TOKENS
from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.model import versions, vlm, vlm_training
from mlx_edugraph.model.choice import ModelChoice
from mlx_edugraph.model.grammar import Grammar
from mlx_edugraph.model.mlx_engine import MlxEngine
from mlx_edugraph.model.versions import Version
from mlx_edugraph.pages.worksheets import (
    DEFAULT_MAX_PIXELS,
    WorksheetError,
    WorksheetRef,
)
from mlx_edugraph.pages.worksheets import load as load_page
from mlx_edugraph.paths import write_atomic
from mlx_edugraph.prediction import Prediction
from mlx_edugraph.store.sqlite_store import Store
from mlx_edugraph.tuning.examples import Collected, Example, from_store, from_truth_file
from mlx_edugraph.tuning.learned import UntilLearned, rule_text
from mlx_edugraph.tuning.proof import TOLERANCE, HeldOutScores, Verdict, judge, score
from mlx_edugraph.tuning.report import report_text
from mlx_edugraph.tuning.split import HELD_OUT, SEED, duplicate_sheets, split

WORK = ".training"
PLAN = "plan.json"
LOCK = ".tune.lock"
CHECKPOINT_EVERY = 10
"""Steps between checkpoints: a kill loses at most this many."""


class TuneError(Exception):
    """Tuning cannot go on; the message says why and what to do. Nothing was changed."""


class _Learned(vlm_training.StopTraining):
    """The stopping rule was met: training ends early, as a finished run."""


class Interrupted(Exception):
    """Training stopped on request; the newest checkpoint is kept for `--resume`."""

    def __init__(self, step: int, total: int):
        super().__init__(f"stopped at step {step} of {total}")
        self.step, self.total = step, total


@dataclass
class TuneOptions:
    """What to tune, on what, and how."""

    base: str
    """The base model folder (tuned versions are adapters on it)."""
    store: Store | None = None
    truth: Path | None = None
    """A ground-truth file instead of the store's reviews."""
    settings: vlm_training.AdapterSettings = field(default_factory=vlm_training.AdapterSettings)
    """Its seed is replaced by `seed`: one seed for the split and the training."""
    epochs: int = 10
    steps: int | None = None
    """The cap on training steps; by default `epochs` passes over the training pages."""
    until_learned: bool = True
    """Stop before the cap once the training answers are learned (`tuning.learned`)."""
    held_out: float = HELD_OUT
    seed: int = SEED
    """Every random draw of the run: the held-out split, LoRA initialisation, dropout, the
    order of the training pages."""
    tolerance: float = TOLERANCE
    promote: bool | None = None
    """None: promote when the proof says better; True/False overrides the proof."""
    resume: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_tokens: int = DEFAULT_MAX_TOKENS
    """Token bound of each held-out answer, as in `label`."""
    ontology: Ontology | None = None


@dataclass
class TuneResult:
    version: Version
    before: HeldOutScores
    after: HeldOutScores
    verdict: Verdict
    promoted: bool
    measured_against: str
    collected: Collected
    train_pages: int
    seconds: float


def tune(
    options: TuneOptions,
    *,
    say: Callable[[str], None] = lambda line: None,
    on_step: Callable[[int, int, dict], None] = lambda step, total, info: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> TuneResult:
    """Train, prove and version an adapter; `TuneError` when the input cannot give one,
    `Interrupted` when `should_stop` said so (the checkpoint is kept)."""
    with _one_run_at_a_time(versions.versions_dir(options.base)):
        return _tune(options, say, on_step, should_stop)


@contextlib.contextmanager
def _one_run_at_a_time(folder: Path) -> Iterator[None]:
    """Two runs on one base would share `.training/`: the second is refused while the first
    lives (the lock goes with its process, however it ends)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TuneError(
                "another `mlx-edugraph tune` is running on this model: wait for it to end"
            ) from None
        yield


def _tune(
    options: TuneOptions,
    say: Callable[[str], None],
    on_step: Callable[[int, int, dict], None],
    should_stop: Callable[[], bool],
) -> TuneResult:
    started = time.perf_counter()
    base = options.base
    work = versions.versions_dir(base) / WORK
    collected = _collect(options)
    for line in collected.left_out():
        say(line)
    plan = _plan(options, collected, work, say)
    by_key = {(e.sha256, e.page): e for e in collected.examples}
    train = [by_key[tuple(key)] for key in plan["train"] if tuple(key) in by_key]
    held_out = [by_key[tuple(key)] for key in plan["held_out"] if tuple(key) in by_key]
    say(
        f"{len(train)} page(s) to train on, {len(held_out)} held out to prove the result "
        f"({plan['held_out_fraction']:.0%} by Area, seed {plan['seed']})"
    )
    adapter, trained, unlearned = _train(options, plan, train, work, say, on_step, should_stop)

    current = versions.choose(base)
    say(f"scoring {len(held_out)} held-out page(s) with the model in use ({current.version}) ...")
    before = _score(current, held_out, options)
    say("scoring them with the tuned adapter ...")
    tuned = ModelChoice(base, adapter, "tuned")
    after = _score(tuned, held_out, options)
    verdict = judge(before, after, options.tolerance, unlearned)
    promoted = verdict.better if options.promote is None else options.promote
    record = {
        "fingerprint": tuned.fingerprint,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "base": {"path": str(base), "fingerprint": ModelChoice(base).fingerprint},
        "adapter": {
            "sha256": _sha256(adapter / vlm_training.ADAPTER_WEIGHTS),
            **{k: plan["settings"][k] for k in ("rank", "alpha")},
        },
        "settings": {
            **plan["settings"],
            "steps": trained,
            "max_steps": plan["steps"],
            "until_learned": plan.get("until_learned", False),
        },
        "source": plan["source"],
        "training_pages": [_page(e) for e in train],
        "held_out_pages": [_page(e) for e in held_out],
        "left_out": {
            "flagged": collected.flagged,
            "gone": len(collected.gone),
            "changed": len(collected.changed),
            "overruled": len(collected.overruled),
        },
        "measured_against": {"version": current.version, "fingerprint": current.fingerprint},
        "scores": {"before": before.summary(), "after": after.summary()},
        "verdict": {"better": verdict.better, "reasons": verdict.reasons},
        "promoted": promoted,
        "promotion": "proof" if options.promote is None else "forced by the user",
    }
    version = versions.install(base, adapter, record, report_text)
    if promoted:
        versions.use_version(base, version.name)
    shutil.rmtree(work, ignore_errors=True)
    return TuneResult(
        version,
        before,
        after,
        verdict,
        promoted,
        current.version,
        collected,
        len(train),
        time.perf_counter() - started,
    )


def _collect(options: TuneOptions) -> Collected:
    if options.truth is not None:
        collected = from_truth_file(options.truth)
        where = f"the truth file {options.truth}"
    elif options.store is not None:
        collected = from_store(options.store)
        where = f"the store {options.store.path}"
    else:
        raise ValueError("give a store or a truth file")
    if not collected.examples:
        problems = "; ".join(collected.left_out())
        raise TuneError(
            f"no reviewed pages to learn from in {where}"
            + (f" ({problems})" if problems else "")
            + ": accept or correct pages in `mlx-edugraph tui` first, or give --truth FILE"
        )
    return collected


def _plan(
    options: TuneOptions, collected: Collected, work: Path, say: Callable[[str], None]
) -> dict:
    """The run's plan: the one kept for `--resume`, else a new split (an old one is dropped)."""
    source = f"truth:{options.truth}" if options.truth else f"store:{options.store.path}"
    if options.resume:
        if not (work / PLAN).is_file():
            raise TuneError("there is no interrupted tuning run to resume: run without --resume")
        plan = json.loads((work / PLAN).read_text(encoding="utf-8"))
        if plan["source"] != source:
            raise TuneError(
                f"the interrupted run learned from {plan['source'].partition(':')[2]}; "
                "resume it with the same --db or --truth"
            )
        return plan
    shutil.rmtree(work, ignore_errors=True)
    together = duplicate_sheets(collected.examples, options.store)
    if together:
        pages = sum(len(group) for group in together)
        say(
            f"{len(together)} group(s) of duplicate sheets ({pages} pages) each kept on one "
            "side of the split"
        )
    parts = split(collected.examples, options.held_out, options.seed, together)
    # mlx-vlm's trainer leaves out a last incomplete batch: a pass is the whole batches.
    per_epoch = max(1, len(parts.train) // options.settings.batch_size)
    plan = {
        "source": source,
        "train": [[e.sha256, e.page] for e in parts.train],
        "held_out": [[e.sha256, e.page] for e in parts.held_out],
        "held_out_fraction": options.held_out,
        "seed": options.seed,
        "settings": asdict(replace(options.settings, seed=options.seed)),
        "steps": options.steps or options.epochs * per_epoch,
        "steps_per_pass": per_epoch,
        "until_learned": options.until_learned,
        "checkpoint": None,
    }
    _write_json(work / PLAN, plan)
    return plan


def _train(
    options: TuneOptions,
    plan: dict,
    train: list[Example],
    work: Path,
    say: Callable[[str], None],
    on_step: Callable[[int, int, dict], None],
    should_stop: Callable[[], bool],
) -> tuple[Path, int, str | None]:
    """Train from the plan's checkpoint until learned or to its step count; returns the
    finished adapter folder (a staging folder beside the versions), the steps trained, and
    why the answers count as not learned (None when they were, or when no rule applied)."""
    examples = []
    for example in train:
        try:
            sheet = load_page(
                WorksheetRef(example.path, example.page),
                max_pixels=options.max_pixels,
                sha256=example.sha256,
            )
        except WorksheetError as exc:
            say(f"skipped {example.origin}: {exc}")
            continue
        examples.append((sheet.image, example.answer))
    if not examples:
        raise TuneError("none of the training pages could be read (reasons above)")
    checkpoint = work / plan["checkpoint"] if plan["checkpoint"] else None
    settings = vlm_training.AdapterSettings(**plan["settings"])
    model = vlm.load(options.base)
    try:
        training = vlm_training.AdapterTraining(
            model,
            examples,
            settings,
            total_steps=plan["steps"],
            checkpoint=checkpoint,
            grammar=Grammar(model.tokenizer, vlm.vocab_size(model), options.ontology),
            scratch=work,
        )
    except Exception as exc:
        raise TuneError(_why(exc, settings)) from exc
    total, done = plan["steps"], training.steps_done
    until = UntilLearned(plan["steps_per_pass"]) if plan.get("until_learned") else None
    unlearned = None
    say(rule_text(plan["steps_per_pass"], total) if until else f"training {total} step(s)")
    if done:
        say(f"resuming at step {done} of {total}")

    def report(info: dict) -> None:
        step = done + int(info["iteration"])
        on_step(step, total, info)
        if until is not None and until.learned(info) and step < total:
            say(f"learned at step {step} of {total}: every training answer comes out as reviewed")
            raise _Learned
        if step < total and (should_stop() or step % CHECKPOINT_EVERY == 0):
            _checkpoint(training, plan, work, step)
            if should_stop():
                raise vlm_training.StopTraining

    try:
        if total > done:
            training.run(
                total - done, report, adapter_file=work / "last" / vlm_training.ADAPTER_WEIGHTS
            )
        if until is not None and until.unlearned is None:
            say("at the cap with no whole pass since resuming: the held-out proof decides")
        elif until is not None:
            unlearned = until.refusal(total)
            say(f"not learned: {unlearned}")
    except _Learned:
        pass
    except vlm_training.StopTraining:
        raise Interrupted(training.steps_done, total) from None
    except (MemoryError, RuntimeError) as exc:
        raise TuneError(_why(exc, settings)) from exc
    finally:
        training.close()
    staging = work / "adapter"
    shutil.rmtree(staging, ignore_errors=True)
    training.save(staging)
    (staging / vlm_training.OPTIMIZER_STATE).unlink()  # a version needs only the adapter
    return staging, training.steps_done, unlearned


def _why(exc: BaseException, settings: vlm_training.AdapterSettings) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError) or "memory" in str(exc).lower() or "alloc" in str(exc):
        if settings.batch_size > 1:
            smaller = f"--batch-size {max(1, settings.batch_size // 2)}"
        elif not settings.grad_checkpoint:
            smaller = "--grad-checkpoint (less memory for more compute)"
        else:
            smaller = "a smaller --max-pixels"
        return f"training ran out of memory ({text}): try {smaller}; nothing was changed"
    return f"training failed ({text}); nothing was changed"


def _checkpoint(training: vlm_training.AdapterTraining, plan: dict, work: Path, step: int) -> None:
    """Save a checkpoint beside the last one, then point the plan at it: always one whole."""
    name = f"checkpoint-{step:07d}"
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=work))
    training.save(staging)
    os.replace(staging, work / name)
    old = plan["checkpoint"]
    plan["checkpoint"] = name
    _write_json(work / PLAN, plan)
    if old and old != name:
        shutil.rmtree(work / old, ignore_errors=True)


def _score(choice: ModelChoice, held_out: list[Example], options: TuneOptions) -> HeldOutScores:
    engine = MlxEngine(
        choice,
        ontology=options.ontology,
        max_pixels=options.max_pixels,
        max_tokens=options.max_tokens,
    )

    def label(example: Example) -> Prediction:
        return engine.label_file(example.path, example.page)

    return score(held_out, label, options.ontology)


def _page(example: Example) -> dict:
    return {
        "sha256": example.sha256,
        "page": example.page,
        "path": str(example.path),
        "area": example.area,
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_json(path: Path, record: dict) -> None:
    write_atomic(path, json.dumps(record, indent=2).encode())
