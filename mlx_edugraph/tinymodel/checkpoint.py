"""Build a random-weight Qwen3-VL checkpoint in Hugging Face layout, of any `ModelShape`.

The folder is what a Hugging Face repository of the real model holds: config, generation
config, image and video processor configs, tokenizer, chat template and safetensors weights. It
loads in mlx-vlm (`mlx_vlm.load`, `mlx_vlm.convert`) and in transformers'
`Qwen3VLForConditionalGeneration`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer

from mlx_edugraph.tinymodel.answers import TAUGHT_ANSWERS
from mlx_edugraph.tinymodel.shapes import TINY, ModelShape
from mlx_edugraph.tinymodel.template import read_chat_template
from mlx_edugraph.tinymodel.tokenizer import token_ids, train_tokenizer, write_tokenizer
from mlx_edugraph.tinymodel.weights import hf_tensor_shapes, write_random_weights

SHARED_ONTOLOGY = Path(__file__).resolve().parents[2].parent / "shared/ontology/edugraph-v0.4.0.ttl"
"""EduGraph v0.4.0 beside the repository; its term names join the tokenizer's corpus if present."""


def build_checkpoint(
    dest: Path,
    *,
    shape: ModelShape = TINY,
    seed: int = 0,
    tokenizer: Tokenizer | None = None,
    chat_template: Path | None = None,
) -> Path:
    """Write a random-weight checkpoint of `shape` into `dest` (new or empty) and return it.

    `tokenizer` defaults to `build_tokenizer(...)` on the chat template's prompt;
    `chat_template` defaults to `template.read_chat_template()`'s choice.
    """
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} exists and is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    template = read_chat_template(chat_template)
    if tokenizer is None:
        tokenizer = build_tokenizer(template)
    ids = token_ids(tokenizer)
    vocab_size = shape.vocab_size or -(-tokenizer.get_vocab_size() // 64) * 64
    if tokenizer.get_vocab_size() > vocab_size:
        raise ValueError(f"{shape.name}: vocab_size {vocab_size} is below the tokenizer's size")
    write_configs(dest, shape, ids, vocab_size)
    write_tokenizer(tokenizer, dest, chat_template=template)
    write_random_weights(dest, hf_tensor_shapes(shape, vocab_size), dtype=shape.dtype, seed=seed)
    return dest


def build_tokenizer(template: str, terms: Iterable[str] | None = None) -> Tokenizer:
    """Train the tiny tokenizer on conversations rendered with `template` and ontology terms.

    `terms` defaults to the term names of the shared EduGraph ontology, if it is present.
    """
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    render = ImmutableSandboxedEnvironment().from_string(template).render
    texts = []
    for answer in TAUGHT_ANSWERS.values():
        messages = [
            {"role": "user", "content": [{"type": "image"}]},
            {"role": "assistant", "content": answer},
        ]
        texts.append(render(messages=messages, add_generation_prompt=False))
        # Weight the answers up so each term becomes one token.
        texts.extend([answer] * 8)
    texts.append(" ".join(shared_ontology_terms() if terms is None else terms))
    return train_tokenizer(texts)


def shared_ontology_terms() -> list[str]:
    """Names of the EduGraph v0.4.0 terms in the shared ontology, or [] without it."""
    if not SHARED_ONTOLOGY.is_file():
        return []
    text = SHARED_ONTOLOGY.read_text(encoding="utf-8")
    return re.findall(r"^edu:(\w+) rdf:type owl:NamedIndividual", text, re.MULTILINE)


def write_configs(dest: Path, shape: ModelShape, ids: dict[str, int], vocab_size: int) -> None:
    """Write config.json, generation_config.json and the image/video processor configs."""
    files = {
        "config.json": hf_config(shape, ids, vocab_size),
        "generation_config.json": generation_config(ids),
        "preprocessor_config.json": preprocessor_config(shape),
        "video_preprocessor_config.json": video_preprocessor_config(shape),
    }
    for name, content in files.items():
        (dest / name).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")


def hf_config(shape: ModelShape, ids: dict[str, int], vocab_size: int) -> dict:
    """config.json as Qwen3-VL publishes it, with the sizes of `shape` and our token ids.

    mlx-vlm needs `rope_theta` and `rope_scaling` in text_config and rejects the vision
    model_type "qwen3_vl_vision"; transformers maps "qwen3_vl" to it itself.
    """
    text_config = {
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": ids["bos_token_id"],
        "dtype": shape.dtype,
        "eos_token_id": ids["eos_token_id"],
        "head_dim": shape.head_dim,
        "hidden_act": "silu",
        "hidden_size": shape.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": shape.intermediate_size,
        "max_position_embeddings": shape.max_position_embeddings,
        "model_type": "qwen3_vl_text",
        "num_attention_heads": shape.num_attention_heads,
        "num_hidden_layers": shape.num_hidden_layers,
        "num_key_value_heads": shape.num_key_value_heads,
        "rms_norm_eps": 1e-6,
        "rope_scaling": {
            "mrope_interleaved": True,
            "mrope_section": list(shape.mrope_section),
            "rope_type": "default",
        },
        "rope_theta": shape.rope_theta,
        "tie_word_embeddings": shape.tie_word_embeddings,
        "use_cache": True,
        "vocab_size": vocab_size,
    }
    vision_config = {
        "deepstack_visual_indexes": list(shape.deepstack_visual_indexes),
        "depth": shape.vision_depth,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_size": shape.vision_hidden_size,
        "in_channels": 3,
        "initializer_range": 0.02,
        "intermediate_size": shape.vision_intermediate_size,
        "model_type": "qwen3_vl",
        "num_heads": shape.vision_num_heads,
        "num_position_embeddings": shape.num_position_embeddings,
        "out_hidden_size": shape.hidden_size,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    return {
        "architectures": ["Qwen3VLForConditionalGeneration"],
        "image_token_id": ids["image_token_id"],
        "model_type": "qwen3_vl",
        "text_config": text_config,
        "tie_word_embeddings": shape.tie_word_embeddings,
        "torch_dtype": shape.dtype,
        "transformers_version": "4.57.0",
        "video_token_id": ids["video_token_id"],
        "vision_config": vision_config,
        "vision_end_token_id": ids["vision_end_token_id"],
        "vision_start_token_id": ids["vision_start_token_id"],
    }


def generation_config(ids: dict[str, int]) -> dict:
    """generation_config.json with Qwen3-VL's own sampling defaults.

    Like the real checkpoint it samples by default (mlx-vlm applies these defaults when a
    caller gives no temperature), so callers must ask for greedy decoding explicitly.
    """
    return {
        "bos_token_id": ids["bos_token_id"],
        "do_sample": True,
        "eos_token_id": [ids["eos_token_id"], ids["bos_token_id"]],
        "pad_token_id": ids["pad_token_id"],
        "temperature": 0.7,
        "top_k": 20,
        "top_p": 0.8,
        "transformers_version": "4.57.0",
    }


def preprocessor_config(shape: ModelShape) -> dict:
    """preprocessor_config.json of Qwen3-VL's image processor, with `shape`'s pixel limits."""
    return {
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_processor_type": "Qwen2VLImageProcessorFast",
        "image_std": [0.5, 0.5, 0.5],
        "merge_size": 2,
        "patch_size": 16,
        "processor_class": "Qwen3VLProcessor",
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"longest_edge": shape.max_pixels, "shortest_edge": shape.min_pixels},
        "temporal_patch_size": 2,
    }


def video_preprocessor_config(shape: ModelShape) -> dict:
    """video_preprocessor_config.json; present so that no loader looks for it online."""
    return {
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "do_sample_frames": True,
        "fps": 2,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "max_frames": 768,
        "merge_size": 2,
        "min_frames": 4,
        "patch_size": 16,
        "processor_class": "Qwen3VLProcessor",
        "rescale_factor": 1 / 255,
        "size": {"longest_edge": shape.max_pixels * 3 // 2, "shortest_edge": 4096},
        "temporal_patch_size": 2,
        "video_processor_type": "Qwen3VLVideoProcessor",
    }
