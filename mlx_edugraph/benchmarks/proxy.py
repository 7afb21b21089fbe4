"""Random-weight stand-ins for the EduGraph model, for benchmarks on machines without it.

A proxy has the real Qwen3-VL architecture at one of `tinymodel.PRESETS`' sizes, the real
checkpoint's image-processor limits (so a scan costs the naive path as many visual tokens as
the real model), and goes through our converter to 4-bit like `mlx-edugraph convert` (the
vision tower stays bf16). Built once into the user cache folder; random weights make its
answers meaningless, so benchmarks fix the answer length instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from mlx_edugraph.tinymodel.shapes import PRESETS, ModelShape

PROXY_VERSION = 1
"""Bump when a build changes in a way the hash of its recipe does not see."""

PROXIES: dict[str, str] = {"tiny": "tiny", "small": "small", "4b": "qwen3vl-4b"}
"""Command-line name -> `tinymodel.PRESETS` shape name."""

REAL_MIN_PIXELS = 65_536
REAL_MAX_PIXELS = 16_777_216
"""The EduGraph checkpoint's processor limits (`size.shortest_edge` / `longest_edge`)."""

BITS = 4
GROUP_SIZE = 64

REAL_VOCABULARY = 151_936
"""Qwen3-VL's vocabulary: `bench --tune` gives the small proxy this many embedding rows, since
the output layer over it is what training's loss costs (the labeling benches keep the
tokenizer-sized one their figures were measured with)."""


def proxy_shape(name: str, vocab_size: int | None = None) -> ModelShape:
    """The shape of proxy `name` (tiny, small, 4b), with the real checkpoint's image limits
    (and `vocab_size` embedding rows when given)."""
    if name not in PROXIES:
        raise ValueError(f"unknown proxy {name!r}; choose from {', '.join(PROXIES)}")
    shape = PRESETS[PROXIES[name]]
    return replace(
        shape,
        dtype="bfloat16",
        min_pixels=REAL_MIN_PIXELS,
        max_pixels=REAL_MAX_PIXELS,
        vocab_size=vocab_size or shape.vocab_size,
    )


def proxy_model(
    name: str,
    cache_dir: Path | None = None,
    *,
    log: Callable[[str], None] | None = None,
    vocab_size: int | None = None,
) -> Path:
    """The MLX folder of proxy `name`, building it on first use (built beside, renamed in)."""
    from mlx_edugraph.paths import cache_dir as user_cache_dir
    from mlx_edugraph.tinymodel.template import read_chat_template

    shape = proxy_shape(name, vocab_size)
    recipe = {"shape": asdict(shape), "bits": BITS, "group": GROUP_SIZE}
    recipe["template"] = read_chat_template()
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    root = Path(cache_dir) if cache_dir is not None else user_cache_dir() / "proxies"
    final = root / f"{name}-v{PROXY_VERSION}-{digest}"
    if (final / "config.json").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    say = log or (lambda _: None)
    with tempfile.TemporaryDirectory(dir=root, prefix=".building-") as tmp:
        from mlx_edugraph.tinymodel.checkpoint import build_checkpoint
        from mlx_edugraph.tinymodel.mlx_conversion import quantize

        say(f"building the {name} proxy (random weights, {shape.name} shapes) in {final}")
        checkpoint = build_checkpoint(Path(tmp) / "hf", shape=shape)
        # mlx-vlm's converter prints progress; the bench prints its own.
        with contextlib.redirect_stdout(io.StringIO()):
            quantize(checkpoint, Path(tmp) / "mlx", bits=BITS, group_size=GROUP_SIZE)
        try:
            os.rename(Path(tmp) / "mlx", final)
        except OSError:
            # Another process finished first: use its build.
            if not (final / "config.json").is_file():
                raise
    return final
