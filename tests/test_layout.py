"""The tree shows the data flow: each stage imports only earlier stages and the shared records,
the library never imports Textual, and only the mlx-vlm seams import mlx-vlm. Read from the
source (every import, including those inside functions), so a lazy import cannot slip past."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SHARED = (
    "mlx_edugraph",
    "mlx_edugraph.paths",
    "mlx_edugraph.prediction",
    "mlx_edugraph.errors",
    "mlx_edugraph.stopping",
)
"""The package itself (its version) and the records every stage shares (the user error and
the stop signal too)."""

STAGES = (
    "pages",
    "labels",
    "store",
    "labelstudio",
    "model",
    "servers",
    "labeling",
    "convert",
    "tinymodel",
    "evaluation",
    "tuning",
    "ml_backend",
    "benchmarks",
    "tui",
    "commands",
    "cli",
)
"""In data-flow order: a module may import its own stage and the stages before it."""

UI_FREE = set(STAGES) - {"tui"}
"""Every stage but the app itself never imports Textual (`commands/tui.py` imports the app)."""

MLX_VLM_SEAMS = (
    "mlx_edugraph.model.vlm",
    "mlx_edugraph.model.vlm_baseline",
    "mlx_edugraph.model.vlm_training",
    "mlx_edugraph.convert.backend",
)
"""Inference, the benchmarks' naive baseline, adapter training, conversion: one job each."""

BESIDE_INFERENCE = ("mlx_edugraph.model.vlm_baseline", "mlx_edugraph.model.vlm_training")
"""Built on the inference seam, never under it: no module of the model stage imports them, so
the engine's path loads no baseline or training code."""


def _modules() -> dict[str, Path]:
    """Every module of the installed package, by dotted name, mapped to its source file."""
    found = {}
    for folder, package in (
        ("mlx_edugraph", "mlx_edugraph"),
        ("convert", "mlx_edugraph.convert"),
        ("tui", "mlx_edugraph.tui"),
    ):
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


MODULES = _modules()


def _stage(module: str) -> str | None:
    """The stage a module of ours belongs to; None for the shared records."""
    if module in SHARED:
        return None
    if module == "mlx_edugraph.__main__":
        return "cli"
    first = module.split(".")[1]
    assert first in STAGES, f"{module} is in no stage: add it to STAGES or SHARED"
    return first


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # `from pkg import name` may import the module pkg.name
            names = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            found += [(node.lineno, name) for name in names or [base]]
    return found


def _ours(name: str) -> str | None:
    """The module of ours that an import names (a name inside it counts as the module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _violations(check) -> list[str]:
    found = []
    for module, path in MODULES.items():
        for line, imported in _imports(module, path):
            problem = check(module, imported)
            if problem:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {imported}: {problem}")
    return found


def _stage_order(module: str, imported: str) -> str | None:
    target = _ours(imported)
    if target is None:
        return None
    here, there = _stage(module), _stage(target)
    if here is None and there is not None:
        return f"the shared records import no stage (here: {module})"
    if here is None or there is None:
        return None
    if STAGES.index(there) > STAGES.index(here):
        return f"stage '{here}' may not import the later stage '{there}'"
    return None


def _textual(module: str, imported: str) -> str | None:
    stage = _stage(module)
    if imported.split(".")[0] in ("textual", "textual_image") and (stage in UI_FREE or not stage):
        return "the library never imports Textual (only tui/ does)"
    return None


def _mlx_vlm(module: str, imported: str) -> str | None:
    if imported.split(".")[0] == "mlx_vlm" and module not in MLX_VLM_SEAMS:
        return f"only the seams {', '.join(MLX_VLM_SEAMS)} import mlx-vlm"
    return None


def _inference_apart(module: str, imported: str) -> str | None:
    if _ours(imported) in BESIDE_INFERENCE and _stage(module) == "model":
        return "the model stage runs inference only (baseline and training build on it)"
    return None


@pytest.mark.parametrize(
    "check", [_stage_order, _textual, _mlx_vlm, _inference_apart], ids=lambda c: c.__name__
)
def test_imports_follow_the_data_flow(check) -> None:
    problems = _violations(check)
    assert not problems, "\n".join(problems)


def test_the_checks_catch_what_they_guard() -> None:
    """Each rule, given an import that breaks it, names the offending import."""
    assert "later stage 'store'" in _stage_order(
        "mlx_edugraph.pages.worksheets", "mlx_edugraph.store.sqlite_store.Store"
    )
    assert _stage_order("mlx_edugraph.store.sqlite_store", "mlx_edugraph.pages.worksheets") is None
    assert "shared records" in _stage_order("mlx_edugraph.prediction", "mlx_edugraph.labels.answer")
    assert "Textual" in _textual("mlx_edugraph.labeling.batch", "textual.app")
    assert _textual("mlx_edugraph.tui.app", "textual.app") is None
    assert "seams" in _mlx_vlm("mlx_edugraph.model.mlx_engine", "mlx_vlm.utils")
    assert _mlx_vlm("mlx_edugraph.model.vlm", "mlx_vlm.utils") is None
    assert _mlx_vlm("mlx_edugraph.model.vlm_training", "mlx_vlm.trainer.api") is None
    assert "inference only" in _inference_apart(
        "mlx_edugraph.model.vlm", "mlx_edugraph.model.vlm_training.AdapterSettings"
    )
    assert _inference_apart("mlx_edugraph.tuning.run", "mlx_edugraph.model.vlm_training") is None


def test_every_seam_is_one() -> None:
    """A seam listed is a module of ours that imports mlx-vlm: a rename cannot leave a stale
    entry that lets another module in."""
    for seam in MLX_VLM_SEAMS:
        assert seam in MODULES, f"{seam} is no module"
        imported = [name for _, name in _imports(seam, MODULES[seam])]
        assert any(name.split(".")[0] == "mlx_vlm" for name in imported), f"{seam}: no mlx-vlm"


def test_every_subpackage_says_its_job() -> None:
    for module, path in MODULES.items():
        if path.name == "__init__.py":
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            summary = doc.split("\n\n")[0].splitlines()
            assert 1 <= len(summary) <= 2, f"{module}: its job in one or two lines"


def test_fingerprints_are_made_in_the_model_stage_only() -> None:
    """A model's identity is its `ModelChoice`'s fingerprint: no other stage computes one."""
    calls = []
    for module, path in MODULES.items():
        if module.startswith("mlx_edugraph.model."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "model_fingerprint":
                calls.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not calls, calls
