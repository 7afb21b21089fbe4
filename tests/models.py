"""Session fixtures: tiny Qwen3-VL models, built once per test session and downloaded never.

- `tiny_checkpoint`: random weights, Hugging Face layout, the real EduGraph chat template
  (`../shared`) or, in a lone checkout, the tiny stand-in.
- `tiny_mlx_model`: that checkpoint converted to MLX, bf16, unquantized.
- `taught_checkpoint`: taught `TAUGHT_ANSWERS` for the sample worksheet kinds, HF layout.
- `taught_mlx_model`: the taught checkpoint in 4-bit MLX (group 64): the demo model.

The taught pair comes from `demo_model` itself (built into a temp cache), so the demo build is
exercised too. Building all four takes about two minutes on two CPU cores. Developers who run
the suite often can set `MLX_EDUGRAPH_TEST_CACHE` to a folder that keeps the demo build between
sessions (its entry name hashes everything that shapes the model); CI leaves it unset.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest

from mlx_edugraph.tinymodel.template import TEMPLATE_ENV_VAR, read_chat_template
from tests.ontology_files import shared_file

TEST_CACHE_ENV_VAR = "MLX_EDUGRAPH_TEST_CACHE"

REAL_TEMPLATE = shared_file("model/chat_template.jinja")
"""The EduGraph model's real chat template from `../shared`, or None: then the tiny models get
the tiny stand-in template (`tinymodel.template.FALLBACK_TEMPLATE`)."""

CHAT_TEMPLATE_TEXT = read_chat_template(REAL_TEMPLATE)
"""The text of the chat template the tiny models carry."""


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight tiny Qwen3-VL checkpoint in Hugging Face layout."""
    from mlx_edugraph.tinymodel import build_checkpoint

    dest = tmp_path_factory.mktemp("tiny") / "checkpoint"
    return build_checkpoint(dest, chat_template=REAL_TEMPLATE)


@pytest.fixture(scope="session")
def tiny_mlx_model(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The random tiny checkpoint converted to MLX in bf16 (not quantized)."""
    from mlx_edugraph.tinymodel.mlx_conversion import quantize

    dest = tmp_path_factory.mktemp("tiny-mlx") / "model"
    with contextlib.redirect_stdout(io.StringIO()):
        return quantize(tiny_checkpoint, dest, bits=None, dtype="bfloat16")


@pytest.fixture(scope="session")
def demo_entry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo build's cache entry (`hf/` and `mlx/`), taught with the real chat template."""
    from mlx_edugraph.tinymodel import demo_model

    kept = os.environ.get(TEST_CACHE_ENV_VAR)
    cache = Path(kept) if kept else tmp_path_factory.mktemp("model-cache")
    previous = os.environ.get(TEMPLATE_ENV_VAR)
    if REAL_TEMPLATE is not None:
        os.environ[TEMPLATE_ENV_VAR] = str(REAL_TEMPLATE)
    try:
        return demo_model(cache).parent
    finally:
        if previous is None:
            os.environ.pop(TEMPLATE_ENV_VAR, None)
        else:
            os.environ[TEMPLATE_ENV_VAR] = previous


@pytest.fixture(scope="session")
def taught_checkpoint(demo_entry: Path) -> Path:
    """The tiny checkpoint taught `TAUGHT_ANSWERS`, in Hugging Face layout (float32)."""
    return demo_entry / "hf"


@pytest.fixture(scope="session")
def taught_mlx_model(demo_entry: Path) -> Path:
    """The taught checkpoint converted to 4-bit MLX, group size 64 (vision tower unquantized)."""
    return demo_entry / "mlx"
