"""Sizes of Qwen3-VL checkpoints to build (the architecture is always the real `qwen3_vl`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelShape:
    """The sizes of one Qwen3-VL checkpoint, plus its dtype and image-size limits."""

    name: str
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    mrope_section: tuple[int, int, int]
    """Rotary frequencies given to time, height and width; they sum to head_dim / 2."""
    vision_depth: int
    vision_hidden_size: int
    vision_num_heads: int
    vision_intermediate_size: int
    deepstack_visual_indexes: tuple[int, ...]
    num_position_embeddings: int = 2304
    """A square number: the vision tower's learned position grid (48 x 48 in the real model)."""
    vocab_size: int | None = None
    """Embedding rows; None means the tokenizer's size rounded up to a multiple of 64."""
    tie_word_embeddings: bool = True
    dtype: str = "bfloat16"
    min_pixels: int = 65_536
    max_pixels: int = 16_777_216
    """Image-processor limits (`size.shortest_edge` / `longest_edge`): they set visual tokens."""
    rope_theta: float = 5_000_000.0
    max_position_embeddings: int = 262_144

    def __post_init__(self) -> None:
        if sum(self.mrope_section) * 2 != self.head_dim:
            raise ValueError(f"{self.name}: mrope_section must sum to head_dim / 2")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"{self.name}: attention heads must be a multiple of KV heads")
        if self.vision_hidden_size % self.vision_num_heads:
            raise ValueError(f"{self.name}: vision hidden size must split into its heads")
        if round(self.num_position_embeddings**0.5) ** 2 != self.num_position_embeddings:
            raise ValueError(f"{self.name}: num_position_embeddings must be a square")
        if any(not 0 <= i < self.vision_depth for i in self.deepstack_visual_indexes):
            raise ValueError(f"{self.name}: deepstack indexes must name vision layers")


TINY = ModelShape(
    name="tiny",
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    intermediate_size=128,
    mrope_section=(4, 2, 2),
    vision_depth=2,
    vision_hidden_size=32,
    vision_num_heads=2,
    vision_intermediate_size=128,
    deepstack_visual_indexes=(0,),
    num_position_embeddings=256,
    dtype="float32",
    # Pages are shrunk to at most 256x320 pixels (80 visual tokens): what the model is taught at.
    min_pixels=128 * 128,
    max_pixels=256 * 320,
)
"""For tests and the demo: two text and two vision layers, taught in about a minute on a CPU."""

SMALL = ModelShape(
    name="small",
    hidden_size=256,
    num_hidden_layers=2,
    num_attention_heads=8,
    num_key_value_heads=4,
    head_dim=32,
    intermediate_size=768,
    mrope_section=(6, 5, 5),
    vision_depth=2,
    vision_hidden_size=128,
    vision_num_heads=2,
    vision_intermediate_size=512,
    deepstack_visual_indexes=(0,),
)
"""For CPU benchmarks: the tiny layer structure, wider, with the real model's image limits."""

QWEN3VL_4B = ModelShape(
    name="qwen3vl-4b",
    hidden_size=2560,
    num_hidden_layers=36,
    num_attention_heads=32,
    num_key_value_heads=8,
    head_dim=128,
    intermediate_size=9728,
    mrope_section=(24, 20, 20),
    vision_depth=24,
    vision_hidden_size=1024,
    vision_num_heads=16,
    vision_intermediate_size=4096,
    deepstack_visual_indexes=(5, 11, 17),
    vocab_size=151_936,
)
"""The shapes of Qwen3-VL-4B (4.44 B parameters, about 8.9 GB in bf16)."""

PRESETS: dict[str, ModelShape] = {s.name: s for s in (TINY, SMALL, QWEN3VL_4B)}
"""Shapes by name, for command lines."""
