"""Writing the converted model: weights shard by shard with a progress line, the config, and
the checkpoint's tokenizer, processor and chat-template files copied byte for byte.

Weights are computed (read, cast, quantized) only as each batch is written and released after
its shard is saved, so peak memory stays near one shard rather than the whole model.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from . import backend

MAX_SHARD_BYTES = 2 << 30
"""Peak memory is about one shard: 2 GiB, where mlx-vlm writes 5 GB shards."""
EVAL_BATCH_BYTES = 256 << 20
"""How much output is computed between progress updates."""

CARRIED_SUFFIXES = (".json", ".jinja", ".txt", ".model", ".tiktoken", ".md")
"""Sidecar files copied unchanged (not the weights, their index or the config)."""
NOT_CARRIED = {"config.json", "model.safetensors.index.json"}


class ProgressLine:
    """One redrawn line on a terminal; a line per tenth elsewhere (logs, CI); silent without
    a stream."""

    def __init__(self, label: str, total: int, stream: TextIO | None):
        self.label, self.total, self.stream = label, max(total, 1), stream
        self.started = time.monotonic()
        self._shown = -1

    def update(self, done: int) -> None:
        """Show `done` bytes of the total written."""
        if self.stream is None:
            return
        fraction = min(done / self.total, 1.0)
        tty = self.stream.isatty()
        step = int(fraction * 100) if tty else int(fraction * 10)
        if step == self._shown:
            return
        self._shown = step
        bar = "#" * int(fraction * 24)
        line = (
            f"{self.label} [{bar:<24}] {fraction:4.0%} {done / 1e9:.2f}/{self.total / 1e9:.2f}"
            f" GB {time.monotonic() - self.started:5.1f} s"
        )
        self.stream.write(line + ("\r" if tty and fraction < 1 else "\n"))
        self.stream.flush()


def plan_shards(weights: dict[str, Any], max_bytes: int = MAX_SHARD_BYTES) -> list[list[str]]:
    """Names grouped into shards of at most `max_bytes` (a larger tensor gets its own)."""
    shards: list[list[str]] = [[]]
    size = 0
    for name, value in weights.items():
        if shards[-1] and size + value.nbytes > max_bytes:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += value.nbytes
    return shards


def write_weights(model: Any, folder: Path, *, stream: TextIO | None = None) -> int:
    """Compute and save every parameter of `model` as mlx-vlm's sharded layout; returns bytes.

    The model is emptied on the way (its arrays are handed over), so it cannot be used after.
    """
    import mlx.core as mx
    from mlx.utils import tree_flatten, tree_map

    weights = dict(tree_flatten(model.parameters()))
    model.update(tree_map(lambda _: mx.array([]), model.parameters()))
    total = sum(v.nbytes for v in weights.values())
    shards = plan_shards(weights)
    files = (
        ["model.safetensors"]
        if len(shards) == 1
        else [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    )
    progress = ProgressLine("converting", total, stream)
    done = 0
    weight_map = {}
    for names, file in zip(shards, files, strict=True):
        shard = {}
        for batch in _batches(names, weights):
            arrays = [weights[name] for name in batch]
            mx.eval(arrays)
            for name in batch:
                shard[name] = weights.pop(name)
            done += sum(a.nbytes for a in arrays)
            progress.update(done)
        mx.save_safetensors(str(folder / file), shard, metadata={"format": "mlx"})
        weight_map.update(dict.fromkeys(shard, file))
        del shard
        mx.clear_cache()
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=4) + "\n")
    return total


def _batches(names: list[str], weights: dict[str, Any]) -> Iterable[list[str]]:
    batch: list[str] = []
    size = 0
    for name in names:
        batch.append(name)
        size += weights[name].nbytes
        if size >= EVAL_BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def write_config(config: dict, folder: Path) -> None:
    """config.json as mlx-vlm writes it (sorted, without the torch-only keys)."""
    backend.save_config(config, folder / "config.json")


def copy_sidecar_files(source: Path, folder: Path) -> list[str]:
    """Copy tokenizer, processor, chat template, generation config and model card unchanged."""
    copied = []
    for path in sorted(source.iterdir()):
        carried = path.suffix in CARRIED_SUFFIXES or path.name.startswith("LICENSE")
        if path.is_file() and carried and path.name not in NOT_CARRIED:
            shutil.copyfile(path, folder / path.name)
            copied.append(path.name)
    return copied
