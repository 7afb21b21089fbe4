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

from mlx_edugraph.pages.sheet_signature import SIGNATURE_VERSION, SheetSignature

METHOD_VERSION = SIGNATURE_VERSION * 100 + 1
"""Stored with each verdict: pairs signed or compared by another method are compared again."""

MIN_INLIERS = 25
"""Fewer matched keypoints agreeing on one homography: the pages do not align (other
layouts)."""

REPROJECTION = 2.0
"""Working pixels a matched keypoint may lie from where the fitted transform puts it."""

PERSPECTIVE_GAIN = 1.3
"""A homography is used instead of a similarity when it explains this many times the
matches: a sheet photographed at a slant that the signature could not square."""

TOLERANCE = 1
"""Pixels (at the working size) that a stroke's edge may move between copies (blur, another
threshold) and still be no difference."""

SHIFT = 2
"""Pixels a window that differs may be shifted by to match: what a homography cannot follow."""

CELL = 24
"""Side, in working pixels, of the window differences are counted in: about one digit."""

MAX_CELL_DIFFERENCE = 8
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
    query, train = _mutual_nearest(one, other)
    if len(query) < MIN_INLIERS:
        return None
    source, target = one.points[query], other.points[train]
    # A similarity (turn, scale, shift) unless a homography explains clearly more matches:
    # the signature has undone most of a photo's perspective, and fewer degrees of freedom
    # keep a worksheet's long lines and repeated ticks from tilting the fit.
    similarity, inliers = cv2.estimateAffinePartial2D(
        source, target, method=cv2.RANSAC, ransacReprojThreshold=REPROJECTION
    )
    agreeing = 0 if similarity is None else int(inliers.sum())
    homography, inliers = cv2.findHomography(source, target, cv2.USAC_MAGSAC, REPROJECTION)
    if homography is None or int(inliers.sum()) < PERSPECTIVE_GAIN * agreeing:
        if agreeing < MIN_INLIERS:
            return None
        homography = np.vstack([similarity, [0.0, 0.0, 1.0]])
    elif int(inliers.sum()) < MIN_INLIERS:
        return None
    # A page turned over or squashed is no copy: keep near-similarity transforms only.
    corners = np.array([[0, 0], [one.size[0], 0], [0, one.size[1]]], dtype=np.float32)
    mapped = cv2.perspectiveTransform(corners[None], homography)[0]
    ratio = np.linalg.norm(mapped[1] - mapped[0]) / max(1.0, np.linalg.norm(corners[1]))
    ratio_y = np.linalg.norm(mapped[2] - mapped[0]) / max(1.0, np.linalg.norm(corners[2]))
    if not (0.6 < ratio < 1.6 and 0.6 < ratio_y < 1.6 and 0.8 < ratio / ratio_y < 1.25):
        return None
    return homography


def _mutual_nearest(one: SheetSignature, other: SheetSignature) -> tuple[np.ndarray, np.ndarray]:
    """Indices of keypoint pairs that are each other's nearest by Hamming distance (what
    OpenCV's brute-force matcher with cross-check gives) among the keypoints within `REACH`
    of the same place on the page, by one matrix product of the bits: several times faster
    than the matcher on one core. Both pages are already turned straight and cropped to
    their content, so a copy's keypoint lies near its original's; a worksheet repeats its
    shapes (ticks, boxes, clock faces) row after row, and without the reach a tick would be
    matched to any other."""
    import cv2

    one_bits = np.unpackbits(one.descriptors, axis=1).astype(np.float32)
    other_bits = np.unpackbits(other.descriptors, axis=1).astype(np.float32)
    # OpenCV's product, not numpy's: a multi-threaded BLAS is ten times slower on a busy CPU.
    common = cv2.gemm(one_bits, other_bits, 1.0, None, 0.0, flags=cv2.GEMM_2_T)
    distance = one_bits.sum(1)[:, None] + other_bits.sum(1)[None, :] - 2 * common
    scale = np.array(other.size, np.float32) / np.array(one.size, np.float32)
    placed = one.points * scale
    across = placed[:, :1] - other.points[:, 0]
    down = placed[:, 1:] - other.points[:, 1]
    far = across * across + down * down > REACH * REACH
    distance += far * np.float32(FAR)  # never nearer than a pair within reach
    forward = distance.argmin(axis=1)
    backward = distance.argmin(axis=0)
    rows = np.arange(len(one_bits))
    query = np.flatnonzero((backward[forward] == rows) & ~far[rows, forward])
    return query, forward[query]


FAR = 1024.0
"""Added to the Hamming distance of keypoints out of reach: more than any two descriptors'."""

REACH = 48
"""Working pixels between a keypoint and its match, once the two content boxes are put one
on the other: a phone photo's perspective moves content by up to about 4 % of the page."""


def _difference(one: SheetSignature, other: SheetSignature, homography: np.ndarray) -> int:
    """The largest count of differing ink pixels in any `CELL` window once `one` is warped
    onto `other`, each window taking its best of `one` shifted by up to `SHIFT` pixels: what
    a homography cannot follow (a photo's lens, paper that is not flat) is no difference.
    Windows over the limit unshifted are looked at again, the worst first; the first that no
    shift brings under it ends the look (other content is usually told there)."""
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
    windows = _window_sums(differing)
    worst = int(windows.max(initial=0))
    if worst <= MAX_CELL_DIFFERENCE:
        return worst
    height, width = differing.shape
    # Window corners in blocks of BLOCK x BLOCK, the worst block first.
    rows, cols = -(-windows.shape[0] // BLOCK), -(-windows.shape[1] // BLOCK)
    padded = np.zeros((rows * BLOCK, cols * BLOCK), windows.dtype)
    padded[: windows.shape[0], : windows.shape[1]] = windows
    blocks = padded.reshape(rows, BLOCK, cols, BLOCK).max(axis=(1, 3))
    ys, xs = np.nonzero(blocks > MAX_CELL_DIFFERENCE)
    worst = 0
    for at in np.argsort(-blocks[ys, xs].astype(np.int32), kind="stable").tolist():
        # The windows with their corner in this block, over the region they cover.
        top, left = max(int(ys[at]) * BLOCK, SHIFT), max(int(xs[at]) * BLOCK, SHIFT)
        bottom = min(top + BLOCK + CELL - 1, height - SHIFT)
        right = min(left + BLOCK + CELL - 1, width - SHIFT)
        if bottom - top < CELL or right - left < CELL:
            continue
        fixed = np.s_[top:bottom, left:right]
        fixed_ink, fixed_near, fixed_covered = other_ink[fixed], other_near[fixed], covered[fixed]
        best = None
        for dy in range(-SHIFT, SHIFT + 1):
            for dx in range(-SHIFT, SHIFT + 1):
                moved = np.s_[top + dy : bottom + dy, left + dx : right + dx]
                region = (
                    (one_ink[moved] & ~fixed_near) | (fixed_ink & ~one_near[moved])
                ) & fixed_covered
                sums = _window_sums(region)
                best = sums if best is None else np.minimum(best, sums)
        worst = max(worst, int(best.max()))
        if worst > MAX_CELL_DIFFERENCE:
            break  # a window that no small shift explains: other content
    return worst


BLOCK = 12
"""Window corners looked at again together: a block's windows cover (BLOCK + CELL - 1)²."""


def _window_sums(mask: np.ndarray) -> np.ndarray:
    """Set pixels of every `CELL` x `CELL` window of `mask`, indexed by its top-left corner."""
    import cv2

    total = cv2.integral(mask.view(np.uint8), sdepth=cv2.CV_32S)
    return total[CELL:, CELL:] - total[:-CELL, CELL:] - total[CELL:, :-CELL] + total[:-CELL, :-CELL]
