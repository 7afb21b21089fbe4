"""The converter's refusals and bookkeeping, checked without converting anything."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from mlx_edugraph.cli import main as cli_main
from mlx_edugraph.convert.checkpoint import inspect_checkpoint, missing_files
from mlx_edugraph.convert.converter import convert
from mlx_edugraph.convert.destination import Destination
from mlx_edugraph.convert.errors import ConvertError
from mlx_edugraph.convert.normalize import normalize_config
from mlx_edugraph.convert.quantization import RECIPES, QuantSpec


@pytest.fixture
def checkpoint(tiny_checkpoint: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny checkpoint, free to damage."""
    return Path(shutil.copytree(tiny_checkpoint, tmp_path / "checkpoint"))


def refusal(source: Path, out: Path, capsys: pytest.CaptureFixture) -> str:
    """Run `mlx-edugraph convert` and return its error message; nothing may be written."""
    assert cli_main(["convert", str(source), "--out", str(out)]) == 2
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.partial-*"))
    return capsys.readouterr().err


def edit_config(folder: Path, **changes: object) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def test_refuses_another_architecture_naming_it(checkpoint: Path, tmp_path: Path, capsys) -> None:
    edit_config(checkpoint, architectures=["LlavaForConditionalGeneration"], model_type="llava")
    message = refusal(checkpoint, tmp_path / "out", capsys)
    assert "not a Qwen3-VL checkpoint: found LlavaForConditionalGeneration" in message
    assert "model_type 'llava'" in message


def test_refuses_an_already_quantized_checkpoint(checkpoint: Path, tmp_path: Path, capsys) -> None:
    edit_config(checkpoint, quantization_config={"quant_method": "bitsandbytes"})
    assert "already quantized (bitsandbytes)" in refusal(checkpoint, tmp_path / "out", capsys)


@pytest.mark.parametrize(
    ("removed", "expected"),
    [
        (["tokenizer.json"], "the tokenizer (tokenizer.json, or vocab.json and merges.txt)"),
        (["chat_template.jinja"], "the chat template"),
        (["preprocessor_config.json"], "the image processor config (preprocessor_config.json)"),
        (["model.safetensors", "model.safetensors.index.json"], "weights (*.safetensors)"),
        (["config.json"], "has no config.json"),
    ],
)
def test_names_each_missing_file(
    checkpoint: Path, tmp_path: Path, capsys, removed: list[str], expected: str
) -> None:
    for name in removed:
        (checkpoint / name).unlink()
    assert expected in refusal(checkpoint, tmp_path / "out", capsys)


def test_names_a_shard_the_index_promises(checkpoint: Path, tmp_path: Path, capsys) -> None:
    index = json.loads((checkpoint / "model.safetensors.index.json").read_text())
    first = next(iter(index["weight_map"]))
    index["weight_map"][first] = "model-00002-of-00002.safetensors"
    (checkpoint / "model.safetensors.index.json").write_text(json.dumps(index))
    message = refusal(checkpoint, tmp_path / "out", capsys)
    assert (
        "missing weight shards named in model.safetensors.index.json: "
        "model-00002-of-00002.safetensors" in message
    )


def test_pytorch_bin_weights_get_their_own_message() -> None:
    names = {
        "config.json",
        "pytorch_model.bin",
        "tokenizer.json",
        "tokenizer_config.json",
        "preprocessor_config.json",
        "chat_template.jinja",
    }
    assert missing_files(names, {}) == [
        "safetensors weights (found only PyTorch .bin/.pt files; save the checkpoint with "
        "safe_serialization=True)"
    ]


def test_several_shards_need_their_index() -> None:
    names = {
        "a.safetensors",
        "b.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "preprocessor_config.json",
    }
    assert missing_files(names, {"chat_template": "{{ x }}"}) == [
        "the shard index model.safetensors.index.json"
    ]


def test_truncated_safetensors_is_corrupt(checkpoint: Path, tmp_path: Path, capsys) -> None:
    weights = checkpoint / "model.safetensors"
    size = weights.stat().st_size
    with open(weights, "r+b") as handle:
        handle.truncate(size - 1000)
    message = refusal(checkpoint, tmp_path / "out", capsys)
    assert f"corrupt safetensors file {weights}" in message
    assert "(truncated or damaged)" in message


def test_garbled_safetensors_header_is_corrupt(checkpoint: Path, tmp_path: Path, capsys) -> None:
    weights = checkpoint / "model.safetensors"
    with open(weights, "r+b") as handle:
        handle.seek(8)
        handle.write(b"\xff\xfe not json")
    message = refusal(checkpoint, tmp_path / "out", capsys)
    assert f"corrupt safetensors file {weights}: its header is not valid JSON" in message


def test_a_short_file_is_corrupt(checkpoint: Path, tmp_path: Path, capsys) -> None:
    (checkpoint / "model.safetensors").write_bytes(b"\x01\x02")
    assert "only 2 bytes, shorter than a safetensors header" in refusal(
        checkpoint, tmp_path / "out", capsys
    )


def test_inspection_reads_every_tensor_header(tiny_checkpoint: Path) -> None:
    found = inspect_checkpoint(tiny_checkpoint)
    index = json.loads((tiny_checkpoint / "model.safetensors.index.json").read_text())
    assert set(found.tensors) == set(index["weight_map"])
    embed = found.tensors["model.language_model.embed_tokens.weight"]
    assert embed.dtype == "F32" and embed.shape[1] == found.config["text_config"]["hidden_size"]


def transformers5_config(config: dict) -> dict:
    """The same model's config as transformers 5 saves it."""
    config = json.loads(json.dumps(config))
    text = config["text_config"]
    rope = text.pop("rope_scaling")
    text["rope_parameters"] = {"rope_theta": text.pop("rope_theta"), **rope}
    config["vision_config"]["model_type"] = "qwen3_vl_vision"
    config["tie_word_embeddings"] = False  # transformers 5's default at the top level
    return config


def test_normalizes_transformers5_configs(tiny_checkpoint: Path) -> None:
    found = inspect_checkpoint(tiny_checkpoint)
    normalized, notes = normalize_config(transformers5_config(found.config), found.tensors)
    text, original = normalized["text_config"], found.config["text_config"]
    assert text["rope_theta"] == original["rope_theta"]
    assert text["rope_scaling"]["mrope_section"] == original["rope_scaling"]["mrope_section"]
    assert normalized["vision_config"]["model_type"] == "qwen3_vl"
    assert text["tie_word_embeddings"] is True  # the checkpoint has no lm_head.weight
    assert len(notes) == 2
    assert normalize_config(found.config, found.tensors) == (found.config, [])


def test_the_weights_decide_tied_embeddings() -> None:
    config = {"text_config": {"tie_word_embeddings": True}, "vision_config": {}}
    normalized, notes = normalize_config(config, {"lm_head.weight"})
    assert normalized["text_config"]["tie_word_embeddings"] is False
    assert notes == [
        "text_config.tie_word_embeddings -> False (a separate lm_head.weight in the checkpoint)"
    ]
    assert config["text_config"]["tie_word_embeddings"] is True  # the input is not changed


def test_existing_destination_is_kept_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "config.json").write_text("{}")
    with pytest.raises(ConvertError, match="already exists; pass --force"):
        convert(str(tmp_path / "does-not-exist"), out)
    assert (out / "config.json").read_text() == "{}"


def test_forced_destination_is_replaced_only_on_commit(tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "config.json").write_text("old")
    with Destination(out, force=True) as dest:
        (dest.model / "new").write_text("new")
        assert (out / "config.json").exists()
        dest.commit()
    assert [p.name for p in out.iterdir()] == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_force_replaces_models_only(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(ConvertError, match="is not a model folder; not replacing it"):
        Destination(tmp_path / "notes", force=True)


def test_output_may_not_overlap_the_source(checkpoint: Path, tiny_checkpoint: Path) -> None:
    for out in (checkpoint, checkpoint / "mlx"):
        with pytest.raises(ConvertError, match="overlaps the source checkpoint"):
            convert(str(checkpoint), out, force=True)
    # Not even a work folder was made inside it.
    assert sorted(p.name for p in checkpoint.iterdir()) == sorted(
        p.name for p in tiny_checkpoint.iterdir()
    )


def test_failed_run_leaves_nothing_and_stale_work_is_cleared(tmp_path: Path) -> None:
    out = tmp_path / "model"
    stale = tmp_path / ".model.partial-999999999-deadbeef"
    (stale / "model").mkdir(parents=True)
    (tmp_path / f".model.partial-{os.getpid()}-alive").mkdir()  # a live run's folder stays
    with pytest.raises(RuntimeError), Destination(out) as dest:
        (dest.model / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".model.partial-{os.getpid()}-alive"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"recipe": "mixed_3_6", "bits": 4}, "--recipe sets bits and group size per layer"),
        ({"bits": 5}, "--bits must be one of 2, 3, 4, 6, 8"),
        ({"group_size": 16}, "--group-size must be one of 32, 64, 128"),
        ({"quantize": False, "bits": 4}, "--no-quantize cannot be combined"),
        ({"calibration": "pages"}, "add --awq"),
        ({"dtype": "int8"}, "--dtype must be one of"),
    ],
)
def test_contradicting_options_are_refused(
    tmp_path: Path,
    tiny_checkpoint: Path,
    options: dict,
    message: str,
) -> None:
    with pytest.raises(ConvertError, match=message):
        convert(str(tiny_checkpoint), tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_recipes_are_mlx_vlms() -> None:
    from mlx_vlm.convert import QUANT_RECIPES

    assert list(RECIPES) == QUANT_RECIPES
    assert QuantSpec.resolve(None, None, "mixed_3_6", False).bits == 3


def test_revision_is_for_repositories(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ConvertError, match="--revision applies to Hugging Face repositories"):
        convert(str(tiny_checkpoint), tmp_path / "out", revision="main")


def test_a_name_that_is_neither_folder_nor_repo(tmp_path: Path) -> None:
    with pytest.raises(ConvertError, match="no such folder"):
        convert(str(tmp_path / "a" / "b" / "c"), tmp_path / "out")
