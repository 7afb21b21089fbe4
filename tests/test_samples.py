"""Sample worksheets: deterministic, scaled to the page size, and visibly different by kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from mlx_edugraph.pages.samples import ALL_KINDS, KINDS, PICTURE, make_worksheet, write_samples

BENCHMARK_SIZES = [(850, 1100), (1275, 1650), (2480, 3508)]


def _same(a: Image.Image, b: Image.Image) -> bool:
    return ImageChops.difference(a, b).getbbox() is None


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_pages_depend_only_on_kind_size_and_seed(kind: str) -> None:
    page = make_worksheet(kind, size=(256, 320), seed=4)
    assert page.mode == "RGB" and page.size == (256, 320)
    assert _same(page, make_worksheet(kind, size=(256, 320), seed=4))
    assert not _same(page, make_worksheet(kind, size=(256, 320), seed=5))


@pytest.mark.parametrize("size", BENCHMARK_SIZES)
def test_pages_scale_with_the_page_size(size: tuple[int, int]) -> None:
    for kind in ALL_KINDS:
        page = make_worksheet(kind, size=size, seed=0)
        assert page.size == size
        # Drawn at full size, not upscaled: the ink is spread over the whole page.
        box = ImageChops.difference(page, Image.new("RGB", size, "white")).getbbox()
        assert box is not None
        assert box[2] - box[0] > size[0] * 0.8 and box[3] - box[1] > size[1] * 0.8


def test_worksheets_are_white_pages_with_a_coloured_header_per_kind() -> None:
    headers = {}
    for kind in KINDS:
        page = make_worksheet(kind, size=(256, 320), seed=1)
        header = ImageStat.Stat(page.crop((0, 0, 40, 30))).mean
        body = ImageStat.Stat(page.crop((0, 60, 256, 320))).mean
        assert min(body) > 200, kind  # mostly white paper
        headers[kind] = tuple(round(c) for c in header)
    # Each kind's band is its own strong colour: far apart even at 256x320.
    colours = list(headers.values())
    for i, a in enumerate(colours):
        for b in colours[i + 1 :]:
            assert sum(abs(x - y) for x, y in zip(a, b, strict=True)) > 100, headers


def test_picture_is_no_worksheet() -> None:
    import numpy as np

    pixels = np.asarray(make_worksheet(PICTURE, size=(256, 320), seed=2)).reshape(-1, 3)
    assert (pixels.min(axis=1) > 240).mean() < 0.05  # no white paper
    assert len(np.unique(pixels, axis=0)) > 50  # colourful


def test_unknown_kind_and_tiny_pages_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        make_worksheet("fractions")
    with pytest.raises(ValueError, match="too small"):
        make_worksheet("addition", size=(32, 32))


def test_write_samples_cycles_kinds_formats_and_writes_a_pdf(tmp_path: Path) -> None:
    paths = write_samples(
        tmp_path, 7, size=(256, 320), seed=10, formats=("png", "jpg"), pdf_pages=3
    )
    images, pdf = paths[:-1], paths[-1]
    assert [p.name for p in images] == [
        "001-addition.png",
        "002-multiplication.jpg",
        "003-counting.png",
        "004-clock.jpg",
        "005-picture.png",
        "006-addition.jpg",
        "007-multiplication.png",
    ]
    with Image.open(images[0]) as first:
        assert first.format == "PNG" and first.size == (256, 320)
        assert _same(first.convert("RGB"), make_worksheet("addition", size=(256, 320), seed=10))
    with Image.open(images[1]) as second:
        assert second.format == "JPEG"
    assert pdf.name == "worksheets.pdf" and pdf.read_bytes().startswith(b"%PDF")
    pdfium = pytest.importorskip("pypdfium2")
    assert len(pdfium.PdfDocument(pdf)) == 3


def test_write_samples_refuses_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        write_samples(tmp_path, 1, formats=("gif",))
