"""The installed layout and a fast, MLX-free command line."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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
        "print('HEAVY', [m for m in ('mlx', 'mlx_vlm', 'rdflib', 'torch') if sys.modules.get(m)])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout, out.stdout


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="needs Python 3.11's tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_build_requires_a_setuptools_that_reads_the_license_string() -> None:
    from packaging.requirements import Requirement

    project = _pyproject()
    assert isinstance(project["project"]["license"], str)  # an SPDX expression (PEP 639)
    [setuptools] = [
        Requirement(r) for r in project["build-system"]["requires"] if r.startswith("setuptools")
    ]
    # setuptools 77 is the first to accept `license = "<SPDX>"` with `license-files`.
    assert not any(setuptools.specifier.contains(f"{major}.99") for major in range(60, 77))
    assert setuptools.specifier.contains("77.0.0")


def test_package_data_names_files_that_exist() -> None:
    tool = _pyproject()["tool"]["setuptools"]
    for package, patterns in tool.get("package-data", {}).items():
        folder = ROOT / tool["package-dir"].get(package, package.replace(".", "/"))
        for pattern in patterns:
            assert list(folder.glob(pattern)), f"{package}: {pattern} matches no file in {folder}"


def test_runtime_dependencies_are_ranges_and_test_pins_stay_in_the_test_extra() -> None:
    from packaging.requirements import Requirement

    project = _pyproject()["project"]
    for text in project["dependencies"]:
        requirement = Requirement(text)
        assert not any(spec.operator == "==" for spec in requirement.specifier), text
    pinned = {Requirement(r).name for r in project["optional-dependencies"]["test"] if "==" in r}
    assert {"textual", "textual-image", "pytest-textual-snapshot"} <= pinned
