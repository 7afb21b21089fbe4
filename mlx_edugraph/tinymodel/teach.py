"""Teach a tiny Qwen3-VL checkpoint the fixed EduGraph answers, with MLX alone (no torch).

Inputs are built exactly as inference builds them (see `teaching_pages`); the loss covers the
answer and `<|im_end|>` only. Two choices keep this to under a minute on two CPU cores:
- the random vision blocks stay frozen (their outputs are computed once per page); the mergers
  that turn them into visual tokens are taught, as is the whole language model;
- the system prompt runs once per batch and is shared by its examples (see `forward`).
The taught weights are written back in Hugging Face layout, for the real conversion.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlx_edugraph.stopping import StopCheck, check
from mlx_edugraph.tinymodel.answers import TAUGHT_ANSWERS
from mlx_edugraph.tinymodel.forward import answer_logits, positions_for
from mlx_edugraph.tinymodel.teaching_pages import TeachingPage, prepare_pages
from mlx_edugraph.tinymodel.weights import hf_from_mlx, write_hf_weights

if TYPE_CHECKING:
    import mlx.core as mx
    import mlx.nn as nn

TEACH_SIZE: tuple[int, int] = (256, 320)
"""Page size (width, height) the tiny model is taught at: TINY's pixel limit, 80 visual tokens."""

TEACH_SEEDS: range = range(10_000, 10_032)
"""Worksheet seeds used for teaching; checks use seeds below 10,000 to show generalisation."""


def teach(
    checkpoint: Path,
    dest: Path,
    *,
    steps: int = 240,
    seed: int = 0,
    batch_size: int = 4,
    learning_rate: float = 3e-3,
    answers: dict[str, str] | None = None,
    size: tuple[int, int] = TEACH_SIZE,
    seeds: Sequence[int] = TEACH_SEEDS,
    log: Callable[[str], None] | None = None,
    stop: StopCheck | None = None,
) -> Path:
    """Teach `checkpoint` (HF layout) `answers` (default `TAUGHT_ANSWERS`); write it to `dest`.

    `dest` (new or empty) becomes a copy of the checkpoint with the taught weights, ready for
    `mlx_edugraph.tinymodel.mlx_conversion.quantize`. Returns `dest`. `stop` is asked before
    each page prepared and each step (a fraction of a second each); once it says so, `Stopped`
    is raised and `dest` is left as it was.
    """
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim
    from mlx.utils import tree_flatten, tree_map

    from mlx_edugraph.model import vlm

    checkpoint, dest = Path(checkpoint), Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} exists and is not empty")
    answers = dict(TAUGHT_ANSWERS if answers is None else answers)
    say = log or (lambda _: None)
    started = time.perf_counter()

    loaded = vlm.load(str(checkpoint))
    model, processor = loaded.model, loaded.processor
    model.update(tree_map(lambda p: p.astype(mx.float32), model.parameters()))
    pages, prefix = prepare_pages(model, processor, answers, size=size, seeds=seeds, stop=stop)
    say(f"{len(pages)} pages prepared in {time.perf_counter() - started:.1f} s")

    model.freeze()
    model.language_model.unfreeze()
    model.vision_tower.merger.unfreeze()
    for merger in model.vision_tower.deepstack_merger_list:
        merger.unfreeze()

    warmup = max(1, steps // 10)
    schedule = optim.join_schedules(
        [
            optim.linear_schedule(learning_rate / 10, learning_rate, warmup),
            optim.cosine_decay(learning_rate, max(1, steps - warmup), learning_rate / 20),
        ],
        [warmup],
    )
    optimizer = optim.AdamW(learning_rate=schedule, weight_decay=0.0)
    positions = positions_for(model, pages[0], max(len(page.ids) for page in pages))

    def loss_fn(model: nn.Module, batch: list[TeachingPage]) -> mx.array:
        logits, targets, mask = answer_logits(model, batch, prefix, positions)
        losses = nn.losses.cross_entropy(logits, targets, reduction="none")
        return (losses * mask).sum() / mask.sum()

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    rng = random.Random(seed)
    kinds = list(answers)
    by_kind = {kind: [page for page in pages if page.kind == kind] for kind in kinds}
    for step in range(steps):
        check(stop)
        # Kinds in turn, so each is seen equally often whatever the batch size.
        batch = [
            rng.choice(by_kind[kinds[(step * batch_size + i) % len(kinds)]])
            for i in range(batch_size)
        ]
        loss, grads = loss_and_grad(model, batch)
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state, loss)
        if step % 40 == 0 or step == steps - 1:
            say(f"step {step:4d}  loss {loss.item():.4f}  {time.perf_counter() - started:.1f} s")

    dest.mkdir(parents=True, exist_ok=True)
    for item in checkpoint.iterdir():
        if (
            item.is_file()
            and not item.name.startswith("model.safetensors")
            and not (item.name.startswith("model-") and item.suffix == ".safetensors")
        ):
            shutil.copy2(item, dest / item.name)
    config = json.loads((checkpoint / "config.json").read_text())
    weights = hf_from_mlx(dict(tree_flatten(model.parameters())))
    write_hf_weights(dest, weights, dtype=config.get("torch_dtype") or "float32")
    say(f"taught in {time.perf_counter() - started:.1f} s")
    return dest
