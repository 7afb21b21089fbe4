"""What gets quantized and how: dtype of the unquantized parts, mlx-vlm's affine quantization
and mixed-bit recipes, and a per-part summary of the result for the report.

The vision tower stays in `dtype` unless asked: "4-bit" then means a 4-bit language model, as in
mlx-vlm's own conversion (`skip_multimodal_module`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import backend
from .errors import ConvertError

BITS = (2, 3, 4, 6, 8)
GROUP_SIZES = (32, 64, 128)
DTYPES = ("float16", "bfloat16", "float32")
DEFAULT_BITS = 4
DEFAULT_GROUP_SIZE = 64
RECIPES = (
    "mixed_2_6",
    "mixed_3_4",
    "mixed_3_5",
    "mixed_3_6",
    "mixed_3_8",
    "mixed_4_6",
    "mixed_4_8",
)
"""mlx-vlm 0.7.10's mixed-bit recipes (mixed_3_6: 3 bits, 6 for the sensitive layers); written
out so that `--help` need not import MLX (a test checks them against mlx-vlm)."""
RECIPE_GROUP_SIZE = 64
"""mlx-vlm's mixed recipes use group size 64 throughout."""


@dataclass(frozen=True)
class QuantSpec:
    """The quantization asked for, resolved to concrete values."""

    bits: int
    group_size: int
    recipe: str | None = None
    vision: bool = False

    @classmethod
    def resolve(
        cls, bits: int | None, group_size: int | None, recipe: str | None, vision: bool
    ) -> QuantSpec:
        """Defaults filled in and option values checked; refuses contradicting options."""
        if recipe is not None:
            if recipe not in RECIPES:
                raise ConvertError(f"unknown recipe {recipe!r}; one of {', '.join(RECIPES)}")
            if bits is not None or group_size is not None:
                raise ConvertError(
                    "--recipe sets bits and group size per layer; drop --bits and --group-size"
                )
            # The recipe's low bit width: what AWQ searches for and a quantized vision tower gets.
            low = int(recipe.split("_")[1])
            return cls(low, RECIPE_GROUP_SIZE, recipe, vision)
        bits = DEFAULT_BITS if bits is None else bits
        group_size = DEFAULT_GROUP_SIZE if group_size is None else group_size
        if bits not in BITS:
            raise ConvertError(f"--bits must be one of {', '.join(map(str, BITS))}")
        if group_size not in GROUP_SIZES:
            raise ConvertError(f"--group-size must be one of {', '.join(map(str, GROUP_SIZES))}")
        return cls(bits, group_size, None, vision)

    def describe(self) -> dict:
        """What provenance records about the quantization."""
        return {
            "bits": self.bits,
            "group_size": self.group_size,
            "mode": "affine",
            "recipe": self.recipe,
            "vision_quantized": self.vision,
        }


def resolve_dtype(dtype: str | None, config: dict) -> str:
    """The dtype of unquantized weights: as asked, else the checkpoint's, else bfloat16."""
    if dtype is not None:
        if dtype not in DTYPES:
            raise ConvertError(f"--dtype must be one of {', '.join(DTYPES)}")
        return dtype
    for value in (
        config.get("torch_dtype"),
        config.get("dtype"),
        config["text_config"].get("dtype"),
    ):
        if value in DTYPES:
            return value
    return "bfloat16"


def cast(model: Any, dtype: str) -> None:
    """Cast floating-point parameters to `dtype` (lazily: nothing is read yet)."""
    import mlx.core as mx
    from mlx.utils import tree_map

    target = getattr(mx, dtype)
    model.update(
        tree_map(
            lambda v: v.astype(target) if mx.issubdtype(v.dtype, mx.floating) else v,
            model.parameters(),
        )
    )


def quantize(model: Any, config: dict, spec: QuantSpec) -> dict:
    """Quantize `model` in place (lazily); returns the config with its quantization entries."""
    recipe = backend.recipe_predicate(spec.recipe, model) if spec.recipe else None
    own = getattr(model, "quant_predicate", None)

    def predicate(path: str, module: Any) -> bool | dict:
        if backend.is_vision(path):
            return spec.vision
        if recipe is not None:
            return recipe(path, module)
        return own(path, module) if own is not None else True

    return backend.quantize_model(model, config, spec.group_size, spec.bits, predicate)


@dataclass
class PartSummary:
    """One part of the model (language model, vision tower) after conversion."""

    name: str
    params: int = 0
    nbytes: int = 0
    quantized_layers: int = 0
    quantized_params: int = 0
    bits: tuple[int, ...] = ()
    group_sizes: tuple[int, ...] = ()
    kept_dtypes: tuple[str, ...] = ()

    @property
    def bits_per_weight(self) -> float:
        return self.nbytes * 8 / self.params if self.params else 0.0


def summarize(model: Any) -> list[PartSummary]:
    """Parameters, bytes and quantization of the language model and the vision tower."""
    import mlx.nn as nn
    from mlx.utils import tree_flatten

    parts = {
        "language model": PartSummary("language model"),
        "vision tower": PartSummary("vision tower"),
    }
    leaves = tree_flatten(model.leaf_modules(), is_leaf=nn.Module.is_module)
    for path, module in leaves:
        part = parts["vision tower" if backend.is_vision(path) else "language model"]
        arrays = [v for _, v in tree_flatten(module.parameters())]
        part.nbytes += sum(v.nbytes for v in arrays)
        if hasattr(module, "bits") and hasattr(module, "scales"):
            count = module.weight.size * 32 // module.bits
            part.params += count + sum(
                v.size for k, v in tree_flatten(module.parameters()) if k == "bias"
            )
            part.quantized_params += count
            part.quantized_layers += 1
            part.bits = tuple(sorted({*part.bits, module.bits}))
            part.group_sizes = tuple(sorted({*part.group_sizes, module.group_size}))
        else:
            part.params += sum(v.size for v in arrays)
            dtypes = {str(v.dtype).removeprefix("mlx.core.") for v in arrays}
            part.kept_dtypes = tuple(sorted({*part.kept_dtypes, *dtypes}))
    return [part for part in parts.values() if part.params]
