"""The output folder is written as a hidden temp folder beside it and renamed when complete, so
an interrupted or failed run never leaves a half-written model where a good one is expected."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from types import TracebackType

from .errors import ConvertError

_PARTIAL = ".partial-"


class Destination:
    """A work folder beside `path` whose `model` subfolder becomes `path` on `commit()`.

    Refuses an existing `path` unless `force`, before any work. Leaving the context without
    committing (an error, Ctrl-C) deletes the work folder; a killed run's work folder is
    deleted by the next run to the same destination.
    """

    def __init__(self, path: Path, *, force: bool = False):
        self.path = Path(path).expanduser().absolute()
        if self.path.is_file():
            raise ConvertError(f"{self.path} is a file; --out needs a folder")
        if self.path.exists() and not force:
            raise ConvertError(
                f"{self.path} already exists; pass --force to replace it "
                "(it is kept until the new model is complete)"
            )
        # --force replaces models, never a folder of something else.
        has_files = self.path.is_dir() and any(self.path.iterdir())
        if has_files and not (self.path / "config.json").is_file():
            raise ConvertError(f"{self.path} exists and is not a model folder; not replacing it")
        prefix = f".{self.path.name}{_PARTIAL}"
        self.work = self.path.parent / f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.model = self.work / "model"
        self.scratch = self.work / "scratch"
        self._prefix = prefix

    def check_apart_from(self, source: Path) -> None:
        """Refuse a destination that is, holds or sits inside the source checkpoint."""
        target, source = self.path.resolve(), source.resolve()
        if target == source or target in source.parents or source in target.parents:
            raise ConvertError(f"--out {self.path} overlaps the source checkpoint {source}")

    def __enter__(self) -> Destination:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale()
        self.model.mkdir(parents=True)
        self.scratch.mkdir()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    def commit(self) -> Path:
        """Move the finished model into place (replacing an old one only now)."""
        old = None
        if self.path.exists():
            old = self.work / "replaced"
            os.replace(self.path, old)
        try:
            os.replace(self.model, self.path)
        except BaseException:
            if old is not None:
                os.replace(old, self.path)
            raise
        return self.path

    def _remove_stale(self) -> None:
        for folder in self.path.parent.glob(f"{self._prefix}*"):
            pid = folder.name[len(self._prefix) :].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
