"""A generated set for duplicate sheets, and the pair precision and recall measured on it.

Letter-size worksheets from a few templates. Each template has sibling sheets (the same layout
and title, other numbers), and one sibling in which a single problem differs. Every sheet gets
copies of each kind `duplicates` must see through. A pair is a duplicate when both pages come
from the same sheet; a sibling pair must never be called one.
"""

from __future__ import annotations

import io
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass
class Quality:
    """Pair precision and recall of `duplicates` on a generated set, overall and per kind."""

    precision: float
    recall: float
    per_copy: dict[str, tuple[float, int, int]] = field(default_factory=dict)
    """Per copy kind and dpi ("phone photo @150"): (recall, found pairs, true pairs)."""
    sibling_pairs_grouped: int = 0
    """Pairs of sheets of one template with other numbers called duplicates: must be 0."""
    one_change: tuple[int, int] = (0, 0)
    """Pairs of a sheet and its one-problem sibling (any copies): (grouped, all)."""
    other_dpi: tuple[int, int] = (0, 0)
    """Pairs of one sheet drawn at two dpis (any copies): (grouped, all). Not counted as
    copies: the drawing at another size moves text by a pixel or two (the font's hinting),
    as a reprint from the source would, which is no copy of the printed page."""
    pages: int = 0
    signature_s: float = 0.0
    """Median seconds to make one page's signature."""
    group_s: float = 0.0
    compared: int = 0


def measure_quality(pages: list[SetPage]) -> Quality:
    """Sign every page, group them as `duplicates` does, and count pairs. A page and its
    copies (one sheet at one dpi) are duplicates; sibling sheets never."""
    from mlx_edugraph.pages.sheet_signature import make_signature
    from mlx_edugraph.store.sheet_duplicates import group

    signatures, times = [], []
    for page in pages:
        started = time.perf_counter()
        signatures.append(make_signature(page.image))
        times.append(time.perf_counter() - started)
    ids = [(str(i), 0) for i in range(len(pages))]
    hashes = np.frombuffer(b"".join(s.phash for s in signatures), dtype=np.uint8)
    stored = [signature.to_bytes() for signature in signatures]
    started = time.perf_counter()
    groups, _, compared = group(ids, hashes.reshape(-1, 32), lambda p: stored[int(p[0])])
    group_s = time.perf_counter() - started
    group_of = {int(p[0]): n for n, g in enumerate(groups) for p in g}
    true = found = correct = siblings = 0
    one_change, other_dpi = [0, 0], [0, 0]
    per_copy: dict[str, list[int]] = {}
    for i in range(len(pages)):
        for j in range(i + 1, len(pages)):
            one, other = pages[i].sheet, pages[j].sheet
            called = i in group_of and group_of.get(j) == group_of[i]
            if one == other and pages[i].dpi != pages[j].dpi:
                other_dpi[0] += called  # drawn again at another dpi: counted apart
                other_dpi[1] += 1
                continue
            same = one == other
            if not same and (one.layout, one.template, one.numbers) == (
                other.layout,
                other.template,
                other.numbers,
            ):
                one_change[0] += called  # a one-problem sibling: counted apart
                one_change[1] += 1
                continue
            true += same
            found += called
            correct += same and called
            if called and not same:
                siblings += (one.layout, one.template) == (other.layout, other.template)
            if same and (pages[i].copy == "" or pages[j].copy == ""):
                kind = pages[j].copy or pages[i].copy or "original"
                key = f"{kind} @{pages[i].dpi if pages[i].copy else pages[j].dpi}"
                tally = per_copy.setdefault(key, [0, 0])
                tally[0] += called
                tally[1] += 1
    return Quality(
        precision=correct / found if found else 1.0,
        recall=correct / true if true else 1.0,
        per_copy={k: (v[0] / v[1], v[0], v[1]) for k, v in sorted(per_copy.items())},
        sibling_pairs_grouped=siblings,
        one_change=(one_change[0], one_change[1]),
        other_dpi=(other_dpi[0], other_dpi[1]),
        pages=len(pages),
        signature_s=float(np.median(times)),
        group_s=group_s,
        compared=compared,
    )


def format_quality(quality: Quality) -> str:
    """The precision/recall table of `measure_quality` in Markdown."""
    lines = [
        f"{quality.pages} pages; pair precision {quality.precision:.3f}, recall "
        f"{quality.recall:.3f}; sibling pairs grouped: {quality.sibling_pairs_grouped}; "
        f"one-problem sibling pairs grouped: {quality.one_change[0]} of {quality.one_change[1]}; "
        f"pairs of one sheet drawn at two dpis grouped: {quality.other_dpi[0]} of "
        f"{quality.other_dpi[1]}; "
        f"{quality.compared} pairs compared in {quality.group_s:.1f} s; signature "
        f"{quality.signature_s * 1000:.0f} ms per page (median)",
        "",
        "| copy kind | dpi | recall | found / pairs |",
        "|---|---|---|---|",
    ]
    for key, (recall, hit, total) in quality.per_copy.items():
        kind, _, dpi = key.rpartition(" @")
        lines.append(f"| {kind} | {dpi} | {recall:.3f} | {hit} / {total} |")
    return "\n".join(lines)


@dataclass
class ScaleTime:
    """Grouping a store of `pages` signatures: wall time, peak memory, pairs compared."""

    pages: int
    group_s: float
    peak_mb: float
    """The grouping process's peak resident memory (it does nothing else)."""
    compared: int
    groups: int
    candidates: int
    """Candidate pairs from the hash buckets (pairs already grouped through another copy are
    not compared)."""
    store_s: float = 0.0
    """Seconds to write the store (not part of grouping)."""


def measure_scale(
    pool: list[SetPage], count: int, *, seed: int = 0, log: Callable[[str], None] = print
) -> ScaleTime:
    """Group `count` stored pages made of `pool`'s real signatures, repeated: each repetition's
    hashes are XORed with a random mask of its own, so distances inside a repetition stay real
    and repetitions stand apart like unrelated parts of a collection. Every page is a row of a
    real store; a fresh process groups them as `duplicates` does, so its peak memory is the
    grouping's."""
    import multiprocessing
    import tempfile
    from concurrent.futures import ProcessPoolExecutor
    from dataclasses import replace
    from pathlib import Path

    from mlx_edugraph.pages.sheet_signature import make_signature
    from mlx_edugraph.store.sqlite_store import Store

    started = time.perf_counter()
    signatures = [make_signature(page.image) for page in pool]
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="mlx-edugraph-sheets-") as tmp:
        db = Path(tmp) / "labels.sqlite"
        with Store(db) as store:
            for start in range(0, count, len(signatures)):
                mask = rng.integers(0, 256, 32, dtype=np.uint8)
                store.put_sheet_signatures(
                    ((f"{start + i:064x}", 0), replace(s, phash=_xor(s.phash, mask)))
                    for i, s in enumerate(signatures[: count - start])
                )
        store_s = time.perf_counter() - started
        log(f"{count:,} signatures stored in {store_s:.0f} s; grouping in a fresh process ...")
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
            return replace(child.submit(_group_store, db, count).result(), store_s=store_s)


def _xor(phash: bytes, mask: np.ndarray) -> bytes:
    return (np.frombuffer(phash, np.uint8) ^ mask).tobytes()


def _group_store(db, count: int) -> ScaleTime:
    """In a fresh process: group every page of the store, saying how far it got each minute."""
    import resource
    import sys

    from mlx_edugraph.store.sheet_duplicates import SheetPage, sheet_duplicates
    from mlx_edugraph.store.sqlite_store import Store

    here = str(db)  # a file that exists: the pages' own files are not read
    pages = [SheetPage(f"{i:064x}", 0, here) for i in range(count)]
    started = last = time.perf_counter()
    total = [0]

    def progress(done: int, candidates: int) -> None:
        nonlocal last
        total[0] = candidates
        now = time.perf_counter()
        if now - last >= 60:
            last = now
            print(
                f"  {count:,} pages: {done:,} of {candidates:,} candidate pairs done in "
                f"{now - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    with Store(db) as store:
        found = sheet_duplicates(pages, store, make_missing=False, progress=progress)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return ScaleTime(count, seconds, peak_mb, found.compared, len(found.groups), total[0])


def format_scale(rows: list[ScaleTime]) -> str:
    lines = [
        "| pages | store written | grouping | per page | peak memory | candidate pairs "
        "| pairs compared | groups |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.pages:,} | {row.store_s:.0f} s | {row.group_s:.1f} s | "
            f"{row.group_s / row.pages * 1000:.1f} ms | {row.peak_mb:.0f} MB | "
            f"{row.candidates:,} | {row.compared:,} | {row.groups:,} |"
        )
    return "\n".join(lines)
