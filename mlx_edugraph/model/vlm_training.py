"""LoRA adapter training through mlx-vlm's trainer: the settings, the run (stoppable, quiet,
resumable with its optimizer state) and the files a checkpoint folder holds.

Every training call into mlx-vlm lives here, so an upgrade of its trainer touches one module.
Imported lazily: MLX is heavy.
"""

from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx
from PIL import Image

from mlx_edugraph.model.vlm import USER_TURN, VLM

ADAPTER_WEIGHTS = "adapters.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
OPTIMIZER_STATE = "optimizer.safetensors"


class StopTraining(Exception):
    """Raised by an `on_report` callback to end training after the step just reported."""


@dataclass
class AdapterSettings:
    """How a LoRA adapter is trained (mlx-vlm's trainer and LoRA layers do the work)."""

    rank: int = 8
    alpha: float = 16.0
    learning_rate: float = 1e-4
    batch_size: int = 1
    seed: int = 0
    max_seq_length: int = 8192
    grad_checkpoint: bool = False
    """Recompute each decoder layer's activations in the backward pass instead of keeping
    them: about a third more compute for a fraction of the activation memory (16 GB Macs)."""
    train_type: str = "lora"
    """"lora" (the base stays frozen, 4-bit); "full" trains every weight, dequantized (the
    benchmark's naive baseline)."""


class AdapterTraining:
    """A LoRA adapter being trained on (image, answer) examples with mlx-vlm's trainer.

    The examples go in as chat rows whose user turn is the image alone and whose assistant
    turn is the answer text: rendered by the checkpoint's template with no system message,
    they are the exact prompt of inference followed by the answer. The loss covers the answer
    only. `checkpoint` (a folder written by `save`) continues an interrupted run: its adapter
    weights and optimizer state (step count and moments, so the schedule goes on too).
    The learning rate warms up over the first tenth of `total_steps` and decays (cosine) to a
    tenth of its peak at the end: small data, so the last steps settle instead of jumping.
    """

    def __init__(
        self,
        vlm: VLM,
        examples: list[tuple[Image.Image, str]],
        settings: AdapterSettings,
        *,
        total_steps: int,
        checkpoint: Path | None = None,
    ):
        import mlx.optimizers as optim
        from mlx.utils import tree_unflatten
        from mlx_vlm.trainer.api import Trainer
        from mlx_vlm.trainer.common.model import prepare_model_for_training
        from mlx_vlm.trainer.vlm.config import VLMTrainingArgs

        self.vlm = vlm
        self.settings = settings
        adapter = checkpoint / ADAPTER_WEIGHTS if checkpoint else None
        # The LoRA layers start from random weights drawn before the trainer seeds MLX: seeded
        # here, a run on the same pages gives the same adapter.
        mx.random.seed(settings.seed)
        with _quiet():
            prepare_model_for_training(
                vlm.model,
                train_type=settings.train_type,
                lora_rank=settings.rank,
                lora_alpha=settings.alpha,
                checkpoint_path=adapter,
                verbose=False,
            )
        self.optimizer = optim.AdamW(
            learning_rate=_schedule(settings.learning_rate, total_steps), weight_decay=0.0
        )
        if checkpoint is not None and (checkpoint / OPTIMIZER_STATE).is_file():
            state = mx.load(str(checkpoint / OPTIMIZER_STATE))
            self.optimizer.state = tree_unflatten(list(state.items()))
        rows = [
            {
                "images": [image],
                "messages": [*USER_TURN, {"role": "assistant", "content": answer}],
            }
            for image, answer in examples
        ]
        self._args = VLMTrainingArgs(
            batch_size=settings.batch_size,
            iters=1,
            train_on_completions=True,
            grad_checkpoint=settings.grad_checkpoint,
            steps_per_report=1,
            # Our own checkpoints (`save`) carry the optimizer state: theirs never run.
            steps_per_save=1 << 30,
            max_seq_length=settings.max_seq_length,
        )
        with _quiet():
            self._trainer = Trainer(
                vlm.model,
                self._args,
                train_dataset=rows,
                processing_class=vlm.processor,
                optimizer=self.optimizer,
                seed=settings.seed,
            )

    def example_tokens(self, index: int) -> tuple[list[int], list[bool]]:
        """Example `index` as the trainer feeds it: its tokens, and which ones the loss covers."""
        row = self._trainer.train_dataset[index]
        ids = mx.array(row["input_ids"]).reshape(-1).tolist()
        return ids, [bool(x) for x in mx.array(row["completion_mask"]).reshape(-1).tolist()]

    @property
    def steps_done(self) -> int:
        """Optimizer updates so far, a resumed run's included."""
        step = self.optimizer.state.get("step") if self.optimizer.state else None
        return int(step.item()) if step is not None else 0

    def run(self, steps: int, on_report: Any, *, adapter_file: Path) -> None:
        """Train `steps` more steps; `on_report(metrics)` hears each one (loss, remaining
        time, peak memory) and may raise `StopTraining`. mlx-vlm's own progress output is
        kept off the terminal."""
        from dataclasses import replace

        from mlx_vlm.trainer.common.callbacks import TrainingCallback

        streams = sys.stdout, sys.stderr

        class Reporter(TrainingCallback):
            def on_train_loss_report(self, info: dict) -> None:
                with _streams(*streams):
                    on_report(info)

        self._trainer.args = replace(self._args, iters=steps, adapter_file=str(adapter_file))
        self._trainer.training_callback = Reporter()
        # A resumed run gets its own data order: the trainer's seed picks it.
        self._trainer.seed = self.settings.seed + self.steps_done
        try:
            with _quiet():
                self._trainer.train()
        finally:
            self.vlm.model.eval()

    def save(self, folder: Path) -> None:
        """Adapter weights, their config and the optimizer state, into `folder`."""
        from mlx.utils import tree_flatten

        folder.mkdir(parents=True, exist_ok=True)
        with _quiet():
            self._trainer.save_adapter(str(folder / ADAPTER_WEIGHTS))
        mx.save_safetensors(str(folder / OPTIMIZER_STATE), dict(tree_flatten(self.optimizer.state)))


def _schedule(peak: float, total_steps: int) -> Any:
    import mlx.optimizers as optim

    warmup = max(1, total_steps // 10)
    return optim.join_schedules(
        [
            optim.linear_schedule(peak / 10, peak, warmup),
            optim.cosine_decay(peak, max(1, total_steps - warmup), peak / 10),
        ],
        [warmup],
    )


def _quiet() -> contextlib.ExitStack:
    """mlx-vlm's trainer prints a tqdm bar and a line per report; the caller draws its own."""
    return _streams(io.StringIO(), io.StringIO())


def _streams(out: Any, err: Any) -> contextlib.ExitStack:
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(out))
    stack.enter_context(contextlib.redirect_stderr(err))
    return stack
