"""Trust and safety: no remote code, no token leaks, pinned downloads, exports that write only
where they are told and cannot run in a spreadsheet, and the research-use notice."""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import pytest

from mlx_edugraph.cli import main as cli_main
from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.prediction import Label, Prediction, Provenance
from mlx_edugraph.store.export_predictions import export
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE
from tests.conftest import ONTOLOGY_V04_RDF

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mlx_edugraph", "convert", "tui")
LOADERS = {
    "load",
    "load_model",
    "load_processor",
    "load_config",
    "load_image_processor",
    "from_pretrained",
}
"""mlx-vlm and transformers functions that may run a model's own code unless told not to."""
AUTO_MAP = {"AutoConfig": "modeling_evil.EvilConfig", "AutoModel": "modeling_evil.EvilModel"}
FAKE_TOKEN = "hf_reliabilityCheckToken0123456789abcdef"


def _sources() -> list[tuple[Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text(encoding="utf-8")))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


def _model_loads(tree: ast.Module) -> list[ast.Call]:
    """Calls of mlx-vlm's or transformers' loaders (by imported name, or `.from_pretrained`)."""
    names = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").split(".")[0] in ("mlx_vlm", "transformers")
        for alias in node.names
        if alias.name in LOADERS
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id in names)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "from_pretrained")
        )
    ]


@pytest.mark.reliability("Trust and safety", "trust_remote_code stays off for every load")
def test_every_model_load_passes_trust_remote_code_false(outcome) -> None:
    loads, wrong = 0, []
    for path, tree in _sources():
        for call in _model_loads(tree):
            loads += 1
            flag = {k.arg: k.value for k in call.keywords}.get("trust_remote_code")
            if not (isinstance(flag, ast.Constant) and flag.value is False):
                wrong.append(f"{path.relative_to(ROOT)}:{call.lineno}")
        for node in ast.walk(tree):
            for keyword in getattr(node, "keywords", []):
                if keyword.arg == "trust_remote_code" and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                ):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert loads >= 2 and wrong == []  # at least the inference seam and the converter
    outcome(
        "every call of an mlx-vlm or transformers loader in mlx_edugraph/, convert/ and tui/ "
        "passes trust_remote_code=False (checked on the source)"
    )


def _with_auto_map(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    config = json.loads((dest / "config.json").read_text())
    (dest / "config.json").write_text(json.dumps({**config, "auto_map": AUTO_MAP}))
    (dest / "modeling_evil.py").write_text("raise SystemExit('remote code ran')\n")
    return dest


@pytest.mark.reliability("Trust and safety", "a checkpoint that needs remote code: convert")
def test_convert_refuses_a_checkpoint_with_custom_code(
    tiny_checkpoint: Path, tmp_path: Path, capsys, outcome
) -> None:
    checkpoint = _with_auto_map(tiny_checkpoint, tmp_path / "checkpoint")
    assert cli_main(["convert", str(checkpoint), "--out", str(tmp_path / "out")]) == 2
    (message,) = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert "needs custom code" in message and "trust_remote_code is always off" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]
    outcome(f"exit 2, nothing written; {message}")


@pytest.mark.reliability("Trust and safety", "a model that needs remote code: label")
def test_label_refuses_a_model_with_custom_code(
    taught_mlx_model: Path, tmp_path: Path, capsys, outcome
) -> None:
    model = _with_auto_map(taught_mlx_model, tmp_path / "model")
    write_samples(tmp_path / "pages", 1, size=DEMO_PAGE_SIZE)
    code = cli_main(
        ["label", str(tmp_path / "pages"), "--model", str(model)]
        + ["--ontology", str(ONTOLOGY_V04_RDF), "--db", str(tmp_path / "s.sqlite")]
    )
    assert code == 2
    (message,) = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert "RemoteCodeRefused" in message and "needs custom code" in message
    outcome(f"exit 2 before loading; {message}")


@pytest.mark.reliability("Trust and safety", "Hugging Face token never printed or stored")
def test_token_is_never_printed_or_stored(
    tiny_checkpoint: Path,
    taught_mlx_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd,
    outcome,
) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    model = tmp_path / "model"
    assert cli_main(["convert", str(tiny_checkpoint), "--out", str(model), "--no-verify"]) == 0
    write_samples(tmp_path / "pages", 2, size=DEMO_PAGE_SIZE)
    code = cli_main(
        ["label", str(tmp_path / "pages"), "--model", str(taught_mlx_model)]
        + ["--ontology", str(ONTOLOGY_V04_RDF), "--db", str(tmp_path / "s.sqlite")]
        + ["--out", str(tmp_path / "labels.jsonl")]
    )
    assert code == 0
    printed = "".join(capfd.readouterr())
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert printed and len(written) > 5
    assert FAKE_TOKEN not in printed
    assert [p for p in written if FAKE_TOKEN.encode() in p.read_bytes()] == []
    # Our code never handles a token: huggingface-hub reads it (HF_TOKEN, `hf auth login`).
    for path, tree in _sources():
        for node in ast.walk(tree):
            names = [k.arg for k in getattr(node, "keywords", [])]
            assert "token" not in names and "use_auth_token" not in names, path
            assert not (isinstance(node, ast.Constant) and node.value == "HF_TOKEN"), path
    outcome(
        "with HF_TOKEN set, convert and label print it nowhere and write it to no file "
        "(model folder, provenance, store, export); no code of ours passes a token"
    )


def _hub_cache(tiny_checkpoint: Path, root: Path, commits: dict[str, str]) -> None:
    """An offline hub cache of `edugraph-test/tiny` with one snapshot per commit; each
    snapshot's config names its commit, so a test can tell which one was read."""
    repo = root / "models--edugraph-test--tiny"
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    for ref, commit in commits.items():
        if ref != "-":
            (repo / "refs" / ref).write_text(commit)
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True)
        for path in tiny_checkpoint.iterdir():
            data = path.read_bytes()
            if path.name == "config.json":
                data = json.dumps({**json.loads(data), "_snapshot": commit}).encode()
            blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
            blob.write_bytes(data)
            (snapshot / path.name).symlink_to(os.path.relpath(blob, snapshot))


@pytest.mark.reliability("Trust and safety", "downloads pinned to --revision")
def test_downloads_are_pinned_to_the_given_revision(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outcome
) -> None:
    from huggingface_hub import constants

    from mlx_edugraph.convert.source import resolve_source

    main, pinned = "a" * 40, "b" * 40
    _hub_cache(tiny_checkpoint, tmp_path / "hub", {"main": main, "-": pinned})
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    latest = resolve_source("edugraph-test/tiny")
    chosen = resolve_source("edugraph-test/tiny", revision=pinned)
    assert latest.revision == main and chosen.revision == pinned
    config = json.loads((chosen.folder / "config.json").read_text())
    assert config["_snapshot"] == pinned
    outcome(
        "--revision <commit> reads that commit's files, not main's, and records the commit "
        "(main without --revision)"
    )


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


HOSTILE = Prediction(
    path="../../../etc/=cmd|' /C calc'!A0\n.png",
    page=0,
    sha256="d" * 64,
    outcome="labeled",
    labels=[Label("+SUM(A1:A9)", "Area", "unknown"), Label("@import", "Scope", "unknown")],
    raw_text='{"Area": ["+SUM(A1:A9)"]}',
    error="-1+1",
    provenance=Provenance('=HYPERLINK("http://x")', "f1", "v0.4.0", "p1"),
)


@pytest.mark.reliability("Trust and safety", "exports write only inside the chosen path")
def test_exports_write_only_the_chosen_file(tmp_path: Path, outcome) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not an export\n")
    before = _tree(tmp_path)
    export([HOSTILE], tmp_path / "out" / "labels.jsonl")
    export([HOSTILE], tmp_path / "out" / "labels.csv", "csv")
    # An --out that is a symbolic link is replaced; the file it pointed to is not written.
    (tmp_path / "out" / "link.jsonl").symlink_to(elsewhere)
    export([HOSTILE], tmp_path / "out" / "link.jsonl")
    after = _tree(tmp_path)
    created = sorted(set(after) - set(before))
    assert created == ["out/labels.csv", "out/labels.jsonl", "out/link.jsonl"]
    assert {name: after[name] for name in before} == before
    assert not (tmp_path / "out" / "link.jsonl").is_symlink()
    outcome(
        "only the chosen file appears (paths like ../../etc inside records are data, never "
        "used as output names); an --out symlink is replaced, its target untouched"
    )


@pytest.mark.reliability("Trust and safety", "CSV cells starting with =, +, - or @")
def test_csv_cells_cannot_run_in_a_spreadsheet(tmp_path: Path, outcome) -> None:
    export([HOSTILE], tmp_path / "labels.csv", "csv")
    rows = list(csv.reader(io.StringIO((tmp_path / "labels.csv").read_text(encoding="utf-8"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    escaped = sorted(cell for cell in cells if cell.startswith("'"))
    assert len(escaped) == 5  # Area, Scope, unknown terms, model, error
    outcome(f"escaped with a leading apostrophe: {', '.join(repr(c) for c in escaped)}")


@pytest.mark.reliability("Trust and safety", "paths from the store are never executed")
def test_no_shell_anywhere(outcome) -> None:
    for path, tree in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            shell = {k.arg: k.value for k in node.keywords}.get("shell")
            assert shell is None or (isinstance(shell, ast.Constant) and not shell.value), path
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                called = f"{func.value.id}.{func.attr}"
                assert called not in ("os.system", "os.popen", "os.startfile"), path
    outcome(
        "no shell=True, os.system, os.popen or os.startfile in mlx_edugraph/, convert/ or tui/ "
        "(checked on the source): a path is only ever an argument"
    )


@pytest.mark.reliability("Trust and safety", "research-use notice in the README")
def test_readme_carries_the_research_use_notice(outcome) -> None:
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "Research use only." in readme
    assert "not for classroom decisions about children" in readme
    outcome("present: research use only, not for classroom decisions about children")
