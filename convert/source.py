"""Where a checkpoint comes from: a local folder, or a Hugging Face repository downloaded to the
hub cache (resumable; huggingface-hub draws the progress bars), checked before the weights come.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import (
    check_architecture,
    check_no_remote_code,
    missing_files,
    read_config,
    read_json,
)
from .errors import ConvertError

METADATA_PATTERNS = ["*.json", "*.jinja", "*.txt", "*.model", "*.tiktoken", "*.md", "LICENSE*"]
"""Everything but the weights: small files fetched first, so the checks run before gigabytes."""

WEIGHT_PATTERNS = ["*.safetensors"]

_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Source:
    """A checkpoint available locally, and how to name where it came from."""

    name: str
    """The repository id, or the absolute path of a local folder."""
    folder: Path
    revision: str | None = None
    """The commit downloaded, for a repository."""

    @property
    def is_repo(self) -> bool:
        """Whether the checkpoint came from a Hugging Face repository."""
        return self.revision is not None


def resolve_source(source: str, *, revision: str | None = None) -> Source:
    """A local folder as is, or a repository id downloaded (or found in the hub cache)."""
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ConvertError(f"{path} is a file; give the checkpoint's folder")
        if revision:
            raise ConvertError("--revision applies to Hugging Face repositories, not folders")
        return Source(str(path.resolve()), path.resolve())
    if not _REPO_ID.match(source) or source.startswith("."):
        raise ConvertError(f"no such folder: {path} (nor is it a Hugging Face repo id)")
    return download(source, revision=revision)


def download(repo_id: str, *, revision: str | None = None) -> Source:
    """Fetch the small files, check them, then fetch the weights of the same commit."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import DryRunError, HfHubHTTPError, LocalEntryNotFoundError

    try:
        meta = Path(snapshot_download(repo_id, revision=revision, allow_patterns=METADATA_PATTERNS))
        commit = meta.name
        config = read_config(meta)
        check_architecture(config, repo_id)
        check_no_remote_code(meta, repo_id)
        try:
            plan = snapshot_download(
                repo_id,
                revision=commit,
                allow_patterns=METADATA_PATTERNS + WEIGHT_PATTERNS,
                dry_run=True,
            )
        except DryRunError:
            plan = None  # offline: whatever is needed must already be cached
        if plan is not None:
            names = {Path(item.filename).name for item in plan}
            missing = missing_files(names, read_json(meta / "tokenizer_config.json"))
            if missing:
                raise ConvertError(
                    f"{repo_id} is missing files the conversion needs: {'; '.join(missing)}"
                )
            needed = sum(item.file_size or 0 for item in plan if item.will_download)
            check_free_space(meta, needed, "to download the checkpoint")
        folder = Path(
            snapshot_download(
                repo_id, revision=commit, allow_patterns=METADATA_PATTERNS + WEIGHT_PATTERNS
            )
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
        # Hugging Face's messages run over several lines: one `error:` line says it all.
        reason = " ".join(str(exc).split())
        raise ConvertError(
            f"could not download {repo_id} (convert needs the network once): {reason}"
        ) from exc
    return Source(repo_id, folder, commit)


def check_free_space(folder: Path, needed: int, purpose: str) -> None:
    """Refuse early when the disk holding `folder` has less than `needed` bytes free."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed > free:
        raise ConvertError(
            f"not enough disk space {purpose}: {needed / 1e9:.1f} GB needed, "
            f"{free / 1e9:.1f} GB free on the disk holding {probe}"
        )


def hub_checksums(source: Source) -> dict[str, str] | None:
    """SHA-256 of each weight file, for free: the hub cache names large files by their hash."""
    if not source.is_repo:
        return None
    sums = {}
    for path in sorted(source.folder.glob("*.safetensors")):
        blob = Path(os.path.realpath(path)).name
        if not _SHA256.match(blob):
            return None
        sums[path.name] = blob
    return sums


def stage(source_folder: Path, config: dict, staging: Path) -> Path:
    """A folder mlx-vlm reads as the checkpoint with `config`: links to every other file.

    The source folder (possibly the hub cache) is never written to.
    """
    staging.mkdir(parents=True)
    for path in source_folder.iterdir():
        if path.name != "config.json" and path.is_file():
            (staging / path.name).symlink_to(path.resolve())
    (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return staging
