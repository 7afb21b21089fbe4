"""Sample K-4 worksheets drawn with Pillow, for the demo mode, the tests and the benchmarks.

Each kind has its own header colour, layout and motif (not only its own symbols), so that even
a tiny model looking at a 256x320 page can tell the kinds apart. Output depends only on the
kind, the size and the seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from mlx_edugraph.pages.worksheets import PDF_DPI

KINDS: tuple[str, ...] = ("addition", "multiplication", "counting", "clock")
"""The worksheet kinds, in a fixed order."""

PICTURE = "picture"
"""A colourful scene without any text: not learning material."""

ALL_KINDS: tuple[str, ...] = (*KINDS, PICTURE)
"""Every kind `make_worksheet` draws."""

DEFAULT_SIZE: tuple[int, int] = (850, 1100)
"""US Letter at 100 dpi; benchmarks also use 1275x1650 and 2480x3508 (A4 at 300 dpi)."""

_HEADER_COLOURS = {
    "addition": (37, 99, 235),
    "multiplication": (234, 120, 8),
    "counting": (22, 163, 74),
    "clock": (147, 51, 234),
}
_TITLES = {
    "addition": ("Addition practice", "Adding within 20", "Add the numbers"),
    "multiplication": ("Multiplication practice", "Times tables", "Multiply the numbers"),
    "counting": ("Counting practice", "Count the dots", "How many dots?"),
    "clock": ("Telling time", "What time is it?", "Read the clock"),
}
_DOT_COLOURS = ((220, 38, 38), (37, 99, 235), (234, 179, 8), (22, 163, 74), (219, 39, 119))
_INK = (20, 20, 20)
_GREY = (120, 120, 120)


def make_worksheet(
    kind: str, *, size: tuple[int, int] = DEFAULT_SIZE, seed: int = 0
) -> Image.Image:
    """Draw one page of `kind` (one of `ALL_KINDS`) as an RGB image of `size` (width, height)."""
    if kind not in ALL_KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(ALL_KINDS)}")
    width, height = size
    if width < 64 or height < 64:
        raise ValueError(f"page size {size} is too small; use at least 64x64 pixels")
    rng = random.Random(f"{kind}:{seed}:{width}x{height}")
    if kind == PICTURE:
        return _picture(rng, width, height)
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    body_top = _header(draw, rng, kind, width, height)
    body = (round(width * 0.07), body_top, round(width * 0.93), round(height * 0.95))
    {
        "addition": _addition,
        "multiplication": _multiplication,
        "counting": _counting,
        "clock": _clocks,
    }[kind](draw, rng, body, width)
    _footer(draw, width, height, seed)
    return page


def write_samples(
    folder: Path,
    count: int,
    *,
    size: tuple[int, int] = DEFAULT_SIZE,
    kinds: Sequence[str] = ALL_KINDS,
    seed: int = 0,
    formats: Sequence[str] = ("png",),
    pdf_pages: int = 0,
) -> list[Path]:
    """Write `count` pages cycling through `kinds` (and `formats`: png, jpg), plus a PDF.

    Page i uses seed `seed + i`. With `pdf_pages` > 0, also writes `worksheets.pdf` holding that
    many pages that continue the cycle, at the DPI the loader renders PDFs with, so each page
    comes back at `size`. Returns the paths written, images first.
    """
    if not kinds:
        raise ValueError("kinds must not be empty")
    for fmt in formats:
        if fmt not in ("png", "jpg"):
            raise ValueError(f"unknown format {fmt!r}; expected png or jpg")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    digits = max(3, len(str(count + pdf_pages)))
    paths: list[Path] = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        fmt = formats[i % len(formats)]
        path = folder / f"{i + 1:0{digits}d}-{kind}.{fmt}"
        image = make_worksheet(kind, size=size, seed=seed + i)
        if fmt == "jpg":
            image.save(path, "JPEG", quality=90)
        else:
            image.save(path, "PNG")
        paths.append(path)
    if pdf_pages > 0:
        pages = [
            make_worksheet(kinds[(count + j) % len(kinds)], size=size, seed=seed + count + j)
            for j in range(pdf_pages)
        ]
        path = folder / "worksheets.pdf"
        pages[0].save(
            path, "PDF", save_all=True, append_images=pages[1:], resolution=float(PDF_DPI)
        )
        paths.append(path)
    return paths


def _font(px: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(6, round(px)))


def _header(
    draw: ImageDraw.ImageDraw, rng: random.Random, kind: str, width: int, height: int
) -> int:
    """Draw the coloured band, title and name/date line; return where the body starts."""
    colour = _HEADER_COLOURS[kind]
    band = round(height * 0.11)
    draw.rectangle((0, 0, width, band), fill=colour)
    # A motif in the band's corner, drawn in white: the cue that survives heavy downscaling.
    _band_motif(draw, kind, (width - band, 0, width, band))
    draw.text(
        (round(width * 0.06), band // 2),
        rng.choice(_TITLES[kind]),
        fill="white",
        font=_font(band * 0.42),
        anchor="lm",
    )
    unit = width / 850
    line_y = band + round(55 * unit)
    small = _font(22 * unit)
    draw.text((round(width * 0.07), line_y), "Name:", fill=_INK, font=small, anchor="ls")
    draw.line(
        (round(width * 0.17), line_y, round(width * 0.55), line_y),
        fill=_GREY,
        width=max(1, round(2 * unit)),
    )
    draw.text((round(width * 0.6), line_y), "Date:", fill=_INK, font=small, anchor="ls")
    draw.line(
        (round(width * 0.69), line_y, round(width * 0.93), line_y),
        fill=_GREY,
        width=max(1, round(2 * unit)),
    )
    return line_y + round(35 * unit)


def _band_motif(draw: ImageDraw.ImageDraw, kind: str, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    side = x1 - x0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    r = side * 0.32
    w = max(1, round(side * 0.1))
    if kind == "addition":
        draw.line((cx - r, cy, cx + r, cy), fill="white", width=w)
        draw.line((cx, cy - r, cx, cy + r), fill="white", width=w)
    elif kind == "multiplication":
        d = r * 0.75
        draw.line((cx - d, cy - d, cx + d, cy + d), fill="white", width=w)
        draw.line((cx - d, cy + d, cx + d, cy - d), fill="white", width=w)
    elif kind == "counting":
        for dx in (-0.5, 0.5):
            for dy in (-0.5, 0.5):
                px, py, pr = cx + dx * r * 1.2, cy + dy * r * 1.2, r * 0.3
                draw.ellipse((px - pr, py - pr, px + pr, py + pr), fill="white")
    else:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline="white", width=w)
        draw.line((cx, cy, cx, cy - r * 0.7), fill="white", width=w)
        draw.line((cx, cy, cx + r * 0.5, cy), fill="white", width=w)


def _footer(draw: ImageDraw.ImageDraw, width: int, height: int, seed: int) -> None:
    unit = width / 850
    draw.text(
        (width // 2, height - round(20 * unit)),
        f"Sheet {seed % 90 + 10}",
        fill=_GREY,
        font=_font(16 * unit),
        anchor="ms",
    )


def _addition(
    draw: ImageDraw.ImageDraw, rng: random.Random, body: tuple[int, int, int, int], width: int
) -> None:
    """Two columns of sums below 20 without zero, with answer blanks."""
    x0, y0, x1, y1 = body
    rows = rng.randint(8, 10)
    step = (y1 - y0) / rows
    font = _font(step * 0.42)
    for col in range(2):
        cx = x0 + col * (x1 - x0) / 2
        for row in range(rows):
            a = rng.randint(1, 9)
            b = rng.randint(1, min(9, 19 - a))
            y = y0 + (row + 0.5) * step
            number = row + 1 + col * rows
            draw.text((cx, y), f"{number}.", fill=_GREY, font=font, anchor="lm")
            draw.text((cx + step * 0.9, y), f"{a} + {b} = ____", fill=_INK, font=font, anchor="lm")


def _multiplication(
    draw: ImageDraw.ImageDraw, rng: random.Random, body: tuple[int, int, int, int], width: int
) -> None:
    """A ruled grid of boxed products below 100, three to a row."""
    x0, y0, x1, y1 = body
    cols, rows = 3, rng.randint(5, 6)
    cw, ch = (x1 - x0) / cols, (y1 - y0) / rows
    font = _font(min(cw * 0.13, ch * 0.28))
    line = max(1, round(3 * width / 850))
    colour = _HEADER_COLOURS["multiplication"]
    for row in range(rows):
        for col in range(cols):
            bx, by = x0 + col * cw, y0 + row * ch
            draw.rectangle(
                (bx + cw * 0.04, by + ch * 0.08, bx + cw * 0.96, by + ch * 0.92),
                outline=colour,
                width=line,
            )
            a, b = rng.randint(2, 9), rng.randint(2, 10)
            draw.text(
                (bx + cw / 2, by + ch * 0.38), f"{a} x {b}", fill=_INK, font=font, anchor="mm"
            )
            draw.text((bx + cw / 2, by + ch * 0.7), "= ____", fill=_INK, font=font, anchor="mm")


def _counting(
    draw: ImageDraw.ImageDraw, rng: random.Random, body: tuple[int, int, int, int], width: int
) -> None:
    """Rows of 1-9 coloured dots, each with a "How many?" box."""
    x0, y0, x1, y1 = body
    rows = rng.randint(5, 7)
    step = (y1 - y0) / rows
    radius = min(step * 0.3, (x1 - x0) * 0.6 / 9 * 0.4)
    font = _font(step * 0.22)
    line = max(1, round(3 * width / 850))
    for row in range(rows):
        y = y0 + (row + 0.5) * step
        colour = rng.choice(_DOT_COLOURS)
        for i in range(rng.randint(1, 9)):
            cx = x0 + radius * 1.3 + i * radius * 2.6
            draw.ellipse((cx - radius, y - radius, cx + radius, y + radius), fill=colour)
        bx = x0 + (x1 - x0) * 0.72
        draw.text((bx, y - step * 0.22), "How many?", fill=_INK, font=font, anchor="ls")
        draw.rectangle(
            (bx, y - step * 0.15, bx + (x1 - x0) * 0.2, y + step * 0.3),
            outline=_INK,
            width=line,
        )


def _clocks(
    draw: ImageDraw.ImageDraw, rng: random.Random, body: tuple[int, int, int, int], width: int
) -> None:
    """A grid of analog clock faces on the hour or half hour, each with a time blank."""
    x0, y0, x1, y1 = body
    cols, rows = 2, 3
    cw, ch = (x1 - x0) / cols, (y1 - y0) / rows
    radius = min(cw, ch) * 0.33
    line = max(1, round(4 * width / 850))
    font = _font(radius * 0.22)
    for row in range(rows):
        for col in range(cols):
            cx, cy = x0 + (col + 0.5) * cw, y0 + row * ch + ch * 0.42
            draw.ellipse(
                (cx - radius, cy - radius, cx + radius, cy + radius),
                outline=_INK,
                width=line,
                fill=(250, 245, 255),
            )
            for hour in range(1, 13):
                angle = math.radians(hour * 30 - 90)
                tx = cx + math.cos(angle) * radius * 0.8
                ty = cy + math.sin(angle) * radius * 0.8
                draw.text((tx, ty), str(hour), fill=_INK, font=font, anchor="mm")
            hour, minute = rng.randint(1, 12), rng.choice((0, 30))
            _hand(draw, cx, cy, radius * 0.5, (hour % 12 + minute / 60) * 30, line * 2)
            _hand(draw, cx, cy, radius * 0.72, minute * 6, line)
            draw.text(
                (cx, cy + radius + ch * 0.12),
                "What time is it? ___:___",
                fill=_INK,
                font=font,
                anchor="mm",
            )


def _hand(
    draw: ImageDraw.ImageDraw, cx: float, cy: float, length: float, degrees: float, width: int
) -> None:
    angle = math.radians(degrees - 90)
    end = (cx + math.cos(angle) * length, cy + math.sin(angle) * length)
    draw.line((cx, cy, *end), fill=_HEADER_COLOURS["clock"], width=width)


def _picture(rng: random.Random, width: int, height: int) -> Image.Image:
    """A landscape: sky, sun, hills, trees, a house and loose shapes, with no text."""
    page = Image.new("RGB", (width, height), (90, 170, 70))
    draw = ImageDraw.Draw(page)
    top = (rng.randint(60, 120), rng.randint(140, 200), 255)
    bottom = (200, 230, 255)
    horizon = round(height * rng.uniform(0.45, 0.6))
    for y in range(horizon):
        t = y / max(1, horizon - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line((0, y, width, y), fill=colour)
    sun = rng.uniform(0.06, 0.1) * width
    sx, sy = rng.uniform(0.15, 0.85) * width, rng.uniform(0.08, 0.25) * height
    draw.ellipse((sx - sun, sy - sun, sx + sun, sy + sun), fill=(255, 204, 0))
    for i in range(3):
        green = (rng.randint(40, 90), rng.randint(140, 200), rng.randint(40, 90))
        hx = rng.uniform(-0.2, 1.0) * width
        hr = rng.uniform(0.4, 0.8) * width
        hy = horizon + i * height * 0.08
        draw.ellipse((hx - hr, hy - hr * 0.35, hx + hr, hy + hr), fill=green)
    draw.rectangle((0, round(height * 0.8), width, height), fill=(70, 150, 60))
    for _ in range(rng.randint(3, 6)):
        tx = rng.uniform(0.05, 0.95) * width
        ty = rng.uniform(0.62, 0.9) * height
        th = rng.uniform(0.08, 0.16) * height
        draw.rectangle((tx - th * 0.08, ty - th * 0.5, tx + th * 0.08, ty), fill=(110, 70, 30))
        draw.ellipse(
            (tx - th * 0.4, ty - th * 1.1, tx + th * 0.4, ty - th * 0.35), fill=(20, 120, 40)
        )
    hx, hy, hw = rng.uniform(0.2, 0.7) * width, height * 0.78, width * rng.uniform(0.18, 0.26)
    wall = rng.choice(((230, 90, 70), (240, 200, 120), (200, 120, 200)))
    draw.rectangle((hx, hy - hw * 0.7, hx + hw, hy), fill=wall)
    draw.polygon(
        (
            (hx - hw * 0.1, hy - hw * 0.7),
            (hx + hw / 2, hy - hw * 1.2),
            (hx + hw * 1.1, hy - hw * 0.7),
        ),
        fill=(150, 40, 40),
    )
    draw.rectangle((hx + hw * 0.4, hy - hw * 0.35, hx + hw * 0.6, hy), fill=(90, 50, 20))
    for _ in range(rng.randint(4, 9)):
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.02, 0.06) * width
        if rng.random() < 0.5:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        else:
            draw.regular_polygon((cx, cy, r), rng.randint(3, 6), fill=colour)
    return page
