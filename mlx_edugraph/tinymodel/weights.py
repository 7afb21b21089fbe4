"""Qwen3-VL weights in Hugging Face layout: tensor names, random init, sharded safetensors.

Shards are generated and written one at a time, so a 4B-shaped checkpoint (8.9 GB) never sits in
memory whole. `hf_from_mlx` is the inverse of mlx-vlm's `sanitize`, for writing taught weights
back so that they can go through the real conversion.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mlx_edugraph.tinymodel.shapes import ModelShape

if TYPE_CHECKING:
    import mlx.core as mx

INIT_STD = 0.02
"""Normal init of every matrix, as transformers' `initializer_range` for Qwen3-VL."""

MAX_SHARD_BYTES = 2 << 30
"""Shard size of written checkpoints: small enough to keep peak memory low for the 4B shapes."""

_PATCH_EMBED = "model.visual.patch_embed.proj.weight"
_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def hf_tensor_shapes(shape: ModelShape, vocab_size: int) -> dict[str, tuple[int, ...]]:
    """Every tensor of `Qwen3VLForConditionalGeneration` with `shape`, by its HF name."""
    h, hd, inter = shape.hidden_size, shape.head_dim, shape.intermediate_size
    q, kv = shape.num_attention_heads * hd, shape.num_key_value_heads * hd
    out: dict[str, tuple[int, ...]] = {"model.language_model.embed_tokens.weight": (vocab_size, h)}
    for i in range(shape.num_hidden_layers):
        p = f"model.language_model.layers.{i}."
        out |= {
            p + "input_layernorm.weight": (h,),
            p + "self_attn.q_proj.weight": (q, h),
            p + "self_attn.k_proj.weight": (kv, h),
            p + "self_attn.v_proj.weight": (kv, h),
            p + "self_attn.o_proj.weight": (h, q),
            p + "self_attn.q_norm.weight": (hd,),
            p + "self_attn.k_norm.weight": (hd,),
            p + "post_attention_layernorm.weight": (h,),
            p + "mlp.gate_proj.weight": (inter, h),
            p + "mlp.up_proj.weight": (inter, h),
            p + "mlp.down_proj.weight": (h, inter),
        }
    out["model.language_model.norm.weight"] = (h,)
    if not shape.tie_word_embeddings:
        out["lm_head.weight"] = (vocab_size, h)

    vh, vi = shape.vision_hidden_size, shape.vision_intermediate_size
    merged = vh * 4  # spatial_merge_size 2: four patches become one token
    out |= {
        _PATCH_EMBED: (vh, 3, 2, 16, 16),
        "model.visual.patch_embed.proj.bias": (vh,),
        "model.visual.pos_embed.weight": (shape.num_position_embeddings, vh),
    }
    for i in range(shape.vision_depth):
        p = f"model.visual.blocks.{i}."
        out |= {
            p + "norm1.weight": (vh,),
            p + "norm1.bias": (vh,),
            p + "attn.qkv.weight": (3 * vh, vh),
            p + "attn.qkv.bias": (3 * vh,),
            p + "attn.proj.weight": (vh, vh),
            p + "attn.proj.bias": (vh,),
            p + "norm2.weight": (vh,),
            p + "norm2.bias": (vh,),
            p + "mlp.linear_fc1.weight": (vi, vh),
            p + "mlp.linear_fc1.bias": (vi,),
            p + "mlp.linear_fc2.weight": (vh, vi),
            p + "mlp.linear_fc2.bias": (vh,),
        }
    mergers = [("model.visual.merger.", vh)] + [
        (f"model.visual.deepstack_merger_list.{j}.", merged)
        for j in range(len(shape.deepstack_visual_indexes))
    ]
    for p, norm in mergers:
        out |= {
            p + "norm.weight": (norm,),
            p + "norm.bias": (norm,),
            p + "linear_fc1.weight": (merged, merged),
            p + "linear_fc1.bias": (merged,),
            p + "linear_fc2.weight": (h, merged),
            p + "linear_fc2.bias": (h,),
        }
    return out


def init_tensor(name: str, dims: tuple[int, ...], *, seed: int) -> mx.array:
    """A float32 tensor: ones for norm weights, zeros for biases, N(0, 0.02) otherwise.

    Seeded by the name as well, so a tensor does not depend on which others exist.
    """
    import mlx.core as mx

    if name.endswith("bias"):
        return mx.zeros(dims, dtype=mx.float32)
    if "norm" in name.rsplit(".", 2)[-2]:  # RMSNorm and LayerNorm scales
        return mx.ones(dims, dtype=mx.float32)
    key = mx.random.key(((seed & 0xFFFFFFFF) << 32) | zlib.crc32(name.encode()))
    return mx.random.normal(dims, dtype=mx.float32, key=key) * INIT_STD


def write_random_weights(
    folder: Path, shapes: dict[str, tuple[int, ...]], *, dtype: str, seed: int
) -> list[Path]:
    """Write randomly initialised `shapes` as sharded safetensors in `dtype`."""
    import mlx.core as mx

    target = getattr(mx, dtype)
    return write_shards(
        folder,
        [(name, _nbytes(dims, dtype)) for name, dims in shapes.items()],
        lambda name: init_tensor(name, shapes[name], seed=seed).astype(target),
    )


def write_hf_weights(folder: Path, weights: dict[str, mx.array], *, dtype: str) -> list[Path]:
    """Write weights that already have HF names, cast to `dtype`, as sharded safetensors."""
    import mlx.core as mx

    target = getattr(mx, dtype)
    return write_shards(
        folder,
        [(name, _nbytes(tuple(w.shape), dtype)) for name, w in weights.items()],
        lambda name: weights[name].astype(target),
    )


def write_shards(
    folder: Path,
    plan: Iterable[tuple[str, int]],
    produce: Callable[[str], mx.array],
    *,
    max_shard_bytes: int = MAX_SHARD_BYTES,
) -> list[Path]:
    """Write tensors named in `plan` (name, bytes) shard by shard, plus the HF index file.

    `produce(name)` makes each tensor only when its shard is written.
    """
    import mlx.core as mx

    shards: list[list[str]] = [[]]
    size = total = 0
    for name, nbytes in plan:
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += nbytes
        total += nbytes
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = (
        ["model.safetensors"]
        if len(shards) == 1
        else [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    )
    weight_map: dict[str, str] = {}
    for names, file in zip(shards, files, strict=True):
        arrays = {}
        for name in names:
            arrays[name] = produce(name)
            mx.eval(arrays[name])
        # "pt" metadata: transformers refuses safetensors files without a known format.
        mx.save_safetensors(str(folder / file), arrays, metadata={"format": "pt"})
        weight_map |= dict.fromkeys(names, file)
        del arrays
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return [folder / f for f in files]


def hf_from_mlx(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Rename mlx-vlm Qwen3-VL parameters to HF names: the inverse of mlx-vlm's `sanitize`."""
    out = {}
    for key, value in weights.items():
        if key.startswith("language_model.model."):
            name = "model.language_model." + key.removeprefix("language_model.model.")
        elif key.startswith("language_model.lm_head."):
            name = "lm_head." + key.removeprefix("language_model.lm_head.")
        elif key.startswith("vision_tower."):
            name = "model.visual." + key.removeprefix("vision_tower.")
        else:
            raise ValueError(f"unexpected Qwen3-VL parameter {key}")
        if name == _PATCH_EMBED:
            # MLX Conv3d keeps channels last (O, T, H, W, C); torch wants (O, C, T, H, W).
            value = value.transpose(0, 4, 1, 2, 3)
        out[name] = value
    return out


def _nbytes(dims: tuple[int, ...], dtype: str) -> int:
    count = 1
    for d in dims:
        count *= d
    return count * _DTYPE_BYTES[dtype]
