"""Outputs that fail loudly: a missing folder, an unknown suffix, a store that is not there or
empty, pages outside the image root, pages out of range. Each is refused with exit 2 and one
`error:` line, before any work, and nothing is created or lost.

The commands run in this process (`cli.main`): these are about exit codes and outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlx_edugraph.cli import main
from mlx_edugraph.errors import ExitCode
from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.prediction import Label, Prediction, Provenance
from mlx_edugraph.store.sqlite_store import Store
from tests.conftest import ONTOLOGY_V04_TTL

ADD = {"Area": ["IntegerAddition"], "Scope": ["NumbersSmaller20"], "Ability": []}


def run(capsys: pytest.CaptureFixture, *argv: str | Path) -> tuple[int, str]:
    """Exit code and stderr of one command (argparse's own refusals included)."""
    try:
        code = main([str(arg) for arg in argv])
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Two labeled pages under `root/ws` and a file that could not be read (an error record)
    outside it, in `/elsewhere`."""
    folder = tmp_path / "root" / "ws"
    write_samples(folder, 2, size=(200, 260), seed=3)
    provenance = Provenance("m", "fp1", "v0.4.0", "t", "", "base")
    db = tmp_path / "labels.sqlite"
    with Store(db) as store:
        for number, path in enumerate(sorted(folder.iterdir())):
            labels = [Label(t, d, "known", False, 0.9) for d, ts in ADD.items() for t in ts]
            store.put(
                Prediction(str(path), 0, f"{number}" * 64, "labeled", labels, provenance=provenance)
            )
        torn = str(tmp_path / "elsewhere" / "torn.png")
        store.put(Prediction(torn, 0, "", "error", error="cannot read", provenance=provenance))
    return db


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (("label", "pages", "--demo", "--out"), "no folder"),
        (("export", "--db", "DB"), "no folder"),
        (("report", "--db", "DB", "--out"), "no folder"),
    ],
)
def test_a_missing_output_folder_is_refused_and_nothing_is_made(
    store: Path, tmp_path: Path, capsys, command: tuple, words: str
) -> None:
    out = tmp_path / "missing" / "deeper" / "out.jsonl"
    if command[0] == "report":
        out = out.with_suffix(".html")
    argv = [store if arg == "DB" else tmp_path if arg == "pages" else arg for arg in command]
    code, err = run(capsys, *argv[:1], *([out] if command[0] == "export" else []), *argv[1:],
                    *([out] if command[0] != "export" else []))  # fmt: skip
    assert code == ExitCode.REFUSED, err
    assert f"error: cannot write {out}: {words} {tmp_path / 'missing' / 'deeper'}" in err
    assert not (tmp_path / "missing").exists()


def test_a_file_where_the_output_folder_goes_is_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    code, err = run(capsys, "label", tmp_path, "--demo", "--out", tmp_path / "a-file" / "x.csv")
    assert code == ExitCode.REFUSED and "no folder" in err
    assert list(tmp_path.iterdir()) == [tmp_path / "a-file"]  # refused before a store


@pytest.mark.parametrize(
    ("argv", "formats"),
    [
        (("label", "--demo", "--out", "labels.xlsx"), ".jsonl (jsonl), .csv (csv), or give"),
        (("export", "out.xlsx", "--db", "DB"), ".json (labelstudio), or give --format"),
        (("report", "--db", "DB", "--out", "coverage.pdf"), ".md (md), or give --format"),
    ],
)
def test_an_unknown_suffix_names_the_formats(
    store: Path, tmp_path: Path, capsys, monkeypatch, argv: tuple, formats: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, err = run(capsys, *[store if arg == "DB" else arg for arg in argv])
    assert code == ExitCode.REFUSED, err
    suffix = Path([arg for arg in argv if "." in arg][0]).suffix
    assert f"no format writes {suffix} files" in err and formats in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.sqlite", "root"]


def test_commands_that_only_read_create_no_store(tmp_path: Path, capsys) -> None:
    db = tmp_path / "labels.sqlite"
    reading = [
        ("eval",), ("eval", "--latest"), ("export", tmp_path / "x.jsonl"),
        ("find", "--area", "Arithmetic"), ("report",), ("similar", tmp_path / "x.png"),
        ("related", "--area", "Arithmetic"), ("next", tmp_path / "x.png"),
        ("export", "--vectors", tmp_path / "x.npy"),
    ]  # fmt: skip
    for argv in reading:
        code, err = run(capsys, *argv, "--db", db)
        assert code == ExitCode.REFUSED, (argv, err)
        assert err.startswith("error: "), err
        assert not db.exists(), argv
    assert list(tmp_path.iterdir()) == []


def test_an_empty_store_exports_nothing_and_says_so(tmp_path: Path, capsys) -> None:
    db = tmp_path / "labels.sqlite"
    Store(db).close()
    code, err = run(capsys, "export", tmp_path / "out.jsonl", "--db", db)
    assert code == ExitCode.REFUSED and "has no labeled pages yet" in err
    assert not (tmp_path / "out.jsonl").exists()


def test_label_studio_leaves_out_error_records(store: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "tasks.json"
    code, err = run(capsys, "export", out, "--db", store, "--ontology", ONTOLOGY_V04_TTL,
                    "--image-root", tmp_path / "root")  # fmt: skip
    assert code == ExitCode.OK, err
    assert "left out 1 page(s) whose file could not be read" in err
    assert "wrote 2 task(s)" in err and "torn.png" not in out.read_text()


def test_image_root_lists_the_pages_outside_it_and_leaves_nothing(
    store: Path, tmp_path: Path, capsys
) -> None:
    root = tmp_path / "root" / "ws" / "001-addition.png"  # a root below the other page
    write_samples(tmp_path / "scans", 0, size=(200, 260), pdf_pages=1)
    pdf = tmp_path / "scans" / "worksheets.pdf"
    with Store(store) as opened:
        labels = [Label("IntegerAddition", "Area", "known", False, 0.9)]
        opened.put(Prediction(str(pdf), 1, "f" * 64, "labeled", labels))
    out = tmp_path / "exports" / "tasks.json"
    out.parent.mkdir()
    code, err = run(capsys, "export", out, "--db", store, "--ontology", ONTOLOGY_V04_TTL,
                    "--image-root", root.parent / "sub")  # fmt: skip
    assert code == ExitCode.REFUSED, err
    assert "3 page image(s) lie outside the image root" in err
    assert "002-multiplication.png" in err and "tasks-pages" in err  # the PDF's page too
    assert list(out.parent.iterdir()) == []  # no tasks, no config, no rendered pages


def test_pages_out_of_range_give_the_page_count(
    demo_entry: Path, user_home: Path, tmp_path: Path, capsys
) -> None:
    (user_home / "cache" / "models").mkdir(parents=True)
    (user_home / "cache" / "models" / demo_entry.name).symlink_to(demo_entry)  # no second build
    write_samples(tmp_path / "scans", 0, size=(200, 260), pdf_pages=2)
    code, err = run(capsys, "label", tmp_path / "scans", "--demo", "--pages", "5-7")
    assert code == ExitCode.REFUSED, err
    assert (
        f"error: --pages 5-7: no such page in {tmp_path / 'scans' / 'worksheets.pdf'} (2 pages)"
        in err
    )
    code, err = run(capsys, "label", tmp_path / "scans", "--demo", "--pages", "3-1")
    assert code == ExitCode.REFUSED and "first <= last" in err


def test_find_says_a_or_an_before_the_dimension(store: Path, capsys) -> None:
    code, err = run(capsys, "find", "--scope", "IntegerAddition", "--db", store,
                    "--ontology", ONTOLOGY_V04_TTL)  # fmt: skip
    assert code == ExitCode.REFUSED and "IntegerAddition is an Area term" in err
    code, err = run(capsys, "find", "--area", "NumbersSmaller20", "--db", store,
                    "--ontology", ONTOLOGY_V04_TTL)  # fmt: skip
    assert code == ExitCode.REFUSED and "NumbersSmaller20 is a Scope term" in err
