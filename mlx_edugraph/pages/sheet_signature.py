"""A page's sheet signature: what telling "the same printed sheet" from "another sheet" needs.

Made once per page (on the labeler's loader thread, or on first use) and stored. The page is
normalized first, so that the kinds of copy `duplicates` must see through change little:
grey, shading flattened (a dimmed copy, a photo's uneven light), cropped to its printed
content (cropped margins) and resized to a fixed working size (a resized copy, another dpi).
The signature then holds:

- a 256-bit perceptual hash (`imagehash.phash`, hash_size=16) of that page: candidates;
- ORB keypoints and descriptors (OpenCV) of the ink mask, smoothed: to align two pages with a
  homography (a rotation, a phone photo's perspective). Taken from the mask, not the grey page,
  so that a dimmed or greyed copy gives the same keypoints as its original;
- the page's ink mask, bit-packed: to compare two aligned pages locally, problem by problem.

docs/similar.md has the measurements behind each setting.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

SIGNATURE_VERSION = 2
"""Stored with each signature: a change of method makes the old ones be made again."""

WORK_SIDE = 1024
"""The long side, in pixels, of the content box a page is normalized to: about 100 dpi for a
letter page's printed area, where a 12-point digit is some 16 pixels tall."""

MAX_UPSCALE = 1.5
"""A small page is enlarged at most this much: more would only enlarge its pixels' blur, which
a copy resamples otherwise."""

MIN_SIDE = 64
"""Pages smaller than this a side carry too few pixels to tell sheets apart: refused."""

INK_RATIO = 0.72
"""A pixel is ink where it is darker than this share of the paper's brightness around it."""

FAINT_RATIO = 0.9
"""A pixel is at least faintly printed below this share: where a thin line or a blurred edge
of a copy may fall, so that ink of one page is not called missing from the other there."""

BLANK_INK = 0.0005
"""A page with less ink than this share of its pixels is blank: grouped as blank, never as a
duplicate of another blank page (nothing on it says which sheet it is)."""

FEATURES = 500
"""ORB keypoints kept per page: enough for a homography; matching grows with their square."""

ORB_LEVELS = 3
"""Scales ORB looks at: pages are normalized to one working size, so copies differ in scale
by a few percent at most; fewer levels keep the keypoints' positions pixel-exact."""

ORB_SMOOTHING = 1.0
"""Gaussian sigma (working pixels) applied to the binary ink mask before ORB: corners of a
binary mask would all score alike; smoothed, their order is the shapes' own."""


class SignatureError(Exception):
    """The page cannot be given a signature (too small); the message says why."""


@dataclass
class SheetSignature:
    """What the duplicate check needs of one page."""

    phash: bytes
    """32 bytes: the 256-bit pHash of the normalized page (zero bytes when blank)."""
    blank: bool
    size: tuple[int, int]
    """(width, height) of the normalized page, the frame of `points` and the ink mask."""
    points: np.ndarray
    """ORB keypoint positions, float32 (n, 2)."""
    descriptors: np.ndarray
    """ORB descriptors, uint8 (n, 32)."""
    ink: np.ndarray
    """The ink mask, bit-packed rows (np.packbits of a bool (height, width) array)."""
    faint: np.ndarray
    """The faintly printed mask (ink included), packed likewise."""

    def ink_bits(self) -> np.ndarray:
        """The ink mask as uint8 0/1 (height, width): what the comparison works on."""
        return self._bits(self.ink)

    def faint_bits(self) -> np.ndarray:
        """The faint mask as uint8 0/1 (height, width)."""
        return self._bits(self.faint)

    def _bits(self, packed: np.ndarray) -> np.ndarray:
        width, height = self.size
        return np.unpackbits(packed, axis=1, count=width)[:height]

    def to_bytes(self) -> bytes:
        """Compressed numpy arrays (no pickle): what the store keeps."""
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            phash=np.frombuffer(self.phash, dtype=np.uint8),
            blank=np.array(self.blank),
            size=np.array(self.size, dtype=np.int32),
            points=self.points.astype(np.float32),
            descriptors=self.descriptors.astype(np.uint8),
            ink=self.ink,
            faint=self.faint,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SheetSignature:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(
                arrays["phash"].tobytes(),
                bool(arrays["blank"]),
                tuple(int(v) for v in arrays["size"]),
                arrays["points"],
                arrays["descriptors"],
                arrays["ink"],
                arrays["faint"],
            )


def make_signature(image: Image.Image) -> SheetSignature:
    """The signature of one page image (any mode, any size of at least `MIN_SIDE`)."""
    import cv2
    import imagehash

    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise SignatureError(
            f"image too small to compare: {width}x{height} pixels (at least {MIN_SIDE} a side)"
        )
    grey = np.asarray(image.convert("L"), dtype=np.uint8)
    # Find the printed content on a coarse copy, then normalize the content box alone.
    coarse_scale = min(1.0, 512 / max(width, height))
    coarse = cv2.resize(grey, None, fx=coarse_scale, fy=coarse_scale, interpolation=cv2.INTER_AREA)
    corners = _paper_corners(coarse)
    if corners is not None:  # a photo of the sheet on a table: the sheet alone, made square
        grey = _flattened_perspective(grey, corners / coarse_scale)
        height, width = grey.shape
        coarse_scale = min(1.0, 512 / max(width, height))
        coarse = cv2.resize(
            grey, None, fx=coarse_scale, fy=coarse_scale, interpolation=cv2.INTER_AREA
        )
    coarse_ink = _ink(_flattened(coarse, 512))
    if coarse_ink.mean() < BLANK_INK:
        return _blank(width, height)
    angle = _skew(coarse_ink)
    if abs(angle) > 0.2:  # a rotated copy: turned straight, so that its hash is the page's
        grey = _rotated(grey, angle)
        coarse = _rotated(coarse, angle)
        coarse_ink = _ink(_flattened(coarse, 512))
    box = _content_box(coarse_ink, coarse_scale, width, height)
    content = grey[box[1] : box[3], box[0] : box[2]]
    scale = min(WORK_SIDE / max(content.shape), MAX_UPSCALE)
    size = (max(1, round(content.shape[1] * scale)), max(1, round(content.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    flat = _flattened(cv2.resize(content, size, interpolation=interpolation), WORK_SIDE)
    ink = _ink(flat)
    phash = imagehash.phash(Image.fromarray(flat), hash_size=16)
    orb = cv2.ORB_create(nfeatures=FEATURES, nlevels=ORB_LEVELS, fastThreshold=10)
    smoothed = cv2.GaussianBlur(np.where(ink, 0, 255).astype(np.uint8), (0, 0), ORB_SMOOTHING)
    keypoints, descriptors = orb.detectAndCompute(smoothed, None)
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    if descriptors is None:
        descriptors = np.zeros((0, 32), dtype=np.uint8)
    return SheetSignature(
        np.packbits(phash.hash.flatten()).tobytes(),
        False,
        size,
        points,
        descriptors,
        np.packbits(ink, axis=1),
        np.packbits(flat < FAINT_RATIO * 255, axis=1),
    )


PAPER_AREA = (0.4, 0.97)
"""Shares of a photo that the sheet in it may cover: less is no photo of a sheet; more leaves
no surround to tell it by (a scan)."""

SURROUND = 0.93
"""A photo's surround is darker than this share of the sheet's brightness (a table, a desk);
a sheet with a frame printed on it has white paper on both sides of the frame."""


def _paper_corners(coarse: np.ndarray) -> np.ndarray | None:
    """The four corners (float32, clockwise from top-left) of a sheet photographed on a
    darker surround, in `coarse`'s pixels, or None (a scan, a file, no such sheet): the
    largest bright region (Otsu) whose outline is a quadrilateral."""
    import cv2

    # Brighter than the neighbourhood's mean: light falling off across a photo leaves the
    # far side of the sheet darker than the near side of the table.
    block = (max(coarse.shape) // 5) | 1
    bright = cv2.adaptiveThreshold(
        coarse, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, -2
    )
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    outline = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(outline) / coarse.size
    if not PAPER_AREA[0] <= area <= PAPER_AREA[1]:
        return None
    quad = cv2.approxPolyDP(outline, 0.02 * cv2.arcLength(outline, True), True)
    if len(quad) != 4 or not cv2.isContourConvex(quad):
        return None
    inside = np.zeros_like(coarse)
    cv2.fillConvexPoly(inside, quad, 255)
    if coarse[inside == 0].mean() > SURROUND * np.percentile(coarse[inside > 0], 90):
        return None
    points = quad.reshape(4, 2).astype(np.float32)
    centre = points.mean(axis=0)
    order = np.argsort(np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0]))
    points = points[order]  # clockwise from the top-left (angles from -pi)
    return np.roll(points, -int(np.argmin(points.sum(axis=1))), axis=0)


def _flattened_perspective(grey: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The sheet inside `corners` warped to a rectangle of its own sides' lengths."""
    import cv2

    top, right, bottom, left = (np.linalg.norm(corners[(i + 1) % 4] - corners[i]) for i in range(4))
    size = (round(max(top, bottom)), round(max(left, right)))
    target = np.float32([[0, 0], [size[0], 0], [size[0], size[1]], [0, size[1]]])
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    return cv2.warpPerspective(
        grey, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _blank(width: int, height: int) -> SheetSignature:
    return SheetSignature(
        bytes(32),
        True,
        (1, 1),
        np.zeros((0, 2), dtype=np.float32),
        np.zeros((0, 32), dtype=np.uint8),
        np.zeros((1, 1), dtype=np.uint8),
        np.zeros((1, 1), dtype=np.uint8),
    )


def _flattened(grey: np.ndarray, side: int) -> np.ndarray:
    """The page with its paper made white: each pixel divided by the paper's brightness
    around it (a dilation, then a median: ink is thinner than the window). Undoes dimming,
    a photo's uneven light and a grey paper tone."""
    import cv2

    window = max(3, side // 40) | 1
    # Averaged first: a resampled copy rings beside each stroke, brighter than its paper; the
    # brightest pixels around would take that ring for the paper and make a halo of faint
    # print around every stroke of a page whose paper is not white (a dimmed copy).
    smooth = cv2.blur(grey, (5, 5))
    paper = cv2.dilate(smooth, cv2.getStructuringElement(cv2.MORPH_RECT, (window, window)))
    paper = cv2.medianBlur(paper, 2 * window + 1 if 2 * window + 1 <= 255 else 255)
    ratio = grey.astype(np.float32) / np.maximum(paper.astype(np.float32), 1.0)
    return np.clip(ratio * 255.0, 0, 255).astype(np.uint8)


def _ink(flat: np.ndarray) -> np.ndarray:
    """Ink pixels (bool) of a flattened page."""
    return flat < INK_RATIO * 255


MAX_SKEW = 6.0
"""Degrees of rotation looked for and undone before hashing."""


def _skew(ink: np.ndarray) -> float:
    """The angle in degrees by which the page's lines are turned: the one whose projection
    of the ink onto the vertical is sharpest (printed rows line up), in quarter degrees, then
    twentieths around the best."""
    ys, xs = np.nonzero(ink)
    if len(ys) < 50:
        return 0.0
    ys, xs = ys.astype(np.float32), xs.astype(np.float32)

    def sharpness(angle: float) -> float:
        theta = np.radians(angle)
        rows = np.round(ys * np.cos(theta) - xs * np.sin(theta)).astype(np.int64)
        counts = np.bincount(rows - rows.min())
        return float(np.dot(counts, counts))

    coarse = max(np.arange(-MAX_SKEW, MAX_SKEW + 0.01, 0.25), key=sharpness)
    return float(max(np.arange(coarse - 0.25, coarse + 0.26, 0.05), key=sharpness))


def _rotated(grey: np.ndarray, angle: float) -> np.ndarray:
    """`grey` turned by `angle` degrees about its centre, the corners filled with its edge."""
    import cv2

    height, width = grey.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return cv2.warpAffine(
        grey, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _content_box(
    ink: np.ndarray, scale: float, width: int, height: int
) -> tuple[int, int, int, int]:
    """The box (left, top, right, bottom) of the page's ink in full-size pixels, with a small
    margin; stray specks (the outer 0.2 % of ink on each side) do not stretch it."""
    ys, xs = np.nonzero(ink)
    left, right = np.percentile(xs, [0.2, 99.8])
    top, bottom = np.percentile(ys, [0.2, 99.8])
    pad = 4
    return (
        max(0, int((left - pad) / scale)),
        max(0, int((top - pad) / scale)),
        min(width, int((right + pad + 1) / scale)),
        min(height, int((bottom + pad + 1) / scale)),
    )
