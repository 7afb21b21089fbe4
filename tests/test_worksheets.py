"""Worksheet discovery and loading: formats, orientation, transparency, resolution cap."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image

from mlx_edugraph.pages.worksheets import (
    DEFAULT_MAX_PIXELS,
    WorksheetError,
    WorksheetRef,
    cap_pixels,
    discover,
    load,
)


def _page(size=(850, 1100), color=(255, 255, 255)) -> Image.Image:
    image = Image.new("RGB", size, color)
    image.paste((0, 0, 0), (10, 10, 60, 40))  # a dark mark top-left, to check orientation
    return image


@pytest.mark.parametrize("suffix", ["png", "jpg", "webp", "tiff", "bmp", "gif"])
def test_every_image_format_loads_as_rgb(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"sheet.{suffix}"
    _page().save(path)
    sheet = load(WorksheetRef(path))
    assert sheet.image.mode == "RGB"
    assert sheet.image.size == (850, 1100)
    assert len(sheet.sha256) == 64


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90-degree turn
    _page((400, 300)).save(path, exif=exif)
    assert load(WorksheetRef(path)).image.size == (300, 400)


def test_alpha_is_flattened_on_white(tmp_path: Path) -> None:
    path = tmp_path / "transparent.png"
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(path)
    assert load(WorksheetRef(path)).image.getpixel((5, 5)) == (255, 255, 255)


def test_gif_uses_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    r, g, b = load(WorksheetRef(path)).image.getpixel((1, 1))
    assert r > 200 and b < 50


def test_resolution_cap_shrinks_scans_and_keeps_aspect(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    _page((2480, 3508)).save(path)
    image = load(WorksheetRef(path)).image
    assert image.width * image.height <= DEFAULT_MAX_PIXELS
    assert abs(image.width / image.height - 2480 / 3508) < 0.01
    small = _page((850, 1100))
    assert cap_pixels(small, DEFAULT_MAX_PIXELS) is small  # never enlarged


def test_strip_beyond_the_models_aspect_ratio_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "strip.png"
    Image.new("RGB", (6000, 20), "white").save(path)
    with pytest.raises(
        WorksheetError, match=r"6000x20 pixels, 300:1; the model reads pages up to 200:1"
    ):
        load(WorksheetRef(path))
    Image.new("RGB", (4000, 20), "white").save(path)
    assert load(WorksheetRef(path)).image.size == (4000, 20)


def test_large_jpeg_is_decoded_reduced(tmp_path: Path) -> None:
    path = tmp_path / "scan.jpg"
    _page((2480, 3508)).save(path, quality=80)
    image = load(WorksheetRef(path), max_pixels=200_000).image
    assert image.width * image.height <= 200_000


def test_pdf_pages_are_worksheets(tmp_path: Path) -> None:
    path = tmp_path / "two.pdf"
    _page().save(path, save_all=True, append_images=[_page(color=(250, 250, 200))])
    refs = list(discover([tmp_path]))
    assert refs == [WorksheetRef(path, 1), WorksheetRef(path, 2)]
    second = load(refs[1])
    assert second.image.mode == "RGB"
    assert second.image.getpixel((400, 500))[2] < 230  # the yellowish second page
    assert list(discover([path], pages=range(2, 3))) == [WorksheetRef(path, 2)]


def test_discover_is_sorted_recursive_and_skips_other_files(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b/2.png", "a.jpg", ".hidden/x.png", "notes.txt", "c.PNG"):
        (tmp_path / name).write_bytes(b"x")
    names = [r.path.relative_to(tmp_path).as_posix() for r in discover([tmp_path])]
    assert names == ["a.jpg", "b/2.png", "c.PNG"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty file"), (b"hello, not an image", "not a readable image")],
)
def test_unreadable_files_give_specific_errors(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(WorksheetError, match=reason):
        load(WorksheetRef(path))


def test_broken_pdf_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4 garbage")
    refs = list(discover([path]))
    assert refs == [WorksheetRef(path, 1)]
    with pytest.raises(WorksheetError, match="cannot open PDF"):
        load(refs[0])


def test_heic_photo_is_read_with_pillow_heif(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif", reason="needs pillow-heif (the heic extra)")
    path = tmp_path / "photo.heic"
    pillow_heif.from_pillow(_page((600, 800))).save(path, quality=90)
    assert [ref.path for ref in discover([tmp_path])] == [path]
    sheet = load(WorksheetRef(path))
    assert sheet.image.mode == "RGB" and sheet.image.size == (600, 800)
    assert sheet.image.getpixel((30, 20)) < (60, 60, 60)  # the dark mark, top-left: not rotated


@pytest.mark.reliability("Inputs", "HEIC photo without pillow-heif")
def test_heic_photo_without_pillow_heif_gets_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outcome
) -> None:
    path = tmp_path / "photo.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if it were not installed
    with pytest.raises(WorksheetError) as error:
        load(WorksheetRef(path))
    assert "install pillow-heif" in str(error.value)
    outcome(f"error record, batch goes on: {error.value}")
