"""Tiny Qwen3-VL checkpoints for tests, the demo mode and benchmarks; no downloads needed.

- `build_checkpoint`: a random-weight checkpoint of the real architecture in Hugging Face
  layout, of any `ModelShape` (`TINY`, `SMALL`, `QWEN3VL_4B`).
- `teach`: teaches a tiny checkpoint `TAUGHT_ANSWERS` for the sample worksheets, with MLX.
- `demo_model`: the taught model in 4-bit MLX, built once into the user cache.

Importing this package does not import MLX or mlx-vlm; the functions do, when called.
"""

from mlx_edugraph.tinymodel.answers import TAUGHT_ANSWERS
from mlx_edugraph.tinymodel.checkpoint import build_checkpoint, build_tokenizer
from mlx_edugraph.tinymodel.demo import DEMO_PAGE_SIZE, demo_checkpoint, demo_model
from mlx_edugraph.tinymodel.probe import ProbeResult, probe
from mlx_edugraph.tinymodel.shapes import PRESETS, QWEN3VL_4B, SMALL, TINY, ModelShape
from mlx_edugraph.tinymodel.teach import TEACH_SEEDS, TEACH_SIZE, teach

__all__ = [
    "DEMO_PAGE_SIZE",
    "PRESETS",
    "QWEN3VL_4B",
    "SMALL",
    "TAUGHT_ANSWERS",
    "TEACH_SEEDS",
    "TEACH_SIZE",
    "TINY",
    "ModelShape",
    "ProbeResult",
    "build_checkpoint",
    "build_tokenizer",
    "demo_checkpoint",
    "demo_model",
    "probe",
    "teach",
]
