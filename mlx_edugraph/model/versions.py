"""Model versions: a converted base model and the LoRA adapters `tune` trained on top of it.

Each base model folder has its own list, kept under the data folder by the base's fingerprint:
`versions/<base fingerprint>/v1/` holds an adapter, its `version.json` (provenance and held-out
scores) and `report.md`; `current.json` names the version `label` and `tui` use ("base" when
absent). A version folder appears whole (built beside it and renamed) and `current.json` is
replaced atomically, so a run killed at any point leaves the current model as it was.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlx_edugraph.model.choice import BASE, ModelChoice
from mlx_edugraph.model.fingerprint import model_fingerprint
from mlx_edugraph.paths import data_dir, write_atomic

RECORD = "version.json"
REPORT = "report.md"
CURRENT = "current.json"
_NAME = re.compile(r"^v(\d+)$")


class VersionError(Exception):
    """A version that does not exist or cannot be used; the message says which."""


@dataclass(frozen=True)
class Version:
    """One tuned version: its folder and the record `tune` wrote."""

    name: str
    folder: Path
    record: dict

    @property
    def number(self) -> int:
        return int(self.name[1:])

    @property
    def fingerprint(self) -> str:
        return self.record.get("fingerprint", "")

    @property
    def promoted(self) -> bool:
        """Whether `tune` judged it better than the model it was measured against."""
        return bool(self.record.get("promoted"))


def versions_dir(base: str | Path) -> Path:
    """Where the versions of the base model at `base` live."""
    return data_dir() / "versions" / model_fingerprint(Path(base))


def list_versions(base: str | Path) -> list[Version]:
    """Every finished tuned version of `base`, oldest first."""
    root = versions_dir(base)
    found = []
    if root.is_dir():
        for folder in root.iterdir():
            if _NAME.match(folder.name) and (folder / RECORD).is_file():
                record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
                found.append(Version(folder.name, folder, record))
    return sorted(found, key=lambda version: version.number)


def get_version(base: str | Path, name: str) -> Version | None:
    """The version named `name` (None for "base"); `VersionError` when there is no such one."""
    if name == BASE:
        return None
    for version in list_versions(base):
        if version.name == name:
            return version
    known = ", ".join([BASE] + [v.name for v in list_versions(base)])
    raise VersionError(f"no model version {name!r} (known: {known})")


def current_name(base: str | Path) -> str:
    """The name of the version in use: "base" until one is promoted or chosen."""
    path = versions_dir(base) / CURRENT
    if not path.is_file():
        return BASE
    return json.loads(path.read_text(encoding="utf-8")).get("version", BASE)


def use_version(base: str | Path, name: str) -> None:
    """Make `name` ("base" or "vN") the version `label` and `tui` use (atomic)."""
    get_version(base, name)  # refuses unknown names
    _write_json(versions_dir(base) / CURRENT, {"version": name})


def choose(base: str | Path) -> ModelChoice:
    """The model to load for `base`: its current version (the base if that one is gone, or
    for a Hugging Face repo id, which has no local versions)."""
    if not Path(base).is_dir():
        return ModelChoice(str(base), None, BASE)
    name = current_name(base)
    try:
        version = get_version(base, name)
    except VersionError:
        version = None
    if version is None:
        return ModelChoice(str(base), None, BASE)
    return ModelChoice(str(base), version.folder, version.name)


def choice_of(base: str | Path, name: str) -> ModelChoice:
    """The model of one named version of `base`."""
    version = get_version(base, name)
    return ModelChoice(str(base), version.folder if version else None, name)


def family(base: str | Path) -> dict[str, str]:
    """Fingerprint -> version name, for the base and every tuned version of it."""
    names = {model_fingerprint(Path(base)): BASE}
    names.update({v.fingerprint: v.name for v in list_versions(base) if v.fingerprint})
    return names


def install(
    base: str | Path, staging: Path, record: dict, report: Callable[[dict], str]
) -> Version:
    """Give the finished adapter folder `staging` the next version name, with `record` and
    the `report` text written from it.

    Both are written into `staging` first and the folder renamed into place last: a version
    either exists whole or not at all.
    """
    root = versions_dir(base)
    root.mkdir(parents=True, exist_ok=True)
    while True:
        taken = [int(m[1]) for p in root.iterdir() if (m := _NAME.match(p.name))]
        name = f"v{max(taken, default=0) + 1}"
        named = {**record, "name": name}
        _write_json(staging / RECORD, named)
        write_atomic(staging / REPORT, report(named).encode())
        try:
            os.rename(staging, root / name)
        except OSError:
            if (root / name).exists():
                continue  # another run took the name first
            raise
        return Version(name, root / name, named)


def _write_json(path: Path, record: dict) -> None:
    write_atomic(path, (json.dumps(record, indent=2) + "\n").encode())
