"""`mlx_edugraph.json` in a converted model's folder: which checkpoint, how it was converted, and
how it verified, so that every label can name exactly the model that produced it."""

from __future__ import annotations

import datetime
import hashlib
import json
from importlib import metadata
from pathlib import Path

FILE_NAME = "mlx_edugraph.json"
FORMAT = 1


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks (weight shards are gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of the packages that shape the converted weights."""
    found = {}
    for package in ("mlx", "mlx-vlm", "mlx-edugraph"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "unknown"
    return found


def now() -> str:
    """The conversion date: UTC, ISO 8601, to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_provenance(folder: Path, record: dict) -> None:
    """Write `record` as the model folder's `mlx_edugraph.json`."""
    (folder / FILE_NAME).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def read_provenance(folder: Path) -> dict | None:
    """The record of a converted model folder; None for models converted elsewhere."""
    try:
        record = json.loads((Path(folder) / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def describe(record: dict) -> str:
    """One line for people: source@revision, quantization, AWQ, adapter, versions, date."""
    source = record.get("source", "?")
    if record.get("revision"):
        source += f"@{record['revision'][:10]}"
    quant = record.get("quantization")
    if quant is None:
        how = f"unquantized {record.get('dtype', '')}".strip()
    elif quant.get("recipe"):
        how = f"{quant['recipe']} (group size {quant['group_size']})"
    else:
        how = f"{quant['bits']}-bit (group size {quant['group_size']})"
    if quant and quant.get("awq"):
        how += ", AWQ"
    if record.get("adapter"):
        how += ", + LoRA adapter"
    found = record.get("versions", {})
    return (
        f"{source}, {how}, mlx {found.get('mlx', '?')} / mlx-vlm {found.get('mlx-vlm', '?')}, "
        f"{str(record.get('created', '?'))[:10]}"
    )
