"""A messy folder: every hostile input gets a specific per-file error or a correct label, and
the batch goes on. One real `mlx-edugraph label` run (a subprocess, the taught tiny model, a
real store) covers the whole folder; each case then reads its own records.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlx_edugraph.pages.samples import make_worksheet
from mlx_edugraph.pages.worksheets import WorksheetRef, discover, load
from mlx_edugraph.store.export_predictions import export
from mlx_edugraph.store.sqlite_store import Store
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE, TAUGHT_ANSWERS
from tests.conftest import ONTOLOGY_V04_RDF
from tests.hostile_files import bomb_png, pdf_bytes

NON_UTF8_NAME = os.fsdecode(b"caf\xe9-latin1.png")
pytestmark = pytest.mark.xdist_group("hostile-inputs")
"""One worker runs this module (`--dist loadgroup`): its batch run is made once."""

ODD_NAMES = ("with space.png", "ünïcødé ワークシート.png", "new\nline.png", NON_UTF8_NAME)
EXIF_STORED = {
    # How a camera stores the upright page for each EXIF orientation (EXIF 2.3, tag 0x0112):
    # the loader must undo it. Orientation 6 means "rotate 90 degrees clockwise to display".
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
PDF_PAGES = 300


def _worksheet(kind: str, seed: int) -> Image.Image:
    return make_worksheet(kind, size=DEMO_PAGE_SIZE, seed=seed)


def _half(image: Image.Image, fmt: str) -> bytes:
    data = _encoded(image, fmt)
    return data[: len(data) // 2]


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def write_messy_folder(folder: Path) -> None:
    """Every hostile input of the reliability issue, in one folder."""
    addition, clock = _worksheet("addition", 11), _worksheet("clock", 12)
    files = {
        "empty.png": b"",
        "truncated.png": _half(addition, "PNG"),
        "truncated.jpg": _half(addition, "JPEG"),
        "text.png": b"hello, I am a text file with a .png name\n",
        "bomb.png": bomb_png(),
        "photo.heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
        "broken.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage",
        "encrypted.pdf": pdf_bytes(["Secret worksheet"], password="secret"),
        f"scans-{PDF_PAGES}-pages.pdf": pdf_bytes([f"Page {i}" for i in range(1, PDF_PAGES + 1)]),
        "notes.txt": b"not a worksheet: ignored",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    Image.new("RGB", (1, 1), (255, 255, 255)).save(folder / "tiny-1x1.png")
    Image.new("RGB", (6000, 20), (255, 255, 255)).save(folder / "strip-300to1.png")
    gray = addition.convert("L")
    gray.save(folder / "gray-8bit.png")
    Image.fromarray(np.asarray(gray).astype(np.uint16) * 257).save(folder / "gray-16bit.png")
    addition.convert("LA").save(folder / "gray-alpha-LA.png")
    palette = addition.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.save(folder / "palette-transparent.png", transparency=0)
    addition.convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    for orientation, stored in EXIF_STORED.items():
        exif = Image.Exif()
        exif[0x0112] = orientation
        image = addition if stored is None else addition.transpose(stored)
        image.save(folder / f"exif-{orientation}.jpg", quality=95, exif=exif)
    addition.save(folder / "animated.gif", save_all=True, append_images=[clock])
    addition.save(folder / "animated.webp", save_all=True, append_images=[clock], lossless=True)
    for seed, name in enumerate(ODD_NAMES, start=20):
        _worksheet("multiplication", seed).save(folder / name)
    _worksheet("counting", 30).save(folder / "twin-a.png")
    shutil.copyfile(folder / "twin-a.png", folder / "twin-b.png")
    _worksheet("addition", 1).save(folder / "locked.png")
    (folder / "locked.png").chmod(0)
    (folder / "locked-folder").mkdir()
    _worksheet("addition", 2).save(folder / "locked-folder" / "inside.png")
    (folder / "locked-folder").chmod(0)
    os.mkfifo(folder / "fifo.png")
    os.symlink("loop-b.png", folder / "loop-a.png")
    os.symlink("loop-a.png", folder / "loop-b.png")
    os.symlink("missing.png", folder / "dangling.png")


@dataclass
class Run:
    """The label run over the messy folder: its exit, its stderr, its records by file name."""

    folder: Path
    returncode: int
    stderr: str
    records: dict[str, list[dict]]
    db: Path
    permissions_apply: bool

    def one(self, name: str) -> dict:
        (record,) = self.records[name]
        return record


@pytest.fixture(scope="module")
def run(taught_mlx_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("messy")
    write_messy_folder(folder)
    out = tmp_path_factory.mktemp("messy-out")
    # --pages applies to every PDF: the 300-page one gives pages 2 and 3 only.
    command = [sys.executable, "-m", "mlx_edugraph", "label", str(folder)]
    command += ["--model", str(taught_mlx_model), "--ontology", str(ONTOLOGY_V04_RDF)]
    command += ["--db", str(out / "labels.sqlite"), "--out", str(out / "labels.jsonl")]
    # Root reads any file whatever its mode: the run drops root's file-permission override
    # (CAP_DAC_OVERRIDE) so the unreadable file is unreadable for real.
    powerless = os.geteuid() == 0 and shutil.which("setpriv") is not None
    if powerless:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *command]
    result = subprocess.run(
        command + ["--pages", "2-3"], capture_output=True, text=True, timeout=600
    )
    records: dict[str, list[dict]] = {}
    if (out / "labels.jsonl").is_file():
        for line in (out / "labels.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            records.setdefault(str(Path(record["path"]).relative_to(folder)), []).append(record)
    permissions_apply = os.geteuid() != 0 or powerless
    return Run(
        folder, result.returncode, result.stderr, records, out / "labels.sqlite", permissions_apply
    )


def test_the_batch_goes_on_past_every_bad_file(run: Run) -> None:
    assert run.returncode == 0, run.stderr
    assert "notes.txt" not in run.records
    labeled = [r for rs in run.records.values() for r in rs if r["outcome"] != "error"]
    assert len(labeled) >= 20


def _error(run: Run, name: str) -> str:
    record = run.one(name)
    assert record["outcome"] == "error", record
    assert record["labels"] == [] and record["error"]
    label = WorksheetRef(run.folder / name, record["page"]).label
    assert f"error: {label}: {record['error']}" in run.stderr
    return record["error"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "empty.png",
            "empty file (0 bytes)",
            marks=pytest.mark.reliability("Inputs", "zero-byte file"),
            id="empty.png",
        ),
        pytest.param(
            "truncated.png",
            "image file is truncated",
            marks=pytest.mark.reliability("Inputs", "truncated PNG"),
            id="truncated.png",
        ),
        pytest.param(
            "truncated.jpg",
            "image file is truncated",
            marks=pytest.mark.reliability("Inputs", "truncated JPEG"),
            id="truncated.jpg",
        ),
        pytest.param(
            "text.png",
            "cannot identify image file",
            marks=pytest.mark.reliability("Inputs", "text file named .png"),
            id="text.png",
        ),
        pytest.param(
            "photo.heic",
            "not a readable image",
            marks=pytest.mark.reliability("Inputs", "torn HEIC photo (with pillow-heif)"),
            id="photo.heic",
        ),
        pytest.param(
            "encrypted.pdf",
            "encrypted PDF (password",
            marks=pytest.mark.reliability("Inputs", "encrypted PDF"),
            id="encrypted.pdf",
        ),
        pytest.param(
            "broken.pdf",
            "cannot open PDF",
            marks=pytest.mark.reliability("Inputs", "broken PDF"),
            id="broken.pdf",
        ),
        pytest.param(
            "strip-300to1.png",
            "6000x20 pixels, 300:1; the model reads pages up to 200:1",
            marks=pytest.mark.reliability("Inputs", "page of 300:1 (beyond the model's 200:1)"),
            id="strip-300to1.png",
        ),
        pytest.param(
            "fifo.png",
            "not a regular",
            marks=pytest.mark.reliability("Inputs", "unreadable special file (a FIFO named .png)"),
            id="fifo.png",
        ),
        pytest.param(
            "loop-a.png",
            "symbolic link loop",
            marks=pytest.mark.reliability("Inputs", "symbolic link loop"),
            id="loop-a.png",
        ),
        pytest.param(
            "dangling.png",
            "dangling symbolic link",
            marks=pytest.mark.reliability("Inputs", "dangling symbolic link"),
            id="dangling.png",
        ),
    ],
)
def test_bad_file_gets_a_specific_error_record(run: Run, outcome, name: str, expected: str) -> None:
    if name == "photo.heic" and not _has_pillow_heif():
        pytest.skip("needs pillow-heif (the test extra) to read HEIC photos")
    error = _error(run, name)
    assert expected in error
    outcome(f"error record, batch goes on: {error}")


def _has_pillow_heif() -> bool:
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.reliability("Inputs", "decompression bomb (40000x40000 declared)")
def test_decompression_bomb_is_refused_before_decoding(run: Run, outcome) -> None:
    error = _error(run, "bomb.png")
    # The file holds 64 bytes of pixel data: decoding would have failed as truncated.
    assert "too large" in error and "truncated" not in error
    outcome(f"error record, batch goes on: {error}")


def _answer(run: Run, name: str) -> str:
    record = run.one(name)
    assert record["outcome"] != "error", record
    return record["raw_text"]


@pytest.mark.reliability("Inputs", "1x1 image")
def test_one_pixel_image_is_labeled(run: Run, outcome) -> None:
    record = run.one("tiny-1x1.png")
    assert record["outcome"] != "error" and record["raw_text"]
    assert record["image_size"] == [1, 1]
    outcome("a prediction with its raw text, no error: the processor upsizes the image")


@pytest.mark.reliability("Inputs", "16-bit PNG")
def test_16_bit_png_reads_like_its_8_bit_version(run: Run, outcome) -> None:
    sixteen = load(WorksheetRef(run.folder / "gray-16bit.png")).image
    eight = load(WorksheetRef(run.folder / "gray-8bit.png")).image
    assert Image.open(run.folder / "gray-16bit.png").mode.startswith("I")
    assert np.abs(np.asarray(sixteen, int) - np.asarray(eight, int)).max() <= 1
    assert _answer(run, "gray-16bit.png") == _answer(run, "gray-8bit.png")
    outcome("labeled; pixels scaled to 8 bits (not clipped), same answer as the 8-bit copy")


@pytest.mark.reliability("Inputs", "LA (grey + alpha) PNG")
def test_grey_alpha_png_is_flattened_on_white(run: Run, outcome) -> None:
    assert _answer(run, "gray-alpha-LA.png") == _answer(run, "gray-8bit.png")
    outcome("labeled; same answer as the plain grey copy")


@pytest.mark.reliability("Inputs", "palette PNG, CMYK JPEG, animated GIF and WebP")
def test_modes_and_animations_row(run: Run, outcome) -> None:
    # The second frame of the animations is a clock page: its answer would differ.
    for name in ("palette-transparent.png", "cmyk.jpg", "animated.gif", "animated.webp"):
        assert _answer(run, name) == TAUGHT_ANSWERS["addition"], name
    outcome("labeled with the exact taught answer of the page (animations: their first frame)")


@pytest.mark.reliability("Inputs", "JPEG with each of the 8 EXIF orientations")
def test_every_exif_orientation_is_undone(run: Run, outcome) -> None:
    upright = np.asarray(load(WorksheetRef(run.folder / "exif-1.jpg")).image, int)
    for orientation in EXIF_STORED:
        image = load(WorksheetRef(run.folder / f"exif-{orientation}.jpg")).image
        assert image.size == DEMO_PAGE_SIZE, orientation
        assert np.abs(np.asarray(image, int) - upright).mean() < 3, orientation
    answers = {_answer(run, f"exif-{o}.jpg") for o in EXIF_STORED}
    assert answers == {TAUGHT_ANSWERS["addition"]}
    outcome("all 8 load upright (pixels match orientation 1); all 8 get the exact taught answer")


@pytest.mark.reliability("Inputs", "PDF with 300 pages (streamed, --pages)")
def test_300_page_pdf_is_streamed_and_pages_chosen(run: Run, outcome) -> None:
    name = f"scans-{PDF_PAGES}-pages.pdf"
    assert sorted(r["page"] for r in run.records[name]) == [2, 3]
    assert all(r["outcome"] != "error" for r in run.records[name])
    refs = discover([run.folder / name])
    assert next(refs) == WorksheetRef(run.folder / name, 1)  # a generator: pages come lazily
    growth = _peak_memory_growth(run.folder / name)
    assert growth < 64e6, f"rendering one page at a time grew peak memory by {growth / 1e6} MB"
    outcome(
        f"--pages 2-3 labels pages 2 and 3 only; all {PDF_PAGES} pages render one at a time "
        "with peak memory growing < 64 MB"
    )


PEAK_GROWTH = """
import resource, sys
from pathlib import Path
from mlx_edugraph.pages.worksheets import WorksheetRef, load

def peak():  # ru_maxrss: bytes on macOS, KiB on Linux
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale

pdf, pages = Path(sys.argv[1]), int(sys.argv[2])
for page in range(1, 11):
    load(WorksheetRef(pdf, page))
before = peak()
for page in range(11, pages + 1):
    load(WorksheetRef(pdf, page))
print(peak() - before)
"""
"""Peak memory growth from page 10 to the last, in a fresh process (nothing else in it)."""


def _peak_memory_growth(pdf: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-c", PEAK_GROWTH, str(pdf), str(PDF_PAGES)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return float(result.stdout)


@pytest.mark.reliability("Inputs", "file names with spaces, unicode, newlines, non-UTF-8 bytes")
def test_odd_file_names_are_kept_exactly(run: Run, outcome) -> None:
    for name in ODD_NAMES:
        record = run.one(name)
        assert record["outcome"] == "labeled", name
        assert record["path"] == str(run.folder / name)
    with sqlite3.connect(run.db) as db:
        stored = {os.fsdecode(p) for (p,) in db.execute("SELECT path FROM worksheet_paths")}
    assert {str(run.folder / name) for name in ODD_NAMES} <= stored
    with Store(run.db) as store:
        export(store.predictions(), run.db.parent / "labels.csv", "csv")
    text = (run.db.parent / "labels.csv").read_bytes().decode("utf-8")
    assert "caf\\xe9-latin1.png" in text and '"' + str(run.folder / "new\nline.png") in text
    outcome(
        "labeled; each path exact in the store and the JSONL export (non-UTF-8 bytes kept), "
        "shown as \\x.. escapes in the CSV, which stays UTF-8"
    )


@pytest.mark.reliability("Inputs", "the same image twice under two names")
def test_same_image_twice_is_labeled_once_under_both_names(run: Run, outcome) -> None:
    first, second = run.one("twin-a.png"), run.one("twin-b.png")
    assert first["sha256"] == second["sha256"]
    assert first["raw_text"] == second["raw_text"] == TAUGHT_ANSWERS["counting"]
    with sqlite3.connect(run.db) as db:
        (rows,) = db.execute("SELECT count(*) FROM predictions WHERE key = ?", (first["sha256"],))
        names = [
            Path(p).name
            for (p,) in db.execute(
                "SELECT path FROM worksheet_paths WHERE key = ? ORDER BY path", (first["sha256"],)
            )
        ]
    assert rows == (1,) and names == ["twin-a.png", "twin-b.png"]
    outcome("labeled once (one store row); both names recorded and exported under their own name")


@pytest.mark.reliability(
    "Inputs", "unreadable file (mode 000; as root the run drops CAP_DAC_OVERRIDE via setpriv)"
)
def test_file_without_read_permission(run: Run, outcome) -> None:
    if not run.permissions_apply:
        pytest.skip("running as root without setpriv: file permissions do not stop root")
    error = _error(run, "locked.png")
    assert error.startswith("permission denied")
    outcome(f"error record, batch goes on: {error}")


@pytest.mark.reliability("Inputs", "unreadable folder (mode 000) inside the folder")
def test_folder_without_read_permission(run: Run, outcome) -> None:
    if not run.permissions_apply:
        pytest.skip("running as root without setpriv: file permissions do not stop root")
    error = _error(run, "locked-folder")
    assert "folder cannot be read" in error
    outcome(f"error record naming the folder, batch goes on: {error}")
