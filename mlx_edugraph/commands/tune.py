"""`mlx-edugraph tune`: learn from reviewed pages, prove it on held-out ones, version the result."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from mlx_edugraph.commands.context import (
    Context,
    add_input_arguments,
    add_model_arguments,
    demo_hint,
    demo_truth,
    positive,
    say,
)
from mlx_edugraph.errors import ExitCode, UserError

LEARNING_RATE = 1e-4
"""For the 4B: ten times mlx-vlm's default, usual for LoRA on tens to hundreds of examples."""

DEMO_LEARNING_RATE = 1e-3
"""The tiny demo model has 64-wide layers; its adapters need larger steps to move it."""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(
        parser,
        model_help="the base MLX model folder (default: the model `mlx-edugraph convert` writes)",
        demo_help="tune the tiny demo model (no download needed)",
    )
    parser.add_argument(
        "--truth",
        type=Path,
        metavar="FILE",
        help="learn from a ground-truth file (any format `eval --truth` reads) instead of "
        "the store's reviews",
    )
    add_input_arguments(parser)
    parser.add_argument(
        "--epochs",
        type=int,
        default=10,
        help="at most this many passes over the training pages (default 10); training stops "
        "earlier once every training answer comes out as reviewed",
    )
    parser.add_argument("--steps", type=int, help="at most this many steps (instead of --epochs)")
    parser.add_argument(
        "--all-steps",
        action="store_true",
        help="train to the cap even once the training answers are learned",
    )
    parser.add_argument("--batch-size", type=int, default=1, help="pages per step (default 1)")
    parser.add_argument(
        "--learning-rate",
        type=float,
        help=f"AdamW learning rate (default {LEARNING_RATE:g}; {DEMO_LEARNING_RATE:g} with --demo)",
    )
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank (default 8)")
    parser.add_argument(
        "--grad-checkpoint",
        action=argparse.BooleanOptionalAction,
        help="recompute activations in the backward pass: far less memory, about a third "
        "more time (default: on exactly when a step would not fit the GPU's working set, as "
        "on 16 GB Macs with the 4B; see docs/tuning.md)",
    )
    parser.add_argument(
        "--held-out",
        type=float,
        default=0.2,
        help="share of reviewed pages kept back to prove the result (default 0.2, by Area)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of every random draw: the held-out split, the adapter's start, the order of "
        "the pages (default 0; the same reviews, settings and seed give the same adapter)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.02,
        help="how far one dimension's held-out F1 may fall in a promoted model (default 0.02)",
    )
    promote = parser.add_mutually_exclusive_group()
    promote.add_argument(
        "--promote",
        dest="promote",
        action="store_true",
        default=None,
        help="make the tuned model current whatever the held-out scores say",
    )
    promote.add_argument(
        "--no-promote",
        dest="promote",
        action="store_false",
        help="keep the tuned model aside even if it scores better",
    )
    parser.add_argument(
        "--resume", action="store_true", help="go on with the run that was interrupted"
    )


def main(args: argparse.Namespace) -> int:
    if not 0 < args.held_out < 1:
        raise UserError("--held-out must be between 0 and 1")
    positive(args, "epochs", "steps", "batch_size", "rank")
    ctx = Context(args)
    base = ctx.model().path
    ontology = ctx.ontology()
    args.truth = demo_truth(ctx) or args.truth
    store = None
    if args.truth is None:
        first = "label worksheets and review them in `mlx-edugraph tui` (or give --truth FILE)"
        store = ctx.store(existing=True, first=first)
    try:
        return _tune(_options(args, base, store, ontology), args)
    finally:
        if store is not None:
            store.close()


def _options(args: argparse.Namespace, base: str, store, ontology):
    from mlx_edugraph.model.vlm_training import AdapterSettings
    from mlx_edugraph.tuning.memory import plan_memory
    from mlx_edugraph.tuning.run import TuneOptions

    learning_rate = args.learning_rate or (DEMO_LEARNING_RATE if args.demo else LEARNING_RATE)
    memory = plan_memory(Path(base), args.max_pixels, args.grad_checkpoint)
    if args.grad_checkpoint is None:
        say(f"memory: {memory.why}")
    return TuneOptions(
        base=base,
        store=store,
        truth=args.truth,
        settings=AdapterSettings(
            rank=args.rank,
            alpha=2.0 * args.rank,
            learning_rate=learning_rate,
            batch_size=args.batch_size,
            grad_checkpoint=memory.checkpoint,
        ),
        epochs=args.epochs,
        steps=args.steps,
        until_learned=not args.all_steps,
        held_out=args.held_out,
        seed=args.seed,
        tolerance=args.tolerance,
        promote=args.promote,
        resume=args.resume,
        max_pixels=args.max_pixels,
        ontology=ontology,
    )


def _tune(options, args: argparse.Namespace) -> int:
    """The run, with its progress bar; its failures and interruptions said as they end."""
    from mlx_edugraph.evaluation.truth import TruthError
    from mlx_edugraph.tuning.run import Interrupted, TuneError, tune
    from mlx_edugraph.tuning.split import TooFewPages

    bar = TrainingBar()
    stop = _StopOnInterrupt()
    try:
        with stop:
            result = tune(options, say=say, on_step=bar.update, should_stop=stop)
    except (TuneError, TooFewPages, TruthError) as exc:
        raise UserError(f"{exc}\nthe store and the model in use are unchanged") from None
    except Interrupted as exc:
        bar.close()
        say(
            f"interrupted at step {exc.step} of {exc.total}: the checkpoint is kept; "
            f"`{demo_hint(args, 'tune')} --resume` goes on from it (the model in use is unchanged)"
        )
        return ExitCode.INTERRUPTED
    except KeyboardInterrupt:
        bar.close()
        say(
            "\ninterrupted: no version was made and the model in use is unchanged; the last "
            f"checkpoint (if any) is kept for `{demo_hint(args, 'tune')} --resume`"
        )
        return ExitCode.INTERRUPTED
    finally:
        bar.close()
    for line in _result_lines(result, args):
        print(line)
    return ExitCode.OK


def _result_lines(result, args: argparse.Namespace) -> list[str]:
    from mlx_edugraph.prediction import DIMENSIONS

    before, after = result.before, result.after
    lines = [
        f"tuned in {result.seconds:.0f} s on {result.train_pages} page(s); held-out pages: "
        f"{before.evaluation.pages}",
        f"{'held-out F1':<24}{result.measured_against + ' (in use)':>14}{'tuned':>10}",
        f"{'all three dimensions':<24}{before.f1:>14.3f}{after.f1:>10.3f}",
    ]
    for dimension in DIMENSIONS:
        lines.append(
            f"{dimension:<24}{before.dimension_f1(dimension):>14.3f}"
            f"{after.dimension_f1(dimension):>10.3f}"
        )
    for area, value in before.by_area.items():
        lines.append(f"{'  ' + area:<24}{value:>14.3f}{after.by_area[area]:>10.3f}")
    name, folder = result.version.name, result.version.folder
    lines.append("verdict: " + "; ".join(result.verdict.reasons))
    if result.promoted:
        lines.append(f"{name} is now the model `label` and `tui` use (report: {folder}/report.md)")
        lines.append(
            f"relabel the pages older versions labeled: `{demo_hint(args, 'label')} "
            f"--redo-older`; go back: `{demo_hint(args, 'versions')} --use "
            f"{result.measured_against}`"
        )
    else:
        lines.append(
            f"{name} is kept aside, not used (report: {folder}/report.md); "
            f"use it anyway: `{demo_hint(args, 'versions')} --use {name}`"
        )
    return lines


class TrainingBar:
    """One line: step, loss and ETA, redrawn on a terminal, one line per 10 steps elsewhere."""

    def __init__(self, stream=None, width: int = 24):
        self.stream = stream or sys.stderr
        self.width = width
        self.drawn = False

    def update(self, step: int, total: int, info: dict) -> None:
        from mlx_edugraph.labeling.progress import clock

        filled = int(step / total * self.width) if total else self.width
        line = (
            f"[{'#' * filled}{'-' * (self.width - filled)}] step {step}/{total} "
            f"loss {info['train_loss']:.4f} ETA {clock(info['remaining_time'])} "
            f"peak {info['peak_memory']:.2f} GB"
        )
        if self.stream.isatty():
            self.stream.write(line.ljust(90) + "\r")
            self.drawn = True
        elif step % 10 == 0 or step == total:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.drawn = False


class _StopOnInterrupt:
    """The first Ctrl-C asks training to stop after the current step (keeping a checkpoint);
    a second one interrupts at once."""

    def __init__(self):
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this step (Ctrl-C again to quit at once) ...", file=sys.stderr)

    def __enter__(self):
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self._previous)
