"""Nearest pages and near-duplicates by cosine similarity of the stored page vectors.

Exact brute force with numpy over one model's vectors: at 100,000 pages of the 4B model's
width a query takes a fraction of a second (docs/similar.md has the measurement against
sqlite-vec), so no approximate index is needed. Vectors of different models are never mixed:
an index holds one model fingerprint's vectors only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlx_edugraph.store.sqlite_store import Store

DUPLICATE_THRESHOLD = 0.9975
"""Cosine similarity from which two pages are near-duplicates. On both builds of the taught
tiny model (docs/similar.md), every JPEG, resized and 2°-rotated copy of a page scored at least
0.9981 with it, and every page of another kind at most 0.9970. The real model could not be
measured here: calibrate on its own re-scans (`duplicates --threshold`)."""

BLOCK_ROWS = 2048
"""Rows compared at once when looking for duplicates: bounds memory to a block x n matrix."""

Page = tuple[str, int]
"""A stored page: (content key, page number)."""


class NoVectors(Exception):
    """The store holds no vectors to compare with; the message says why and what to run."""


@dataclass
class Neighbour:
    """A stored page near the asked one."""

    page: Page
    similarity: float


@dataclass
class VectorIndex:
    """One model's page vectors as a float32 matrix of unit rows (as the store keeps them)."""

    model_fingerprint: str
    pages: list[Page]
    matrix: np.ndarray

    @classmethod
    def load(cls, store: Store, model_fingerprint: str) -> VectorIndex:
        """Every vector `model_fingerprint` made in `store` (the index may be empty)."""
        pages, blob, count = store.vectors(model_fingerprint)
        # Stored vectors are unit length already (the engine scales them): no pass over them.
        matrix = np.frombuffer(blob, dtype="<f2").astype(np.float32).reshape(count, -1)
        return cls(model_fingerprint, pages, matrix)

    def __len__(self) -> int:
        return len(self.pages)

    def vector_of(self, page: Page) -> np.ndarray | None:
        """The stored unit vector of a page, or None."""
        row = self._row_of.get(page)
        return None if row is None else self.matrix[row]

    def __post_init__(self) -> None:
        self._row_of = {page: row for row, page in enumerate(self.pages)}

    def nearest(self, vector: np.ndarray, k: int, *, skip: Page | None = None) -> list[Neighbour]:
        """The `k` most similar stored pages to `vector`, most similar first (`skip` left out)."""
        if not len(self):
            return []
        query = unit_rows(np.asarray(vector, dtype=np.float32)[None, :])[0]
        if query.shape[0] != self.matrix.shape[1]:
            raise ValueError(
                f"vector of width {query.shape[0]} against stored width {self.matrix.shape[1]}"
            )
        scores = np.minimum(self.matrix @ query, 1.0)  # float16 rows can exceed it a little
        if skip is not None and skip in self._row_of:
            scores[self._row_of[skip]] = -np.inf
        count = min(k, len(self) - (skip in self._row_of))
        if count <= 0:
            return []
        top = np.argpartition(-scores, count - 1)[:count]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [Neighbour(self.pages[i], float(scores[i])) for i in top]

    def duplicate_groups(
        self, threshold: float = DUPLICATE_THRESHOLD, among: set[Page] | None = None
    ) -> list[list[Neighbour]]:
        """Groups of pages linked by similarity >= `threshold` (a link to any member joins a
        group), each sorted by its pages' best link, largest groups first. `among` limits the
        pages looked at."""
        rows = [i for i, page in enumerate(self.pages) if among is None or page in among]
        matrix = self.matrix[rows]
        parent = list(range(len(rows)))
        best = np.full(len(rows), -1.0)

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for start in range(0, len(rows), BLOCK_ROWS):
            scores = np.minimum(matrix[start : start + BLOCK_ROWS] @ matrix.T, 1.0)
            for offset, other in zip(*np.nonzero(scores >= threshold), strict=True):
                one = start + int(offset)
                if one < other:
                    parent[root(one)] = root(int(other))
                    score = float(scores[offset, other])
                    best[one], best[other] = max(best[one], score), max(best[other], score)
        groups: dict[int, list[Neighbour]] = {}
        for i in range(len(rows)):
            if best[i] >= 0:
                groups.setdefault(root(i), []).append(
                    Neighbour(self.pages[rows[i]], float(best[i]))
                )
        found = [sorted(g, key=lambda n: (-n.similarity, n.page)) for g in groups.values()]
        return sorted(found, key=lambda g: (-len(g), g[0].page))


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero): cosine becomes a dot product."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def choose_model(store: Store, wanted: str | None) -> str:
    """The fingerprint whose vectors to compare: `wanted` (the local model's) when given, else
    the model with the newest vector. `NoVectors` when the store has none of it."""
    models = store.vector_models()
    if wanted is not None and wanted in models:
        return wanted
    if store.is_empty() and not models:
        raise NoVectors(f"the store {store.path} has no pages yet: label some worksheets first")
    if not models:
        raise NoVectors(
            f"no page in {store.path} has a vector (pages labeled through --server have none): "
            "run `mlx-edugraph embed` with the local model"
        )
    if wanted is None:
        return models[0]
    raise NoVectors(
        f"the store's vectors come from other model versions ({', '.join(models)}), not from "
        f"this one ({wanted}); vectors of different models are never compared: run "
        "`mlx-edugraph embed` to make this model's"
    )
