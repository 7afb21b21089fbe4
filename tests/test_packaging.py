"""The installed layout and a fast, MLX-free command line."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_maps_owner_folders_under_the_package(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("mlx_edugraph-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "mlx_edugraph/convert/__init__.py" in names
    assert "mlx_edugraph/tui/__init__.py" in names
    assert "mlx_edugraph/commands/label.py" in names
    top_level = {name.split("/")[0] for name in names}
    assert not top_level & {"convert", "tui", "tests"}, top_level
    # Every module in the source folders made it into the wheel.
    for folder, package in (
        ("convert", "mlx_edugraph/convert"),
        ("tui", "mlx_edugraph/tui"),
        ("mlx_edugraph", "mlx_edugraph"),
    ):
        for module in (ROOT / folder).rglob("*.py"):
            relative = module.relative_to(ROOT / folder).as_posix()
            assert f"{package}/{relative}" in names, relative


def test_bare_generic_names_are_not_importable() -> None:
    probe = "import importlib.util as u; print(u.find_spec('convert'), u.find_spec('tui'))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd="/", check=True
    )
    assert out.stdout.split() == ["None", "None"]


def test_help_does_not_import_mlx_or_textual() -> None:
    probe = (
        "import sys\n"
        "from mlx_edugraph.cli import build_parser\n"
        "try:\n    build_parser().parse_args(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('mlx', 'mlx_vlm', 'textual', 'rdflib') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout, out.stdout
    assert "label" in out.stdout


def test_tui_first_paint_needs_no_mlx() -> None:
    """The app module (everything up to the first paint) imports neither MLX nor rdflib."""
    probe = (
        "import sys\n"
        "from mlx_edugraph.tui.app import ReviewApp\n"
        "print('HEAVY', [m for m in ('mlx', 'mlx_vlm', 'rdflib', 'torch') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout, out.stdout
