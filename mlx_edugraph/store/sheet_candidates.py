"""Candidate pairs for the duplicate check: from buckets of the pages' 256-bit hashes, never
all pairs.

Multi-index hashing: the hash cut into `CHUNKS` chunks of 16 bits; pages sharing a chunk are
looked at, and those within `MAX_HASH_DISTANCE` bits kept, at most `MAX_CANDIDATES` nearest per
page. A page the full hash placed badly (a phone photo, a crop) gets a second look among the
pages of its layout (`layout_candidates`).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

CHUNKS = 16
"""The hash is cut into this many chunks of 16 bits; two pages within 15 bits share one."""

MAX_HASH_DISTANCE = 64
"""Hash bits (of 256) two pages may differ by and still be confirmed (measured: copies stay
under it; docs/similar.md)."""

MAX_CANDIDATES = 16
"""Nearest candidates per page: enough to reach past a sheet's own copies (free to skip once
they are grouped) to its copies at another resolution."""

_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
"""Set bits of each byte value: Hamming distances of packed hashes by table look-up."""


def candidates(hashes: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (i < j) of rows whose hashes share one of `CHUNKS` 16-bit chunks and differ by at
    most `MAX_HASH_DISTANCE` bits; each row keeps its `MAX_CANDIDATES` nearest. Sorted by
    distance, nearest first."""
    count = len(hashes)
    if count < 2:
        return []
    chunks = hashes.view(">u2").reshape(count, CHUNKS)
    buckets = []
    for c in range(CHUNKS):
        order = np.argsort(chunks[:, c], kind="stable")
        values = chunks[order, c]
        starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
        ends = np.r_[starts[1:], count]
        buckets.append((values[starts], starts, ends, order))
    found: dict[tuple[int, int], int] = {}
    for i in range(count):
        members = []
        for c, (keys, starts, ends, order) in enumerate(buckets):
            at = np.searchsorted(keys, chunks[i, c])
            if ends[at] - starts[at] > 1:
                members.append(order[starts[at] : ends[at]])
        if not members:
            continue
        near = np.unique(np.concatenate(members))
        _keep_nearest(hashes, i, near[near != i], MAX_CANDIDATES, found, MAX_HASH_DISTANCE)
    return sorted(found, key=lambda pair: (found[pair], pair))


def _keep_nearest(
    hashes: np.ndarray,
    i: int,
    near: np.ndarray,
    count: int,
    found: dict[tuple[int, int], int],
    within: int = 256,
) -> None:
    """Add to `found` the pairs of row `i` with its `count` nearest rows of `near` (by Hamming
    distance of the hashes, at most `within` bits), each with its distance."""
    if not len(near):
        return
    distance = _BITS[hashes[near] ^ hashes[i]].sum(axis=1, dtype=np.int32)
    keep = distance <= within
    near, distance = near[keep], distance[keep]
    if len(near) > count:
        nearest = np.argpartition(distance, count)[:count]
        near, distance = near[nearest], distance[nearest]
    for j, d in zip(near.tolist(), distance.tolist(), strict=True):
        found[(min(i, j), max(i, j))] = d


LAYOUT_BITS = 4
"""The layout key: the pHash's lowest `LAYOUT_BITS` x `LAYOUT_BITS` frequencies (16 bits).
Copies differ in at most 2 of them (a phone photo's perspective, a crop: measured), where
their 256 bits may differ in 80 (docs/similar.md); sibling sheets share it."""

LAYOUT_DISTANCE = 2
"""Bits of the layout key a page's layout peers may differ in."""

LAYOUT_CANDIDATES = 6
"""Layout peers (nearest by the full hash) a page with no duplicate is compared with."""


def layout_candidates(
    hashes: np.ndarray, alone: list[int], anchors: list[int], known: set[tuple[int, int]]
) -> list[tuple[int, int]]:
    """For each row of `alone` (no duplicate found): its `LAYOUT_CANDIDATES` nearest (by the
    full hash) among the other rows of `alone` and the groups' `anchors` whose layout key is
    within `LAYOUT_DISTANCE` bits, pairs of `known` left out. Sorted by distance, nearest
    first. The second look for a page the full hash placed badly (a phone photo, a crop):
    one page per group stands for it, so that the look reaches past a template's many
    copies."""
    if not alone or len(alone) + len(anchors) < 2:
        return []
    among = np.array(sorted(alone + anchors), dtype=np.int64)
    keys = layout_keys(hashes[among])
    order = among[np.argsort(keys, kind="stable")]
    values = np.sort(keys, kind="stable")
    key_of = dict(zip(among.tolist(), keys.tolist(), strict=True))
    flips = np.array(
        [
            sum(1 << bit for bit in bits)
            for count in range(LAYOUT_DISTANCE + 1)
            for bits in combinations(range(LAYOUT_BITS * LAYOUT_BITS), count)
        ],
        dtype=np.uint16,
    )
    found: dict[tuple[int, int], int] = {}
    for i in alone:
        near = np.unique(np.uint16(key_of[i]) ^ flips)
        lo, hi = np.searchsorted(values, near), np.searchsorted(values, near, side="right")
        members = [order[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True) if b > a]
        if not members:
            continue
        peers = np.concatenate(members)
        peers = np.array(
            [j for j in peers.tolist() if j != i and (min(i, j), max(i, j)) not in known],
            dtype=np.int64,
        )
        _keep_nearest(hashes, i, peers, LAYOUT_CANDIDATES, found)
    return sorted(found, key=lambda pair: (found[pair], pair))


def layout_keys(hashes: np.ndarray) -> np.ndarray:
    """Each packed 256-bit pHash row's 16-bit layout key."""
    bits = np.unpackbits(hashes, axis=1).reshape(-1, 16, 16)[:, :LAYOUT_BITS, :LAYOUT_BITS]
    return np.packbits(bits.reshape(-1, LAYOUT_BITS * LAYOUT_BITS), axis=1).view(">u2")[:, 0]
