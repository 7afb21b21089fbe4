"""The tiny-model factory: real checkpoints that load everywhere, and a taught model that holds."""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

import pytest

from mlx_edugraph.model.prompt import EDUGRAPH_SYSTEM_PROMPT
from mlx_edugraph.pages.samples import ALL_KINDS
from mlx_edugraph.tinymodel import (
    QWEN3VL_4B,
    TAUGHT_ANSWERS,
    TEACH_SEEDS,
    TEACH_SIZE,
    TINY,
    build_checkpoint,
    demo_model,
    probe,
)
from mlx_edugraph.tinymodel.template import FALLBACK_TEMPLATE
from mlx_edugraph.tinymodel.weights import hf_from_mlx, hf_tensor_shapes, write_shards
from tests.conftest import ONTOLOGY_V04_TTL
from tests.models import CHAT_TEMPLATE_TEXT, REAL_TEMPLATE
from tests.ontology_files import needs_shared


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def test_random_checkpoint_loads_in_mlx_vlm(tiny_checkpoint: Path) -> None:
    from mlx.utils import tree_flatten
    from mlx_vlm import load

    model, processor = load(str(tiny_checkpoint))
    config = _config(tiny_checkpoint)
    tokenizer = processor.tokenizer
    for key, token in [
        ("image_token_id", "<|image_pad|>"),
        ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"),
        ("vision_end_token_id", "<|vision_end|>"),
    ]:
        assert config[key] == tokenizer.convert_tokens_to_ids(token) == getattr(model.config, key)
    assert config["text_config"]["eos_token_id"] == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert processor.image_processor.max_pixels == TINY.max_pixels
    names = {name for name, _ in tree_flatten(model.parameters())}
    assert len(names) == len(hf_tensor_shapes(TINY, config["text_config"]["vocab_size"]))


def test_random_checkpoint_loads_in_transformers(tiny_checkpoint: Path) -> None:
    pytest.importorskip("torch")
    from transformers import AutoTokenizer, Qwen3VLForConditionalGeneration

    model, info = Qwen3VLForConditionalGeneration.from_pretrained(
        tiny_checkpoint, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert not info["mismatched_keys"]
    assert (
        model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()
    )
    assert model.config.text_config.rope_parameters["mrope_section"] == list(TINY.mrope_section)
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    assert tokenizer.chat_template == CHAT_TEMPLATE_TEXT
    assert tokenizer.convert_tokens_to_ids("<|image_pad|>") == model.config.image_token_id


def test_tokenizer_keeps_answers_short_and_exact(tiny_checkpoint: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    assert len(tokenizer) < 1100
    for answer in TAUGHT_ANSWERS.values():
        ids = tokenizer.encode(answer, add_special_tokens=False)
        assert tokenizer.decode(ids) == answer
        assert len(ids) <= 30
    # Every taught term is one token.
    assert len(tokenizer.encode("IntegerMultiplication", add_special_tokens=False)) == 1


def test_prompt_carries_the_system_prompt_once(tiny_mlx_model: Path) -> None:
    from mlx_vlm import load
    from mlx_vlm.prompt_utils import apply_chat_template
    from mlx_vlm.utils import prepare_inputs

    from mlx_edugraph.pages.samples import make_worksheet

    model, processor = load(str(tiny_mlx_model))
    prompt = apply_chat_template(processor, model.config, "", num_images=1)
    assert prompt.count(EDUGRAPH_SYSTEM_PROMPT) == 1
    assert prompt.startswith("<|im_start|>system\n" + EDUGRAPH_SYSTEM_PROMPT + "<|im_end|>\n")
    assert prompt.endswith(
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    inputs = prepare_inputs(
        processor,
        images=[make_worksheet("addition", size=TEACH_SIZE)],
        prompts=[prompt],
        image_token_index=model.config.image_token_index,
    )
    ids = inputs["input_ids"][0].tolist()
    assert ids.count(model.config.image_token_index) == 80  # 256x320 / (32 x 32)


@needs_shared("model/chat_template.jinja")
def test_fallback_template_renders_like_the_real_one() -> None:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment()
    real = env.from_string(REAL_TEMPLATE.read_text())
    fallback = env.from_string(FALLBACK_TEMPLATE)
    image = {"type": "image"}
    conversations = [
        [{"role": "user", "content": [image]}],
        [{"role": "user", "content": [image, {"type": "text", "text": ""}]}],
        [{"role": "user", "content": [image]}, {"role": "assistant", "content": "{}"}],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [image]}],
    ]
    for messages in conversations:
        for generation_prompt in (True, False):
            kwargs = {"messages": messages, "add_generation_prompt": generation_prompt}
            assert fallback.render(**kwargs) == real.render(**kwargs)


@needs_shared("ontology/edugraph-v0.4.0.ttl")
def test_taught_terms_are_ontology_terms_of_their_dimension() -> None:
    import re

    declared = dict(
        re.findall(
            r"^edu:(\w+) rdf:type owl:NamedIndividual\s*,\s*edu:(\w+)",
            ONTOLOGY_V04_TTL.read_text(),
            re.MULTILINE,
        )
    )
    assert set(TAUGHT_ANSWERS) == set(ALL_KINDS)
    for answer in TAUGHT_ANSWERS.values():
        labels = json.loads(answer)
        if "Error" in labels:
            assert labels == {"Error": "UnsupportedMaterial"}
            continue
        assert list(labels) == ["Area", "Scope", "Ability"]
        for dimension, terms in labels.items():
            assert all(declared.get(term) == dimension for term in terms), terms
        assert ", ".join(f'"{k}": {json.dumps(v)}' for k, v in labels.items()) in answer


def test_mlx_weights_map_back_to_the_checkpoint(tiny_checkpoint: Path) -> None:
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_vlm import load

    model, _ = load(str(tiny_checkpoint))
    back = hf_from_mlx(dict(tree_flatten(model.parameters())))
    stored = mx.load(str(tiny_checkpoint / "model.safetensors"))
    assert set(back) == set(stored)
    for name, value in stored.items():
        assert back[name].shape == value.shape, name
        assert mx.array_equal(back[name], value), name


def test_4b_preset_has_the_real_parameter_count() -> None:
    shapes = hf_tensor_shapes(QWEN3VL_4B, QWEN3VL_4B.vocab_size or 0)
    total = 0
    for dims in shapes.values():
        count = 1
        for d in dims:
            count *= d
        total += count
    assert total == 4_437_815_808


def test_weights_are_written_shard_by_shard(tmp_path: Path) -> None:
    import mlx.core as mx

    made: list[str] = []

    def produce(name: str) -> mx.array:
        made.append(name)
        return mx.zeros((256,), dtype=mx.float32)

    files = write_shards(
        tmp_path, [(f"t{i}", 1024) for i in range(5)], produce, max_shard_bytes=2048
    )
    assert [f.name for f in files] == [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert index["weight_map"]["t4"] == "model-00003-of-00003.safetensors"
    assert index["metadata"]["total_size"] == 5 * 1024
    assert made == [f"t{i}" for i in range(5)]


def test_refuses_to_overwrite(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from mlx_edugraph.tinymodel.mlx_conversion import quantize

    with pytest.raises(FileExistsError):
        build_checkpoint(tiny_checkpoint)
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError):
        quantize(tiny_checkpoint, tmp_path / "out")


def test_teaching_forward_is_mlx_vlm_forward(taught_checkpoint: Path) -> None:
    """The shared-prefix batch forward used for teaching computes mlx-vlm's own logits."""
    import mlx.core as mx
    import numpy as np
    from mlx_vlm import load
    from mlx_vlm.prompt_utils import apply_chat_template
    from mlx_vlm.utils import prepare_inputs

    from mlx_edugraph.pages.samples import make_worksheet
    from mlx_edugraph.tinymodel.forward import answer_logits, positions_for
    from mlx_edugraph.tinymodel.teaching_pages import prepare_pages

    model, processor = load(str(taught_checkpoint))
    prompt = apply_chat_template(processor, model.config, "", num_images=1)
    answers = {k: TAUGHT_ANSWERS[k] for k in ("multiplication", "picture")}
    pages, prefix = prepare_pages(model, processor, answers, size=TEACH_SIZE, seeds=[3])
    positions = positions_for(model, pages[0], max(len(p.ids) for p in pages))
    logits, targets, mask = answer_logits(model, pages, prefix, positions)
    for row, page in enumerate(pages):
        start, span = page.answer_start, len(page.ids) - page.answer_start
        inputs = prepare_inputs(
            processor,
            images=[make_worksheet(page.kind, size=TEACH_SIZE, seed=3)],
            prompts=[prompt],
            image_token_index=model.config.image_token_index,
        )
        full = model(
            mx.array([page.ids]),
            pixel_values=inputs["pixel_values"],
            image_grid_thw=inputs["image_grid_thw"],
        ).logits[0, start - 1 : start - 1 + span]
        np.testing.assert_allclose(np.array(logits[row, :span]), np.array(full), atol=1e-4)
        assert targets[row, :span].tolist() == page.ids[start:]
        assert mask[row].sum().item() == span
        # Taught: the answer is the greedy continuation.
        assert full.argmax(axis=-1).tolist() == page.ids[start:]


@pytest.mark.parametrize("size", [TEACH_SIZE, (850, 1100)])
def test_taught_4bit_model_answers_unseen_worksheets(
    taught_mlx_model: Path, size: tuple[int, int]
) -> None:
    config = _config(taught_mlx_model)
    assert config["quantization"] == {"group_size": 64, "bits": 4, "mode": "affine"}
    seeds = range(2)
    assert not set(seeds) & set(TEACH_SEEDS)
    for result in probe(taught_mlx_model, ALL_KINDS, seeds, size=size):
        assert result.text == TAUGHT_ANSWERS[result.kind], (result.kind, result.seed)


def test_taught_checkpoint_goes_through_the_converter(
    taught_checkpoint: Path, tmp_path: Path
) -> None:
    from mlx_edugraph.tinymodel.mlx_conversion import quantize

    with contextlib.redirect_stdout(io.StringIO()):
        out = quantize(taught_checkpoint, tmp_path / "bf16", bits=None, dtype="bfloat16")
    assert "quantization" not in _config(out)
    (result,) = probe(out, ["counting"], [7])
    assert result.text == TAUGHT_ANSWERS["counting"]


def test_demo_model_is_built_once(demo_entry: Path, taught_mlx_model: Path) -> None:
    cache = demo_entry.parent
    started = time.perf_counter()
    assert demo_model(cache) == taught_mlx_model
    assert time.perf_counter() - started < 1.0
    assert taught_mlx_model.parent.name in [p.name for p in cache.iterdir()]
    assert not [p for p in cache.iterdir() if p.name.startswith(".building-")]
    assert (taught_mlx_model / "chat_template.jinja").read_text() == CHAT_TEMPLATE_TEXT


def test_teaching_stops_within_a_step_and_writes_nothing(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from mlx_edugraph.stopping import Stopped
    from mlx_edugraph.tinymodel.teach import teach

    asked = 0

    def stop() -> bool:
        nonlocal asked
        asked += 1
        return asked > len(TAUGHT_ANSWERS) + 2  # every page prepared, then two steps

    with pytest.raises(Stopped):
        teach(tiny_checkpoint, tmp_path / "hf", steps=240, seeds=range(1), stop=stop)
    assert asked == len(TAUGHT_ANSWERS) + 3
    assert not (tmp_path / "hf").exists()


def test_a_stopped_demo_build_leaves_no_half_built_entry(tmp_path: Path) -> None:
    """Stopped while it prepares the teaching pages: no `.building-*` folder and no entry are
    left, so the next run builds again."""
    from mlx_edugraph.stopping import Stopped

    asked = 0

    def stop() -> bool:
        nonlocal asked
        asked += 1
        return asked > 2

    started = time.perf_counter()
    with pytest.raises(Stopped):
        demo_model(tmp_path, stop=stop)
    assert time.perf_counter() - started < 15.0
    assert list(tmp_path.iterdir()) == []
