"""`mlx-edugraph convert` end to end on the tiny checkpoint: the real mlx-vlm conversion, the
real engine, files on disk."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlx_edugraph.cli import main as cli_main
from mlx_edugraph.convert.converter import ConversionResult, convert
from mlx_edugraph.convert.errors import ConvertError
from mlx_edugraph.convert.provenance import FILE_NAME, describe, read_provenance

CARRIED = (
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
    "generation_config.json",
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tensor_names(folder: Path) -> set[str]:
    return set(json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"])


@pytest.fixture(scope="module")
def q4(taught_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> ConversionResult:
    """The taught tiny checkpoint converted with the defaults (4-bit, group 64, verified)."""
    return convert(str(taught_checkpoint), tmp_path_factory.mktemp("q4") / "model")


def test_default_conversion_is_4bit_language_model_verified(
    q4: ConversionResult, taught_checkpoint: Path
) -> None:
    config = json.loads((q4.out / "config.json").read_text())
    assert config["quantization"] == {"group_size": 64, "bits": 4, "mode": "affine"}
    names = tensor_names(q4.out)
    assert "language_model.model.layers.0.mlp.down_proj.scales" in names
    assert not [n for n in names if n.startswith("vision_tower") and n.endswith(".scales")]
    language, vision = q4.parts
    assert (language.name, language.bits, language.group_sizes) == ("language model", (4,), (64,))
    assert (vision.name, vision.quantized_layers) == ("vision tower", 0)
    check = q4.verification
    # The taught answers are 7-30 tokens; 4-bit keeps every one (measured: KL ~6e-4 nats).
    assert check is not None and check.pages == 3 and check.tokens > 30
    assert check.top1_agreement == 1.0 and 0 <= check.mean_kl < 0.01
    for name in CARRIED:
        assert sha256(q4.out / name) == sha256(taught_checkpoint / name), name
    report = "\n".join(q4.lines())
    assert "vision tower is kept unquantized" in report
    assert "top-1 agreement 100.0%" in report


def test_provenance_names_the_source_and_the_conversion(
    q4: ConversionResult, taught_checkpoint: Path
) -> None:
    record = read_provenance(q4.out)
    assert record is not None
    assert record["source"] == str(taught_checkpoint.resolve())
    assert record["revision"] is None
    weights = "model.safetensors"
    assert record["weights_sha256"] == {weights: sha256(taught_checkpoint / weights)}
    assert record["quantization"] == {
        "bits": 4,
        "group_size": 64,
        "mode": "affine",
        "recipe": None,
        "vision_quantized": False,
        "awq": False,
        "calibration": None,
    }
    assert set(record["versions"]) == {"mlx", "mlx-vlm", "mlx-edugraph"}
    assert record["verification"]["top1_agreement"] == 1.0
    assert record["created"].startswith("20")
    assert "4-bit (group size 64)" in describe(record)


@pytest.mark.parametrize("kind", ["addition", "clock", "picture"])
def test_converted_model_labels_end_to_end(q4: ConversionResult, kind: str) -> None:
    from mlx_edugraph.model.choice import ModelChoice
    from mlx_edugraph.model.mlx_engine import MlxEngine
    from mlx_edugraph.pages.samples import make_worksheet
    from mlx_edugraph.pages.worksheets import LoadedWorksheet, WorksheetRef
    from mlx_edugraph.tinymodel import TAUGHT_ANSWERS, TEACH_SIZE

    engine = MlxEngine(ModelChoice(str(q4.out)), ontology=None)
    page = make_worksheet(kind, size=TEACH_SIZE, seed=5)
    prediction = engine.label(LoadedWorksheet(WorksheetRef(Path(f"{kind}.png")), "0" * 64, page))
    assert prediction.raw_text == TAUGHT_ANSWERS[kind]
    assert prediction.outcome == ("unsupported" if kind == "picture" else "labeled")
    assert prediction.provenance.model == str(q4.out)


def test_a_converted_model_that_does_not_run_fails_loudly(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlx_edugraph.convert import converter

    def broken_config(config: dict, folder: Path) -> None:
        text = {**config["text_config"], "hidden_size": 96}
        real_write_config({**config, "text_config": text}, folder)

    real_write_config = converter.write_config
    monkeypatch.setattr(converter, "write_config", broken_config)
    with pytest.raises(ConvertError, match="the converted model does not load or run"):
        convert(str(tiny_checkpoint), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_vision_tower_quantized_on_request(
    tiny_checkpoint: Path,
    tmp_path: Path,
) -> None:
    result = convert(str(tiny_checkpoint), tmp_path / "out", quantize_vision=True, group_size=32)
    assert "vision_tower.blocks.0.mlp.linear_fc1.scales" in tensor_names(result.out)
    assert result.parts[1].quantized_layers > 0
    assert result.verification is not None and result.verification.tokens > 0


def test_mixed_recipe(tiny_checkpoint: Path, tmp_path: Path) -> None:
    result = convert(str(tiny_checkpoint), tmp_path / "out", recipe="mixed_3_6", verify=False)
    assert result.parts[0].bits == (3, 6)
    config = json.loads((result.out / "config.json").read_text())
    quantization = config["quantization"]
    # mlx-vlm gives the last layer's v_proj and the embeddings more bits.
    assert quantization["language_model.model.layers.1.self_attn.v_proj"]["bits"] == 6
    assert quantization["language_model.model.layers.0.self_attn.v_proj"]["bits"] == 3
    assert read_provenance(result.out)["quantization"]["recipe"] == "mixed_3_6"


def test_awq_calibrates_on_worksheets(
    taught_checkpoint: Path,
    q4: ConversionResult,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    import mlx.core as mx

    from mlx_edugraph.pages.samples import write_samples

    pages = tmp_path / "pages"
    write_samples(pages, 2, size=(256, 320))
    result = convert(str(taught_checkpoint), tmp_path / "out", awq=True, calibration=pages)
    assert "calibrating AWQ on 2 worksheet pages from" in capsys.readouterr().err
    record = read_provenance(result.out)
    assert record["quantization"]["awq"] is True
    assert record["quantization"]["calibration"].startswith("2 worksheet pages from")
    # AWQ did something: scales went into layers, and the weights are not plain rounding's.
    assert record["quantization"]["awq_layers"] > 0
    awq_weights = mx.load(str(result.out / "model.safetensors"))
    plain_weights = mx.load(str(q4.out / "model.safetensors"))
    assert awq_weights.keys() == plain_weights.keys()
    changed = [k for k in awq_weights if not mx.array_equal(awq_weights[k], plain_weights[k])]
    assert any(k.startswith("language_model.") and k.endswith(".weight") for k in changed)
    assert result.verification is not None and result.verification.top1_agreement >= 0.9
    for name, check in (("AWQ", result.verification), ("plain 4-bit", q4.verification)):
        print(
            f"{name}: KL mean {check.mean_kl:.4f} max {check.max_kl:.4f}, "
            f"top-1 {check.top1_agreement:.1%}"
        )


def test_default_output_is_where_label_looks(
    tiny_checkpoint: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    from mlx_edugraph.model.location import default_model_dir, resolve_model

    assert cli_main(["convert", str(tiny_checkpoint), "--no-verify"]) == 0
    assert f"model:          {default_model_dir()}" in capsys.readouterr().out
    assert resolve_model(None) == str(default_model_dir())
    assert cli_main(["convert", str(tiny_checkpoint), "--no-verify"]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert cli_main(["convert", str(tiny_checkpoint), "--no-verify", "--force"]) == 0


def test_transformers5_config_converts_to_the_same_model(
    tiny_checkpoint: Path,
    tmp_path: Path,
) -> None:
    import mlx.core as mx

    from tests.test_convert_checks import transformers5_config

    saved = tmp_path / "saved-by-transformers5"
    shutil.copytree(tiny_checkpoint, saved)
    config = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps(transformers5_config(config)))
    before = (saved / "config.json").read_bytes()
    plain = convert(str(tiny_checkpoint), tmp_path / "plain", quantize=False, verify=False)
    result = convert(str(saved), tmp_path / "normalized", quantize=False)
    assert (saved / "config.json").read_bytes() == before  # the source is never touched
    assert len(result.config_changes) == 2
    assert result.verification is not None and result.verification.top1_agreement == 1.0
    ours, theirs = (
        mx.load(str(plain.out / "model.safetensors")),
        mx.load(str(result.out / "model.safetensors")),
    )
    assert ours.keys() == theirs.keys()
    assert all(mx.array_equal(ours[k], theirs[k]) for k in ours)


def test_repo_id_resolves_through_the_hub_cache(
    tiny_checkpoint: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A repository id goes through huggingface-hub; here its cache is a local folder, offline."""
    from huggingface_hub import constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--edugraph-test--tiny"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for path in tiny_checkpoint.iterdir():
        blob = repo / "blobs" / sha256(path)
        shutil.copyfile(path, blob)
        (snapshot / path.name).symlink_to(os.path.relpath(blob, snapshot))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    result = convert("edugraph-test/tiny", tmp_path / "out", verify=False)
    record = read_provenance(result.out)
    assert (record["source"], record["revision"]) == ("edugraph-test/tiny", commit)
    assert record["weights_sha256"] == {
        "model.safetensors": sha256(tiny_checkpoint / "model.safetensors")
    }
    assert f"edugraph-test/tiny@{commit[:10]}" in describe(record)


def test_killed_conversion_leaves_no_destination(
    tiny_checkpoint: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "model"
    child = subprocess.Popen(
        [sys.executable, "-m", "mlx_edugraph", "convert", str(tiny_checkpoint), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    try:
        # Kill as soon as weights appear in the work folder: the model is half written.
        while not list(tmp_path.glob(".model.partial-*/model/model.safetensors")):
            assert child.poll() is None, "the conversion ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.002)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not out.exists()
    # The next run to the same destination clears the dead run's work folder.
    convert(str(tiny_checkpoint), out, verify=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert (out / FILE_NAME).is_file()


def test_convert_caches_the_ontology_so_label_needs_no_network(
    taught_checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlx_edugraph.labels.ontology_source import URL_ENV_VAR
    from mlx_edugraph.pages.samples import write_samples
    from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
    from tests.release_server import ReleaseServer

    server = ReleaseServer()
    monkeypatch.setenv(URL_ENV_VAR, f"{server.base}/good")
    try:
        assert cli_main(["convert", str(taught_checkpoint), "--no-verify"]) == 0
    finally:
        server.stop()  # from here on, every download is refused
    assert f"ontology:       v0.4.0 (downloaded from {server.base}/good/" in capsys.readouterr().out

    pages = tmp_path / "pages"
    write_samples(pages, 1, size=DEMO_PAGE_SIZE, kinds=("addition",))
    out = tmp_path / "labels.jsonl"
    assert cli_main(["label", str(pages), "--out", str(out)]) == 0
    assert "unverified" not in capsys.readouterr().err
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["provenance"]["ontology_version"] == "v0.4.0"
    assert {label["status"] for label in record["labels"]} == {"known"}
