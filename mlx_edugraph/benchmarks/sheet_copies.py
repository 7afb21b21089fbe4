"""A generated set for duplicate sheets (`benchmarks.duplicate_bench` measures on it).

Letter-size worksheets from a few templates. Each template has sibling sheets (the same layout
and title, other numbers), and one sibling in which a single problem differs. Every sheet gets
copies of each kind `duplicates` must see through. A pair is a duplicate when both pages come
from the same sheet; a sibling pair must never be called one.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS, cap_pixels

LETTER_INCHES = (8.5, 11.0)

LAYOUTS = ("sums", "products", "number line", "clocks")
"""The templates' layouts; a template is a layout with its own title, rows and type size."""


@dataclass(frozen=True)
class Sheet:
    """One printed sheet: a template, the seed of its numbers, and the problem changed in a
    one-problem sibling (None: all its own numbers)."""

    layout: str
    template: int
    numbers: int
    changed: int | None = None

    @property
    def name(self) -> str:
        changed = f"-changed{self.changed}" if self.changed is not None else ""
        return f"{self.layout}{self.template}-n{self.numbers}{changed}"


def draw_sheet(sheet: Sheet, dpi: int) -> Image.Image:
    """The sheet printed at `dpi` on a letter page."""
    width, height = (round(side * dpi) for side in LETTER_INCHES)
    layout = random.Random(f"{sheet.layout}:{sheet.template}")
    numbers = random.Random(f"{sheet.layout}:{sheet.template}:{sheet.numbers}")
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)
    inch = dpi
    margin = round(0.8 * inch)
    points = layout.choice((14, 16, 18))
    font = ImageFont.load_default(size=round(points / 72 * inch))
    title_font = ImageFont.load_default(size=round(26 / 72 * inch))
    titles = {
        "sums": ("Addition practice", "Adding within 20", "Add the numbers"),
        "products": ("Times tables", "Multiplication practice", "Multiply"),
        "number line": ("Number lines", "Count on", "Jumps on the line"),
        "clocks": ("Telling time", "What time is it?", "Read the clock"),
    }[sheet.layout]
    draw.text((margin, margin), layout.choice(titles), fill="black", font=title_font)
    draw.text((margin, margin + 0.6 * inch), "Name: ________________", fill=(60, 60, 60), font=font)
    top, bottom = margin + round(1.2 * inch), height - margin
    rows = layout.randint(6, 9)
    cols = 2 if sheet.layout in ("sums", "products", "clocks") else 1
    step_y = (bottom - top) / rows
    step_x = (width - 2 * margin) / cols
    problem = 0
    for row in range(rows):
        for col in range(cols):
            x, y = margin + col * step_x, top + row * step_y
            values = (numbers.randint(1, 12), numbers.randint(1, 9), numbers.randint(0, 11))
            if problem == sheet.changed:  # one problem with other numbers than its sibling's
                values = ((values[0] % 12) + 1, (values[1] % 9) + 1, (values[2] + 5) % 12)
            _problem(draw, sheet.layout, values, (x, y, step_x, step_y), font, inch, problem)
            problem += 1
    draw.text(
        (width // 2, height - margin // 2),
        f"Page {sheet.template + 1}",
        fill=(90, 90, 90),
        font=font,
        anchor="ms",
    )
    return page


def _problem(draw, layout: str, values, box, font, inch: int, number: int) -> None:
    x, y, w, h = box
    a, b, c = values
    if layout == "sums":
        draw.text((x, y), f"{number + 1}.   {a} + {b} = ______", fill="black", font=font)
    elif layout == "products":
        draw.rectangle((x, y, x + w * 0.85, y + h * 0.8), outline=(200, 80, 0), width=2)
        draw.text((x + w * 0.1, y + h * 0.25), f"{a} x {b} = ____", fill="black", font=font)
    elif layout == "number line":
        line_y = y + h * 0.5
        draw.line((x, line_y, x + w * 0.9, line_y), fill="black", width=max(1, inch // 50))
        for tick in range(11):
            tx = x + tick * w * 0.09
            draw.line((tx, line_y - 8, tx, line_y + 8), fill="black", width=max(1, inch // 75))
        draw.text((x, y), f"{a} + {b} = ?   Start at {a}, jump {b}.", fill="black", font=font)
    else:
        r = min(w, h) * 0.32
        cx, cy = x + w * 0.3, y + h * 0.45
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline="black", width=max(1, inch // 60))
        for hand, length, angle in ((0, 0.5, (a % 12) * 30), (1, 0.8, c * 30)):
            rad = math.radians(angle - 90)
            draw.line(
                (cx, cy, cx + math.cos(rad) * r * length, cy + math.sin(rad) * r * length),
                fill="black",
                width=max(1, inch // (30 if hand == 0 else 60)),
            )
        draw.text((x + w * 0.65, cy), "___ : ___", fill="black", font=font, anchor="lm")


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _rescan(image: Image.Image, rng: random.Random) -> Image.Image:
    """Scanned again: a slight skew and shift, another exposure, sensor noise, a little blur."""
    import cv2

    pixels = np.asarray(image)
    height, width = pixels.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), rng.uniform(-0.8, 0.8), 1.0)
    matrix[:, 2] += (rng.uniform(-0.006, 0.006) * width, rng.uniform(-0.006, 0.006) * height)
    out = cv2.warpAffine(pixels, matrix, (width, height), borderValue=(255, 255, 255))
    out = cv2.convertScaleAbs(out, alpha=rng.uniform(0.92, 1.05))
    grain = np.random.default_rng(rng.randint(0, 1 << 30)).integers(
        0, 16, (height, width), np.uint8
    )
    out = cv2.subtract(out, cv2.merge([grain] * 3))
    return Image.fromarray(cv2.GaussianBlur(out, (0, 0), 0.6 * width / 1275))


def _rotated(image: Image.Image, rng: random.Random) -> Image.Image:
    """Turned by a few degrees (2.5 to 4.5, either way) on a canvas that holds it all."""
    import cv2

    pixels = np.asarray(image)
    height, width = pixels.shape[:2]
    angle = rng.choice((-1, 1)) * rng.uniform(2.5, 4.5)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    size = (int(height * sin + width * cos), int(height * cos + width * sin))
    matrix[:, 2] += ((size[0] - width) / 2, (size[1] - height) / 2)
    out = cv2.warpAffine(pixels, matrix, size, flags=cv2.INTER_CUBIC, borderValue=(255,) * 3)
    return Image.fromarray(out)


def _photo(image: Image.Image, rng: random.Random) -> Image.Image:
    """A phone photo: slight perspective, light falling off across the sheet, soft focus,
    a JPEG, on a light surround."""
    import cv2

    # A phone's photo is a capture of its own: made at about 2 MP (the labeler caps it to
    # 1 MP anyway), whatever the dpi the sheet was printed from.
    image = cap_pixels(image, 2 * DEFAULT_MAX_PIXELS)
    width, height = image.size
    pad = round(0.04 * width)
    source = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    target = (
        source
        + np.float32(
            [
                [rng.uniform(-1, 1) * 0.035 * width, rng.uniform(-1, 1) * 0.035 * height]
                for _ in range(4)
            ]
        )
        + pad
    )
    matrix = cv2.getPerspectiveTransform(source, target)
    size = (width + 2 * pad, height + 2 * pad)
    warped = cv2.warpPerspective(
        np.asarray(image), matrix, size, flags=cv2.INTER_LINEAR, borderValue=(225, 222, 215)
    )
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    light = 1.0 - 0.28 * (xs / size[0]) * rng.uniform(0.6, 1) - 0.12 * (ys / size[1])
    lit = np.clip(warped.astype(np.float32) * light[..., None], 0, 255).astype(np.uint8)
    out = Image.fromarray(lit).filter(ImageFilter.GaussianBlur(1.0))
    return _jpeg(out, 80)


COPIES: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "re-scan": _rescan,
    "phone photo": _photo,
    "resized": lambda image, rng: image.resize(
        (round(image.width * 0.6), round(image.height * 0.6)), Image.LANCZOS
    ),
    "recompressed": lambda image, rng: _jpeg(image, 35),
    "rotated": _rotated,
    "cropped margins": lambda image, rng: image.crop(
        (
            round(image.width * rng.uniform(0.03, 0.07)),
            round(image.height * rng.uniform(0.02, 0.05)),
            round(image.width * (1 - rng.uniform(0.03, 0.07))),
            round(image.height * (1 - rng.uniform(0.02, 0.05))),
        )
    ),
    "gray": lambda image, rng: image.convert("L"),
    "dimmed": lambda image, rng: ImageEnhance.Contrast(
        ImageEnhance.Brightness(image).enhance(0.6)
    ).enhance(0.8),
}
"""What happens to a printed sheet between two files of it: each must stay its duplicate."""


@dataclass
class SetPage:
    """One page of the generated set: which sheet, which copy ("" for the original)."""

    sheet: Sheet
    dpi: int
    copy: str
    image: Image.Image


def generated_set(
    *,
    layouts=LAYOUTS,
    templates: int = 1,
    siblings: int = 2,
    dpis=(150, 300),
    copies: int | None = None,
    seed: int = 0,
) -> list[SetPage]:
    """Per layout of `layouts`, `templates` templates with `siblings` sheets each plus a one-problem
    sibling of the first, each printed at each dpi with one copy of each kind (or of
    `copies` kinds drawn at random). Images are capped as the labeler loads them
    (`DEFAULT_MAX_PIXELS`)."""
    rng = random.Random(seed)
    pages = []
    for layout in layouts:
        for template in range(templates):
            sheets = [Sheet(layout, template, n) for n in range(siblings)]
            sheets.append(Sheet(layout, template, 0, changed=rng.randint(0, 5)))
            for sheet in sheets:
                for dpi in dpis:
                    original = draw_sheet(sheet, dpi)
                    capped = cap_pixels(original, DEFAULT_MAX_PIXELS)
                    pages.append(SetPage(sheet, dpi, "", capped))
                    kinds = list(COPIES) if copies is None else rng.sample(list(COPIES), copies)
                    for name in kinds:
                        copy = cap_pixels(COPIES[name](original, rng), DEFAULT_MAX_PIXELS)
                        pages.append(SetPage(sheet, dpi, name, copy))
    return pages
