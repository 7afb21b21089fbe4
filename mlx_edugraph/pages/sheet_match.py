"""Whether two pages are the same printed sheet: align them, then compare them locally.

Alignment: ORB descriptors matched both ways (OpenCV's brute-force Hamming matcher with
cross-check), a homography fitted by RANSAC (MAGSAC++). It undoes a rotation, a crop, a
resize and a phone photo's perspective. Comparison: the first page's ink mask is warped onto
the second's; ink of either page with no ink of the other within `TOLERANCE` pixels is a
difference, counted per cell of about one printed digit's size. A duplicate has no cell with
more than `MAX_CELL_DIFFERENCE` differing pixels: one changed number makes a sheet another
sheet (docs/similar.md says why).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlx_edugraph.pages.sheet_signature import SheetSignature

MIN_INLIERS = 25
"""Fewer matched keypoints agreeing on one homography: the pages do not align (other
layouts)."""

TOLERANCE = 1
"""Pixels (at the working size) that a stroke's edge may move between copies (blur, another
threshold) and still be no difference."""

SHIFT = 2
"""Pixels a window that differs may be shifted by to match: what a homography cannot follow."""

CELL = 24
"""Side, in working pixels, of the window differences are counted in: about one digit."""

MAX_CELL_DIFFERENCE = 12
"""Differing pixels a cell of a duplicate may hold (measured, docs/similar.md)."""


@dataclass(frozen=True)
class Match:
    """How two pages compare: aligned (same layout) and the largest local difference."""

    aligned: bool
    difference: int
    """Differing ink pixels in the worst cell (-1 when not aligned)."""

    @property
    def duplicate(self) -> bool:
        """The same printed sheet."""
        return self.aligned and self.difference <= MAX_CELL_DIFFERENCE

    @property
    def variant(self) -> bool:
        """The same layout with other content: a sibling sheet of one template."""
        return self.aligned and not self.duplicate


NOT_ALIGNED = Match(False, -1)


def compare(one: SheetSignature, other: SheetSignature) -> Match:
    """Compare two non-blank pages' signatures."""
    homography = _align(one, other)
    if homography is None:
        return NOT_ALIGNED
    return Match(True, _difference(one, other, homography))


def _align(one: SheetSignature, other: SheetSignature) -> np.ndarray | None:
    """The homography taking `one`'s working frame to `other`'s, or None."""
    import cv2

    if len(one.descriptors) < MIN_INLIERS or len(other.descriptors) < MIN_INLIERS:
        return None
    query, train = _mutual_nearest(one.descriptors, other.descriptors)
    if len(query) < MIN_INLIERS:
        return None
    source, target = one.points[query], other.points[train]
    homography, inliers = cv2.findHomography(source, target, cv2.USAC_MAGSAC, 3.0)
    if homography is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    # A page turned over or squashed is no copy: keep near-similarity transforms only.
    corners = np.array([[0, 0], [one.size[0], 0], [0, one.size[1]]], dtype=np.float32)
    mapped = cv2.perspectiveTransform(corners[None], homography)[0]
    ratio = np.linalg.norm(mapped[1] - mapped[0]) / max(1.0, np.linalg.norm(corners[1]))
    ratio_y = np.linalg.norm(mapped[2] - mapped[0]) / max(1.0, np.linalg.norm(corners[2]))
    if not (0.6 < ratio < 1.6 and 0.6 < ratio_y < 1.6 and 0.8 < ratio / ratio_y < 1.25):
        return None
    return homography


def _mutual_nearest(one: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of descriptor pairs that are each other's nearest by Hamming distance (what
    OpenCV's brute-force matcher with cross-check gives), by one matrix product of the bits:
    several times faster than the matcher on one core."""
    import cv2

    one_bits = np.unpackbits(one, axis=1).astype(np.float32)
    other_bits = np.unpackbits(other, axis=1).astype(np.float32)
    # OpenCV's product, not numpy's: a multi-threaded BLAS is ten times slower on a busy CPU.
    common = cv2.gemm(one_bits, other_bits, 1.0, None, 0.0, flags=cv2.GEMM_2_T)
    distance = one_bits.sum(1)[:, None] + other_bits.sum(1)[None, :] - 2 * common
    forward = distance.argmin(axis=1)
    backward = distance.argmin(axis=0)
    query = np.flatnonzero(backward[forward] == np.arange(len(one)))
    return query, forward[query]


def _difference(one: SheetSignature, other: SheetSignature, homography: np.ndarray) -> int:
    """Differing ink pixels in the worst window, once `one` is warped onto `other`; a window
    that differs is looked at again with `one` shifted by up to `SHIFT` pixels, so that what
    a homography cannot follow (a photo's lens, paper that is not flat) is no difference."""
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * TOLERANCE + 1,) * 2)
    # One warp for the three masks of `one`: ink, faint print, and the page itself (off the
    # warped page's edge nothing can be compared: a crop that cut the other page).
    layers = one.ink_bits() | (one.faint_bits() << 1) | np.uint8(4)
    layers = cv2.warpPerspective(layers, homography, other.size, flags=cv2.INTER_NEAREST)
    one_ink = (layers & 1) > 0
    # Ink of one page counts as missing from the other only where the other has not even a
    # faint print near it: a thin line that a copy's blur lightened is no difference.
    one_near = cv2.dilate(layers & 2, kernel) > 0
    covered = cv2.erode(layers & 4, np.ones((2 * SHIFT + 1,) * 2, np.uint8)) > 0
    other_ink = other.ink_bits() > 0
    other_near = cv2.dilate(other.faint_bits(), kernel) > 0
    differing = ((one_ink & ~other_near) | (other_ink & ~one_near)) & covered
    windows = cv2.boxFilter(differing.view(np.uint8), cv2.CV_16U, (CELL, CELL), normalize=False)
    worst = int(windows.max())
    if worst <= MAX_CELL_DIFFERENCE:
        return worst
    worst = 0
    height, width = differing.shape
    half = CELL // 2
    # One look per half-cell, the worst first: other content is usually told at the first.
    rows, cols = -(-height // half), -(-width // half)
    padded = np.zeros((rows * half, cols * half), windows.dtype)
    padded[:height, :width] = windows
    cells = padded.reshape(rows, half, cols, half).max(axis=(1, 3))
    ys, xs = np.nonzero(cells > MAX_CELL_DIFFERENCE)
    for at in np.argsort(-cells[ys, xs].astype(np.int32), kind="stable").tolist():
        y, x = int(ys[at]) * half, int(xs[at]) * half
        top, left = max(y - half, SHIFT), max(x - half, SHIFT)
        bottom, right = min(y + CELL, height - SHIFT), min(x + CELL, width - SHIFT)
        if bottom <= top or right <= left:
            continue
        best = min(
            int(
                (
                    (
                        (
                            one_ink[top + dy : bottom + dy, left + dx : right + dx]
                            & ~other_near[top:bottom, left:right]
                        )
                        | (
                            other_ink[top:bottom, left:right]
                            & ~one_near[top + dy : bottom + dy, left + dx : right + dx]
                        )
                    )
                    & covered[top:bottom, left:right]
                ).sum()
            )
            for dy in range(-SHIFT, SHIFT + 1)
            for dx in range(-SHIFT, SHIFT + 1)
        )
        worst = max(worst, best)
        if worst > MAX_CELL_DIFFERENCE:
            break  # one window that no small shift explains: other content
    return worst
