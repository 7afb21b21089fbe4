"""Checks on a merged checkpoint in Hugging Face layout, made before any long work starts.

Reading a 9 GB checkpoint only to fail on its last shard wastes minutes; everything here reads
file names, config files and safetensors headers only.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from mlx_edugraph.model.remote_code import remote_code_refusal

from .errors import ConvertError

ARCHITECTURE = "Qwen3VLForConditionalGeneration"
MODEL_TYPE = "qwen3_vl"
INDEX_FILE = "model.safetensors.index.json"

_DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}
_MAX_HEADER_BYTES = 100 << 20
"""The safetensors format's own limit on the JSON header."""


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as a safetensors header describes it."""

    dtype: str
    shape: tuple[int, ...]
    file: str


@dataclass(frozen=True)
class Checkpoint:
    """A checked checkpoint folder: its config and every weight tensor's name, dtype and shape."""

    folder: Path
    config: dict
    tensors: dict[str, TensorInfo]
    weight_files: tuple[Path, ...]

    @property
    def weight_bytes(self) -> int:
        """Size of the weight files on disk."""
        return sum(path.stat().st_size for path in self.weight_files)


def read_config(folder: Path) -> dict:
    """config.json of a checkpoint folder, or a clear refusal."""
    path = folder / "config.json"
    if not path.is_file():
        raise ConvertError(
            f"{folder} has no config.json: it is not a checkpoint in Hugging Face "
            "layout (a folder with config.json, safetensors weights and tokenizer)"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConvertError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ConvertError(f"{path} does not hold a JSON object")
    return config


def check_architecture(config: dict, where: str) -> None:
    """Refuse anything but a merged, unquantized Qwen3-VL checkpoint, naming what was found."""
    architectures = config.get("architectures") or []
    model_type = config.get("model_type")
    if ARCHITECTURE not in architectures and not (not architectures and model_type == MODEL_TYPE):
        found = ", ".join(architectures) or "no architectures entry"
        raise ConvertError(
            f"{where} is not a Qwen3-VL checkpoint: found {found} (model_type {model_type!r}). "
            f"mlx-edugraph converts {ARCHITECTURE} checkpoints (model_type {MODEL_TYPE!r}), "
            "such as christian-bick/Qwen3-VL-4B-EduGraph"
        )
    if not isinstance(config.get("text_config"), dict) or not isinstance(
        config.get("vision_config"), dict
    ):
        raise ConvertError(f"{where}: config.json lacks text_config or vision_config")
    quantization = config.get("quantization_config") or config.get("quantization")
    if quantization:
        method = quantization.get("quant_method", "mlx") if isinstance(quantization, dict) else ""
        raise ConvertError(
            f"{where} is already quantized ({method}); convert needs the merged checkpoint in "
            "bfloat16, float16 or float32"
        )


def check_no_remote_code(folder: Path, where: str) -> None:
    """Refuse a checkpoint whose config files ask for code shipped with it (auto_map)."""
    refusal = remote_code_refusal(folder, where)
    if refusal:
        raise ConvertError(refusal)


def missing_files(names: Collection[str], tokenizer_config: dict | None) -> list[str]:
    """What a checkpoint needs beyond its config, described for people; [] when complete.

    `names` are the file names in the folder (or the repository); `tokenizer_config` is the
    parsed tokenizer_config.json, which may carry the chat template.
    """
    names = set(names)
    missing = []
    shards = {name for name in names if name.endswith(".safetensors")}
    if not shards:
        if any(name.endswith((".bin", ".pt", ".pth")) for name in names):
            missing.append(
                "safetensors weights (found only PyTorch .bin/.pt files; save the "
                "checkpoint with safe_serialization=True)"
            )
        else:
            missing.append("weights (*.safetensors)")
    elif len(shards) > 1 and INDEX_FILE not in names:
        missing.append(f"the shard index {INDEX_FILE}")
    if "tokenizer_config.json" not in names:
        missing.append("tokenizer_config.json")
    if "tokenizer.json" not in names and not {"vocab.json", "merges.txt"} <= names:
        missing.append("the tokenizer (tokenizer.json, or vocab.json and merges.txt)")
    if "preprocessor_config.json" not in names:
        missing.append("the image processor config (preprocessor_config.json)")
    has_template = {"chat_template.jinja", "chat_template.json"} & names or (
        tokenizer_config and tokenizer_config.get("chat_template")
    )
    if not has_template:
        missing.append(
            "the chat template (chat_template.jinja, chat_template.json or a "
            "chat_template entry in tokenizer_config.json)"
        )
    return missing


def read_header(path: Path) -> dict[str, dict]:
    """The tensor entries of a safetensors file, after checking that the file is whole."""
    size = path.stat().st_size

    def corrupt(why: str) -> ConvertError:
        return ConvertError(
            f"corrupt safetensors file {path}: {why}; delete it and download or copy it again"
        )

    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise corrupt(f"only {size} bytes, shorter than a safetensors header")
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > min(size - 8, _MAX_HEADER_BYTES):
            raise corrupt(f"its header claims {header_len} bytes but the file has {size}")
        try:
            header = json.loads(handle.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise corrupt("its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise corrupt("its header is not a JSON object")
    header.pop("__metadata__", None)
    end = 0
    for name, entry in header.items():
        try:
            begin, stop = entry["data_offsets"]
            count = math.prod(entry["shape"])
            width = _DTYPE_BYTES[entry["dtype"]]
        except (KeyError, TypeError, ValueError):
            raise corrupt(f"tensor {name} has an unreadable header entry") from None
        if stop - begin != count * width:
            raise corrupt(f"tensor {name} has {stop - begin} bytes for shape {entry['shape']}")
        end = max(end, stop)
    data = size - 8 - header_len
    if data != end:
        raise corrupt(
            f"it holds {data} bytes of tensor data where its header describes {end} "
            "(truncated or damaged)"
        )
    return header


def inspect_checkpoint(folder: Path, where: str | None = None) -> Checkpoint:
    """Check a local checkpoint folder: architecture, required files, whole safetensors files."""
    where = where or str(folder)
    config = read_config(folder)
    check_architecture(config, where)
    check_no_remote_code(folder, where)
    names = {path.name for path in folder.iterdir()}
    tokenizer_config = read_json(folder / "tokenizer_config.json")
    missing = missing_files(names, tokenizer_config)
    if missing:
        raise ConvertError(f"{where} is missing files the conversion needs: {'; '.join(missing)}")

    index = read_json(folder / INDEX_FILE)
    if index is not None:
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise ConvertError(f"{folder / INDEX_FILE} has no weight_map")
        files = sorted(set(weight_map.values()))
        absent = [name for name in files if not (folder / name).is_file()]
        if absent:
            raise ConvertError(
                f"{where} is missing weight shards named in {INDEX_FILE}: {', '.join(absent)}"
            )
    else:
        weight_map = None
        files = sorted(name for name in names if name.endswith(".safetensors"))

    tensors: dict[str, TensorInfo] = {}
    for name in files:
        for tensor, entry in read_header(folder / name).items():
            tensors[tensor] = TensorInfo(entry["dtype"], tuple(entry["shape"]), name)
    if weight_map is not None:
        for tensor, file in weight_map.items():
            if tensors.get(tensor) is None or tensors[tensor].file != file:
                raise ConvertError(
                    f"{INDEX_FILE} places tensor {tensor} in {file}, "
                    "which does not hold it: the checkpoint is incomplete"
                )
    return Checkpoint(folder, config, tensors, tuple(folder / name for name in files))


def read_json(path: Path) -> dict | None:
    """A JSON object file, None when absent; a clear refusal when it is not valid JSON."""
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConvertError(f"{path} is not valid JSON: {exc}") from None
    return value if isinstance(value, dict) else None
