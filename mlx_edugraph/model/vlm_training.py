"""LoRA adapter training through mlx-vlm's trainer: the settings, the run (stoppable, quiet,
resumable with its optimizer state) and the files a checkpoint folder holds.

Every training call into mlx-vlm lives here, so an upgrade of its trainer touches one module.
Imported lazily: MLX is heavy.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlx.core as mx
from PIL import Image

from mlx_edugraph.model.vlm import USER_TURN, VLM

if TYPE_CHECKING:
    from mlx_edugraph.model.grammar import Grammar

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
    dropout: float = 0.0
    """Dropout on the LoRA layers' inputs (mlx-vlm's, drawn from the seeded MLX generator)."""
    answer_loss: bool = True
    """Our loss: logits at the answer positions only, the frozen vision tower run once per
    page. False: mlx-vlm's own loss (logits over the whole sequence, vision every step), the
    benchmark's "before"."""


class AdapterTraining:
    """A LoRA adapter being trained on (image, answer) examples with mlx-vlm's trainer.

    The examples go in as chat rows whose user turn is the image alone and whose assistant
    turn is the answer text: rendered by the checkpoint's template with no system message,
    they are the exact prompt of inference followed by the answer. The loss covers the answer
    only (`AnswerLoss`, plugged into mlx-vlm's loop in place of its own). Every random draw
    (LoRA initialisation, dropout, data order) comes from `settings.seed`. `checkpoint` (a
    folder written by `save`) continues an interrupted run: its adapter
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
        grammar: Grammar | None = None,
        scratch: Path | None = None,
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
                lora_dropout=settings.dropout,
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
        self.loss: AnswerLoss | None = None
        if settings.answer_loss:
            self.loss = AnswerLoss(grammar, scratch)
            task = self._trainer.task
            self._trainer.task = replace(task, loss=self.loss)
            self._trainer.train_dataset = _Numbered(self._trainer.train_dataset)

    def example_tokens(self, index: int) -> tuple[list[int], list[bool]]:
        """Example `index` as the trainer feeds it: its tokens, and which ones the loss covers."""
        row = self._trainer.train_dataset[index]
        ids = mx.array(row["input_ids"]).reshape(-1).tolist()
        return ids, [bool(x) for x in mx.array(row["completion_mask"]).reshape(-1).tolist()]

    def batch(self, index: int) -> dict:
        """Example `index` as one batch of the trainer (for comparing losses)."""
        from mlx_vlm.trainer.vlm.sft.runtime import collate_vlm_batch

        return collate_vlm_batch(
            [self._trainer.train_dataset[index]],
            self._args.max_seq_length,
            pad_token_id=self._trainer.args.pad_token_id,
        )

    def reference_loss(self, batch: dict) -> float:
        """mlx-vlm's own loss of `batch` (logits over the whole sequence)."""
        from mlx_vlm.trainer.vlm.sft.runtime import vlm_sft_loss

        plain = {k: v for k, v in batch.items() if k != PAGE_INDEX}
        return vlm_sft_loss(self.vlm.model, plain, train_on_completions=True)[0].item()

    @property
    def steps_done(self) -> int:
        """Optimizer updates so far, a resumed run's included."""
        step = self.optimizer.state.get("step") if self.optimizer.state else None
        return int(step.item()) if step is not None else 0

    def run(self, steps: int, on_report: Any, *, adapter_file: Path) -> None:
        """Train `steps` more steps; `on_report(metrics)` hears each one (loss, remaining
        time, peak memory) and may raise `StopTraining`. mlx-vlm's own progress output is
        kept off the terminal."""
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

    def close(self) -> None:
        """Drop the vision features kept for this run."""
        if self.loss is not None:
            self.loss.close()

    def save(self, folder: Path) -> None:
        """Adapter weights, their config and the optimizer state, into `folder`."""
        from mlx.utils import tree_flatten

        folder.mkdir(parents=True, exist_ok=True)
        with _quiet():
            self._trainer.save_adapter(str(folder / ADAPTER_WEIGHTS))
        mx.save_safetensors(str(folder / OPTIMIZER_STATE), dict(tree_flatten(self.optimizer.state)))


PAGE_INDEX = "page_index"
"""The batch field naming each example, so its vision features can be looked up."""


class _Numbered:
    """The trainer's dataset, each row carrying its index (`PAGE_INDEX`)."""

    def __init__(self, rows: Any):
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> dict:
        return {**self._rows[index], PAGE_INDEX: mx.array([index])}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rows, name)


class AnswerLoss:
    """mlx-vlm's supervised loss (mean cross-entropy over the answer tokens), computed without
    the [tokens x vocabulary] float32 logits: the decoder's last hidden states are gathered at
    the answer positions and only those rows go through the output head (the ~40 answer tokens
    of a ~1,300-token example). The frozen vision tower's output for each page is computed
    once per run and kept on disk (about 20 MB a page on the 4B, too much to keep in memory
    for hundreds of pages), then read back every later epoch.

    Qwen3-VL only: it repeats what `Model.get_input_embeddings` does for one image per example.
    """

    def __init__(self, grammar: Grammar | None = None, scratch: Path | None = None):
        # Under `scratch` (tune's work folder) a killed run's features go with that folder.
        self._folder = tempfile.TemporaryDirectory(prefix="mlx-edugraph-vision-", dir=scratch)
        self.vision_runs = 0
        """Pages whose vision features were computed (a test reads it)."""
        self._grammar = grammar
        self._masks: dict[int, Any] = {}
        """Page -> the grammar's packed token masks along its reviewed answer (`_constrained`)."""

    def close(self) -> None:
        self._folder.cleanup()

    def __call__(self, model: Any, batch: dict) -> tuple[mx.array, dict]:
        import numpy as np
        from mlx_vlm.models.qwen3_vl.qwen3_vl import masked_scatter
        from mlx_vlm.trainer.losses.cross_entropy import cross_entropy
        from mlx_vlm.trainer.vlm.sft.runtime import vlm_batch_metrics, vlm_vision_mask

        ids = batch["input_ids"]
        inputs, targets = ids[:, :-1], ids[:, 1:]
        scored = batch["attention_mask"][:, 1:] * batch["completion_mask"][:, 1:]
        rows = mx.array(np.flatnonzero(np.array(scored)), dtype=mx.uint32)
        grid = batch["image_grid_thw"]
        image, deepstack = self._vision(model, batch)
        language = model.language_model
        image_mask = inputs == model.config.image_token_index
        embeds = language.model.embed_tokens(inputs)
        embeds = masked_scatter(embeds, mx.broadcast_to(image_mask[..., None], embeds.shape), image)
        positions, _ = language.get_rope_index(inputs, grid, None, None)
        hidden = language.model(
            inputs,
            inputs_embeds=embeds,
            position_ids=positions,
            visual_pos_masks=image_mask,
            deepstack_visual_embeds=deepstack,
        )
        hidden = hidden.reshape(-1, hidden.shape[-1])[rows]
        if language.args.tie_word_embeddings:
            logits = language.model.embed_tokens.as_linear(hidden)
        else:
            logits = language.lm_head(hidden)
        answer = targets.reshape(-1)[rows]
        loss, metrics = cross_entropy(logits.astype(mx.float32)[None], answer[None])
        metrics["num_vision_tokens"] = vlm_vision_mask(model, batch).sum()
        if self._grammar is not None:
            metrics.update(self._constrained(logits, answer, np.array(scored), batch))
        return loss, {**metrics, **vlm_batch_metrics(batch)}

    def _constrained(self, logits: mx.array, answer: mx.array, scored: Any, batch: dict) -> dict:
        """Token accuracy and loss of the answer rows as constrained decoding sees them: each
        row's logits masked to the tokens the answer grammar allows there. A token the grammar
        forces is then always right, and a term is right once it beats the other terms the
        grammar allows, not every word of the vocabulary. Metrics only: no gradient."""
        import numpy as np

        from mlx_edugraph.model.grammar import token_mask

        targets = np.array(answer)
        masks, start = [], 0
        for page, count in zip(batch[PAGE_INDEX].tolist(), scored.sum(axis=1), strict=True):
            if page not in self._masks:
                tokens = targets[start : start + count].tolist()
                self._masks[page] = self._grammar.masks_along(tokens)
            masks.append(self._masks[page])
            start += count
        masked = token_mask(
            mx.stop_gradient(logits).astype(mx.float32), mx.array(np.concatenate(masks))
        )
        picked = mx.take_along_axis(masked, answer[:, None], axis=-1)[:, 0]
        return {
            "grammar_token_accuracy": (mx.argmax(masked, axis=-1) == answer).mean(),
            "grammar_loss": (mx.logsumexp(masked, axis=-1) - picked).mean(),
        }

    def _vision(self, model: Any, batch: dict) -> tuple[mx.array, list[mx.array]]:
        """The vision tower's output (merged features, deepstack features) for the batch's
        pages, in batch order: from disk when seen before, else computed and stored."""
        pages = batch[PAGE_INDEX].tolist()
        files = [Path(self._folder.name) / f"{page}.safetensors" for page in pages]
        if not all(file.is_file() for file in files):
            tower = model.vision_tower
            pixels = batch["pixel_values"].astype(tower.patch_embed.proj.weight.dtype)
            grid = batch["image_grid_thw"]
            image, deepstack = tower(pixels, grid)
            merge = model.config.vision_config.spatial_merge_size**2
            start = 0
            for file, thw in zip(files, grid.tolist(), strict=True):
                end = start + thw[0] * thw[1] * thw[2] // merge
                parts = {"image": image[start:end]}
                parts.update({f"deepstack.{i}": d[start:end] for i, d in enumerate(deepstack)})
                mx.save_safetensors(str(file), parts)
                start = end
            self.vision_runs += len(files)
        loaded = [mx.load(str(file)) for file in files]
        image = mx.concatenate([parts["image"] for parts in loaded])
        count = sum(key.startswith("deepstack.") for key in loaded[0])
        deepstack = [
            mx.concatenate([parts[f"deepstack.{i}"] for parts in loaded]) for i in range(count)
        ]
        return image, deepstack


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
