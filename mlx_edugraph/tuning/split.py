"""The held-out split: part of the reviewed pages is kept back to prove a tuned model.

Stratified by Area with a fixed seed, so every Area with two or more pages is represented on
both sides and the same reviews always give the same split. Copies of one printed sheet (a
duplicate group, `store.sheet_duplicates`) stay on one side: a held-out copy of a training page
would prove nothing.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from mlx_edugraph.store.sqlite_store import Store
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


def split(
    examples: list[Example],
    fraction: float = HELD_OUT,
    seed: int = SEED,
    together: Iterable[Iterable[tuple[str, int]]] = (),
) -> Split:
    """Hold out `fraction` of each Area's pages (rounded; none of a lone page's Area), keeping
    the pages of each group of `together` (content key, page) on one side."""
    needed = minimum_pages(fraction)
    if len(examples) < needed:
        raise TooFewPages(
            f"tuning needs at least {needed} reviewed pages (accepted or corrected) to keep "
            f"{fraction:.0%} back as a held-out test; there are {len(examples)}: review "
            f"{needed - len(examples)} more"
        )
    group_of = {page: n for n, group in enumerate(together) for page in group}
    units: dict[object, list[Example]] = {}
    for example in sorted(examples, key=lambda e: (e.sha256, e.page)):
        page = (example.sha256, example.page)
        units.setdefault(("group", group_of[page]) if page in group_of else page, []).append(
            example
        )
    by_area: dict[str, list[list[Example]]] = defaultdict(list)
    for unit in units.values():
        by_area[unit[0].area].append(unit)
    rng = random.Random(seed)
    train: list[list[Example]] = []
    held_out: list[list[Example]] = []
    for area in sorted(by_area):
        area_units = by_area[area]
        rng.shuffle(area_units)
        pages = sum(len(unit) for unit in area_units)
        count = round(pages * fraction) if len(area_units) > 1 else 0
        held = 0
        for unit in area_units:
            (held_out if held < count else train).append(unit)
            held += len(unit) if held < count else 0
    if sum(map(len, held_out)) < MIN_HELD_OUT:  # many small Areas: top up from the largest
        spare = sorted(train, key=lambda unit: -len(by_area[unit[0].area]))
        while sum(map(len, held_out)) < MIN_HELD_OUT and spare:
            moved = spare.pop(0)
            train.remove(moved)
            held_out.append(moved)
    return Split([e for unit in train for e in unit], [e for unit in held_out for e in unit])


def duplicate_sheets(examples: list[Example], store: Store | None) -> list[list]:
    """The groups of examples that are the same printed sheet (signatures from the store, or
    made from the files; a page that cannot be read is left to training to report): what
    `split` keeps on one side."""
    from mlx_edugraph.store.sheet_duplicates import SheetPage, sheet_duplicates

    pages = [SheetPage(e.sha256, e.page, str(e.path)) for e in examples]
    return sheet_duplicates(pages, store).groups
