"""The held-out split: part of the reviewed pages is kept back to prove a tuned model.

Stratified by Area with a fixed seed, so every Area with two or more pages is represented on
both sides and the same reviews always give the same split.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from mlx_edugraph.tuning.examples import Example

HELD_OUT = 0.2
SEED = 0
MIN_HELD_OUT = 2
MIN_TRAIN = 8


class TooFewPages(Exception):
    """Not enough reviewed pages for a held-out set; the message says how many more."""


@dataclass
class Split:
    train: list[Example]
    held_out: list[Example]


def minimum_pages(fraction: float = HELD_OUT) -> int:
    """The fewest reviewed pages that give `MIN_TRAIN` to train on and `MIN_HELD_OUT` to test."""
    pages = MIN_TRAIN + MIN_HELD_OUT
    while round(pages * fraction) < MIN_HELD_OUT or pages - round(pages * fraction) < MIN_TRAIN:
        pages += 1
    return pages


def split(examples: list[Example], fraction: float = HELD_OUT, seed: int = SEED) -> Split:
    """Hold out `fraction` of each Area's pages (rounded; none of a lone page's Area)."""
    needed = minimum_pages(fraction)
    if len(examples) < needed:
        raise TooFewPages(
            f"tuning needs at least {needed} reviewed pages (accepted or corrected) to keep "
            f"{fraction:.0%} back as a held-out test; there are {len(examples)}: review "
            f"{needed - len(examples)} more"
        )
    groups: dict[str, list[Example]] = defaultdict(list)
    for example in sorted(examples, key=lambda e: (e.sha256, e.page)):
        groups[example.area].append(example)
    rng = random.Random(seed)
    train, held_out = [], []
    for area in sorted(groups):
        pages = groups[area]
        rng.shuffle(pages)
        count = round(len(pages) * fraction) if len(pages) > 1 else 0
        held_out += pages[:count]
        train += pages[count:]
    if len(held_out) < MIN_HELD_OUT:  # many small Areas: top up from the largest ones
        spare = sorted(train, key=lambda e: -len(groups[e.area]))
        while len(held_out) < MIN_HELD_OUT:
            moved = spare.pop(0)
            train.remove(moved)
            held_out.append(moved)
    return Split(train, held_out)
