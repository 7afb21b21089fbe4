"""The converter's seam to mlx-vlm: every call the conversion makes into it lives here.

mlx-vlm changes fast; inference goes through `mlx_edugraph.model.vlm` (the bench's naive
baseline through `vlm_baseline`, training through `vlm_training` beside it), conversion through
this module, so an upgrade touches these four. Imports are lazy: MLX is heavy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def load_lazy(folder: Path) -> tuple[Any, Any]:
    """Model and processor of a checkpoint folder; weights are read only when computed."""
    from mlx_vlm.utils import load_model, load_processor

    model = load_model(folder, lazy=True, trust_remote_code=False)
    processor = load_processor(folder, add_detokenizer=False, trust_remote_code=False)
    return model, processor


def is_vision(path: str) -> bool:
    """Whether a module path belongs to the vision tower, by mlx-vlm's own rule."""
    from mlx_vlm.utils import skip_multimodal_module

    return skip_multimodal_module(path)


def recipe_predicate(recipe: str, model: Any) -> Callable[[str, Any], bool | dict]:
    """mlx-vlm's per-layer bits for a mixed-bit recipe such as `mixed_3_6`."""
    from mlx_vlm.convert import mixed_quant_predicate_builder

    return mixed_quant_predicate_builder(recipe, model)


def quantize_model(
    model: Any, config: dict, group_size: int, bits: int, predicate: Callable
) -> dict:
    """Quantize in place (affine; lazily); returns the config with its quantization entries."""
    from mlx_vlm.quant_utils import quantize_model as quantize

    _, quantized = quantize(
        model, config, group_size, bits, mode="affine", quant_predicate=predicate
    )
    return quantized


def save_config(config: dict, path: Path) -> None:
    """config.json as mlx-vlm writes it (sorted, without the torch-only keys)."""
    from mlx_vlm.utils import save_config as save

    save(dict(config), config_path=path)


def awq(
    language_model: Any, run: Callable[[], None], *, bits: int, group_size: int, max_rows: int
) -> dict:
    """Collect activation statistics while `run` feeds calibration pages, then fold AWQ
    scales into the language model's weights; returns mlx-vlm's summary."""
    from mlx_vlm.quant import apply_awq, collect_activation_stats

    stats = collect_activation_stats(language_model, run, max_rows=max_rows)
    return apply_awq(language_model, stats, bits=bits, group_size=group_size)
