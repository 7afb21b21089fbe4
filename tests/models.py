"""Session fixtures: tiny Qwen3-VL models, built once per test session and downloaded never.

- `tiny_checkpoint`: random weights, Hugging Face layout, the real EduGraph chat template
  (`../shared`) or, in a lone checkout, the tiny stand-in.
- `tiny_mlx_model`: that checkpoint converted to MLX, bf16, unquantized.
- `taught_checkpoint`: taught `TAUGHT_ANSWERS` for the sample worksheet kinds, HF layout.
- `taught_mlx_model`: the taught checkpoint in 4-bit MLX (group 64): the demo model.

The taught pair comes from `demo_model` itself (built into a temp cache), so the demo build is
exercised too. Building all four takes about two minutes on two CPU cores. Under pytest-xdist
the workers of one run share the builds: the first worker to need one builds it under a file
lock, the others wait and read it. `MLX_EDUGRAPH_TEST_CACHE` names a folder that keeps the demo
build between sessions (its entry name hashes everything that shapes the model): CI points it
at the cache its demo command just built into, so the tests read the model the demo made.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from mlx_edugraph.tinymodel.template import TEMPLATE_ENV_VAR, read_chat_template
from tests.ontology_files import shared_file

TEST_CACHE_ENV_VAR = "MLX_EDUGRAPH_TEST_CACHE"

REAL_TEMPLATE = shared_file("model/chat_template.jinja")
"""The EduGraph model's real chat template from `../shared`, or None: then the tiny models get
the tiny stand-in template (`tinymodel.template.FALLBACK_TEMPLATE`)."""

CHAT_TEMPLATE_TEXT = read_chat_template(REAL_TEMPLATE)
"""The text of the chat template the tiny models carry."""


def _run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this test run that every xdist worker sees (the workers' basetemps share
    a parent); the session's own basetemp without xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _built_once(folder: Path, name: str, build: Callable[[Path], object]) -> Path:
    """`folder/name`, which `build(dest)` makes: once, by whichever worker asks first. It is
    built beside its final place and renamed there, so a waiting worker never reads a half."""
    final = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / f".{name}.lock"):
        if not final.exists():
            with tempfile.TemporaryDirectory(dir=folder, prefix=f".{name}-") as tmp:
                work = Path(tmp) / name
                build(work)
                os.rename(work, final)
    return final


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight tiny Qwen3-VL checkpoint in Hugging Face layout."""
    from mlx_edugraph.tinymodel import build_checkpoint

    def build(dest: Path) -> None:
        build_checkpoint(dest, chat_template=REAL_TEMPLATE)

    return _built_once(_run_folder(tmp_path_factory) / "tiny", "checkpoint", build)


@pytest.fixture(scope="session")
def tiny_mlx_model(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The random tiny checkpoint converted to MLX in bf16 (not quantized)."""
    from mlx_edugraph.tinymodel.mlx_conversion import quantize

    def build(dest: Path) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            quantize(tiny_checkpoint, dest, bits=None, dtype="bfloat16")

    return _built_once(_run_folder(tmp_path_factory) / "tiny-mlx", "model", build)


@pytest.fixture(scope="session")
def demo_entry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo build's cache entry (`hf/` and `mlx/`), taught with the real chat template."""
    from mlx_edugraph.tinymodel import demo_model

    kept = os.environ.get(TEST_CACHE_ENV_VAR)
    cache = Path(kept) if kept else _run_folder(tmp_path_factory) / "model-cache"
    cache.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get(TEMPLATE_ENV_VAR)
    if REAL_TEMPLATE is not None:
        os.environ[TEMPLATE_ENV_VAR] = str(REAL_TEMPLATE)
    try:
        # One build for all workers: the others wait here, then find the finished entry.
        with FileLock(cache / ".demo-build.lock"):
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
