"""Do denser cell characters show a black-on-white worksheet better than half-blocks? A
measurement, not a renderer: each method draws the same page region into the same cells, the
cells are drawn back as a terminal would (each glyph's known coverage, in its two colours), and
the result is compared with the region itself at the screen's pixel size.

    python -m mlx_edugraph.tui.glyph_fidelity [--cells 48x18] [--cell-px 8x16]

Methods, per cell, with a foreground and a background colour (grey here: the pages are ink on
paper):
- half-blocks (▀): 1x2 sub-pixels, what the app draws;
- quadrants (▘▝▖▗ ...): 2x2, the 16 patterns of U+2580-259F; "(app)" with the app's choice
  of the two colours;
- sextants (U+1FB00-1FB3B): 2x3, the 64 patterns;
- braille (U+2800-28FF): 2x4 dots, each dot the middle half (each way) of its sub-cell.
For the denser ones the cell's sub-pixels are split in two at their mean (ink / paper) and
each side gets its mean grey. Scores, at equal cell counts: RMS error in grey levels (0-255,
lower is better), a windowed SSIM (1 is identical), and the RMS error of both blurred by a
quarter of a cell (the page seen from a little further away, where braille's gaps close).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image as PILImage
from PIL import ImageFilter

from .viewport import HALF_BLOCK_CELL, LEVELS, Viewport

METHODS: dict[str, tuple[int, int]] = {
    "half-blocks": (1, 2),
    "quadrants": (2, 2),
    "quadrants (app)": (2, 2),
    "sextants": (2, 3),
    "braille": (2, 4),
}
"""Sub-pixels per cell (columns, rows)."""


def _cells(grey: np.ndarray, grid: tuple[int, int], rows: int, cols: int) -> np.ndarray:
    """The sub-pixel greys as (rows, cols, sub-pixels per cell)."""
    sx, sy = grid
    blocks = grey.reshape(rows, sy, cols, sx).transpose(0, 2, 1, 3)
    return blocks.reshape(rows, cols, sx * sy)


def fit_two_colours(values: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: which sub-pixels are foreground (ink) and the grey each sub-pixel is drawn in.

    Half-blocks: every sub-pixel keeps its own grey (▀ has two free colours). "quadrants
    (app)": as `halfblocks.quadrant_strips` draws, the darkest and the lightest grey, each
    sub-pixel in the nearer one. The others: split at the mean, each side in its mean grey.
    """
    if method == "half-blocks":
        return np.ones(values.shape, bool), values
    if method == "quadrants (app)":
        dark = values.min(axis=2, keepdims=True)
        light = values.max(axis=2, keepdims=True)
        ink = np.abs(values - dark) < np.abs(values - light)
        return ink, np.where(ink, dark, light)
    threshold = values.mean(axis=2, keepdims=True)
    ink = values < threshold
    count = ink.sum(axis=2, keepdims=True)
    ink_grey = np.where(ink, values, 0).sum(axis=2, keepdims=True) / np.maximum(count, 1)
    paper = ~ink
    paper_grey = np.where(paper, values, 0).sum(axis=2, keepdims=True) / np.maximum(
        values.shape[2] - count, 1
    )
    return ink, np.where(ink, ink_grey, paper_grey)


def rasterise(
    method: str, grey: np.ndarray, cols: int, rows: int, cell_px: tuple[int, int]
) -> np.ndarray:
    """`grey` (rows*sy, cols*sx sub-pixels) drawn as cells of `cell_px` screen pixels."""
    sx, sy = METHODS[method]
    ink, drawn = fit_two_colours(_cells(grey, (sx, sy), rows, cols), method)
    paper = drawn.max(axis=2)  # braille's background: the lighter of the cell's two greys
    cw, ch = cell_px
    out = np.empty((rows, ch, cols, cw))
    xs = np.linspace(0, cw, sx + 1).round().astype(int)
    ys = np.linspace(0, ch, sy + 1).round().astype(int)
    for j in range(sy):
        for i in range(sx):
            here = drawn[:, :, j * sx + i][:, None, :, None]
            x0, x1, y0, y1 = xs[i], xs[i + 1], ys[j], ys[j + 1]
            if method == "braille":  # a dot in the middle of its sub-cell, paper round it
                out[:, y0:y1, :, x0:x1] = paper[:, None, :, None]
                dy, dx = (y1 - y0) // 4, (x1 - x0) // 4
                out[:, y0 + dy : y1 - dy, :, x0 + dx : x1 - dx] = here
            else:
                out[:, y0:y1, :, x0:x1] = here
    return out.reshape(rows * ch, cols * cw)


def ssim(a: np.ndarray, b: np.ndarray, window: int = 8) -> float:
    """Mean SSIM over non-overlapping windows (grey 0-255)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    h, w = (a.shape[0] // window) * window, (a.shape[1] // window) * window

    def blocks(x: np.ndarray) -> np.ndarray:
        return x[:h, :w].reshape(h // window, window, w // window, window).transpose(0, 2, 1, 3)

    pa, pb = blocks(a), blocks(b)
    ma, mb = pa.mean(axis=(2, 3)), pb.mean(axis=(2, 3))
    va, vb = pa.var(axis=(2, 3)), pb.var(axis=(2, 3))
    cov = ((pa - ma[..., None, None]) * (pb - mb[..., None, None])).mean(axis=(2, 3))
    score = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return float(score.mean())


def _blurred(grey: np.ndarray, radius: float) -> np.ndarray:
    image = PILImage.fromarray(grey.clip(0, 255).astype(np.uint8))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(radius)), float)


def measure(
    cells: tuple[int, int], cell_px: tuple[int, int], page_size: tuple[int, int]
) -> dict[tuple[str, str], tuple[float, float, float, int]]:
    """Per (zoom level, method): mean RMS error, SSIM and RMS error seen from a distance (both
    blurred by a quarter of a cell), over the regions with ink on a grid of places on pages
    of each kind of worksheet; and how many regions."""
    from mlx_edugraph.pages.samples import make_worksheet

    cols, rows = cells
    screen = (cols * cell_px[0], rows * cell_px[1])
    pane = (cols * HALF_BLOCK_CELL[0], rows * HALF_BLOCK_CELL[1])
    scores: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for kind in ("addition", "multiplication", "clock"):
        page = make_worksheet(kind, size=page_size, seed=1).convert("L")
        for level in range(2, len(LEVELS)):
            for fx in (0.2, 0.4, 0.6, 0.8):
                for fy in (0.15, 0.3, 0.45, 0.6, 0.75, 0.9):
                    place = (page_size[0] * fx, page_size[1] * fy)
                    box = Viewport(page_size, level, place).region(pane).box
                    truth = np.asarray(page.resize(screen, PILImage.Resampling.BOX, box=box), float)
                    if truth.std() < 8:  # blank paper: every method draws it perfectly
                        continue
                    far_truth = _blurred(truth, cell_px[0] / 4)
                    for method, (sx, sy) in METHODS.items():
                        sub = page.resize((cols * sx, rows * sy), PILImage.Resampling.BOX, box=box)
                        drawn = rasterise(method, np.asarray(sub, float), cols, rows, cell_px)
                        far = _blurred(drawn, cell_px[0] / 4)
                        scores.setdefault((LEVELS[level][0], method), []).append(
                            (
                                float(np.sqrt(((drawn - truth) ** 2).mean())),
                                ssim(drawn, truth),
                                float(np.sqrt(((far - far_truth) ** 2).mean())),
                            )
                        )
    return {key: (*np.mean(values, axis=0).tolist(), len(values)) for key, values in scores.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlx_edugraph.tui.glyph_fidelity")
    parser.add_argument("--cells", default="48x18", help="the page pane, in cells")
    parser.add_argument("--cell-px", default="8x16", help="screen pixels per cell")
    parser.add_argument("--size", default="1275x1650", help="page pixels (150-dpi letter)")
    args = parser.parse_args(argv)

    def pair(text: str) -> tuple[int, int]:
        a, b = text.split("x")
        return int(a), int(b)

    print(f"page {args.size}, pane {args.cells} cells of {args.cell_px} screen pixels")
    print(f"{'level':6} {'method':15} {'RMS error':>10} {'SSIM':>6} {'RMS far':>8} regions")
    results = measure(pair(args.cells), pair(args.cell_px), pair(args.size))
    for (level, method), (rms, score, far, count) in results.items():
        print(f"{level:6} {method:15} {rms:10.1f} {score:6.3f} {far:8.1f} {count:7d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
