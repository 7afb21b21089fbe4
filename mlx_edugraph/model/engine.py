"""What labeling needs of an engine, local (`MlxEngine`) or on servers (`RemoteEngine`)."""

from __future__ import annotations

from typing import Protocol

from mlx_edugraph.pages.worksheets import LoadedWorksheet
from mlx_edugraph.prediction import Prediction, Provenance


class Engine(Protocol):
    """A loaded model that labels worksheet pages."""

    provenance: Provenance
    """Which model, version, prompt and ontology its predictions carry (the fingerprint too)."""
    max_pixels: int
    """The resolution cap pages are loaded under before `label`."""
    load_s: float
    """Seconds it took to become ready (weights loaded, servers probed)."""

    @property
    def in_flight(self) -> int:
        """Pages to keep in flight at once: 0 when `label` must run on the thread that made
        the engine (MLX streams are per thread), else how many threads may call `label`."""
        ...

    def label(self, sheet: LoadedWorksheet) -> Prediction:
        """Label one loaded page; raises when the model fails on it."""
        ...
