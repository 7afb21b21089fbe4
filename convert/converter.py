"""`convert()`: a merged Qwen3-VL checkpoint (the EduGraph one by default) to a verified MLX model.

Each step lives in its own module: resolve and check the source (`source`, `checkpoint`),
normalize its config (`normalize`), load it lazily with mlx-vlm, merge a LoRA adapter
(`adapter`), cast and calibrate and quantize (`quantization`, `calibration`), write into a temp
folder beside the destination (`writer`, `destination`), compare with the unquantized model
(`verify`), record provenance (`provenance`), and rename into place.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from mlx_edugraph.model.location import SOURCE_REPO, default_model_dir
from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS

from . import backend, provenance, quantization
from .adapter import merge_adapter, read_adapter
from .checkpoint import inspect_checkpoint
from .destination import Destination
from .errors import ConvertError
from .normalize import normalize_config
from .quantization import PartSummary, QuantSpec, cast, resolve_dtype, summarize
from .source import check_free_space, hub_checksums, resolve_source, stage
from .verify import Verification, verify_model
from .writer import copy_sidecar_files, write_config, write_weights


@dataclass
class ConversionResult:
    """What a conversion produced: the numbers of the report."""

    out: Path
    source: str
    revision: str | None
    size_bytes: int
    parts: list[PartSummary]
    quantization: QuantSpec | None
    dtype: str
    awq: bool
    seconds: float
    verification: Verification | None
    config_changes: list[str] = field(default_factory=list)
    adapter: str | None = None

    @property
    def bits_per_weight(self) -> float:
        return bits_per_weight(self.parts)

    def lines(self) -> list[str]:
        """The report printed after a conversion."""
        source = self.source + (f" @ {self.revision}" if self.revision else "")
        lines = [f"model:          {self.out}", f"source:         {source}"]
        if self.adapter:
            lines.append(f"adapter:        {self.adapter} (merged before quantizing)")
        lines.append(
            f"size on disk:   {_bytes(self.size_bytes)}, {self.bits_per_weight:.2f} bits per weight"
        )
        if self.quantization:
            spec = self.quantization
            how = (
                f"mixed-bit recipe {spec.recipe}"
                if spec.recipe
                else f"{spec.bits}-bit affine, group size {spec.group_size}"
            )
            lines.append(f"quantization:   {how}{', AWQ-calibrated' if self.awq else ''}")
        else:
            lines.append(f"quantization:   none (all weights in {self.dtype})")
        for part in self.parts:
            lines.append(f"  {part.name + ':':16}{_describe(part)}")
        if self.quantization and not self.quantization.vision:
            lines.append(
                "                the vision tower is kept unquantized "
                "(--quantize-vision quantizes it too)"
            )
        lines.extend(f"config:         {change}" for change in self.config_changes)
        lines.append(f"wall time:      {self.seconds:.1f} s")
        check = self.verification
        if check is None:
            lines.append("verification:   skipped (--no-verify)")
        else:
            lines.append(
                f"verification:   top-1 agreement {check.top1_agreement:.1%}, mean KL "
                f"{check.mean_kl:.4f} nats, against the unquantized checkpoint "
                f"({check.tokens} answer tokens, {check.pages} sample worksheets)"
            )
            if check.warning:
                lines.append(f"warning:        {check.warning}")
        return lines


def bits_per_weight(parts: list[PartSummary]) -> float:
    """Bits on disk per parameter, over the whole model (quantization scales included)."""
    params = sum(part.params for part in parts)
    return sum(part.nbytes for part in parts) * 8 / params if params else 0.0


def _describe(part: PartSummary) -> str:
    text = f"{_count(part.params)} params at {part.bits_per_weight:.2f} bits/weight: "
    kept = part.params - part.quantized_params
    dtypes = "/".join(part.kept_dtypes)
    if not part.quantized_layers:
        return text + f"kept in {dtypes}"
    text += (
        f"{part.quantized_layers} layers ({_count(part.quantized_params)} params) "
        f"quantized to {'/'.join(map(str, part.bits))} bits"
    )
    return text + (f", {_count(kept)} kept in {dtypes}" if kept else "")


def _count(n: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(int(n))


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} bytes"


def _printer(stream: TextIO | None) -> Callable[[str], None]:
    if stream is None:
        return lambda _: None
    return lambda message: print(message, file=stream, flush=True)


def estimated_output_bytes(
    weight_bytes: int, source_dtype_bytes: int, dtype: str, spec: QuantSpec | None
) -> int:
    """A generous estimate of the output's size, for the free-space check."""
    dtype_bytes = 4 if dtype == "float32" else 2
    full = weight_bytes * dtype_bytes // source_dtype_bytes
    if spec is None:
        return full
    return int(full * min(1.0, (max(spec.bits, 6) + 1) / (8 * dtype_bytes) + 0.15))


def convert(
    source: str = SOURCE_REPO,
    out: str | Path | None = None,
    *,
    revision: str | None = None,
    quantize: bool = True,
    bits: int | None = None,
    group_size: int | None = None,
    recipe: str | None = None,
    dtype: str | None = None,
    quantize_vision: bool = False,
    awq: bool = False,
    calibration: str | Path | None = None,
    adapter: str | Path | None = None,
    force: bool = False,
    verify: bool = True,
    quiet: bool = False,
) -> ConversionResult:
    """Convert a merged Qwen3-VL checkpoint (repo id or folder) into an MLX model folder.

    Defaults: 4-bit affine, group size 64, vision tower unquantized, into the folder `label` and
    `tui` read (`default_model_dir()`), verified against the unquantized checkpoint. Raises
    `ConvertError` for anything a user can fix; the destination is then left as it was.
    Progress goes to stderr unless `quiet` (for callers that own the terminal, like the TUI).
    """
    started = time.perf_counter()
    stream = None if quiet else sys.stderr
    say = _printer(stream)
    if not quantize and (bits or group_size or recipe or awq or quantize_vision):
        raise ConvertError("--no-quantize cannot be combined with quantization options")
    spec = QuantSpec.resolve(bits, group_size, recipe, quantize_vision) if quantize else None
    if calibration is not None and not awq:
        raise ConvertError("--calibration chooses AWQ's calibration pages; add --awq")
    lora = read_adapter(Path(adapter)) if adapter is not None else None

    destination = Destination(Path(out) if out else default_model_dir(), force=force)
    found = resolve_source(source, revision=revision)
    destination.check_apart_from(found.folder)
    with destination as dest:
        say(f"checking {found.name}")
        checkpoint = inspect_checkpoint(found.folder, found.name)
        config, changes = normalize_config(checkpoint.config, checkpoint.tensors)
        dtype = resolve_dtype(dtype, config)
        source_width = 4 if any(t.dtype == "F32" for t in checkpoint.tensors.values()) else 2
        check_free_space(
            dest.path.parent,
            estimated_output_bytes(checkpoint.weight_bytes, source_width, dtype, spec),
            "for the converted model",
        )
        staged = stage(found.folder, config, dest.scratch / "source")
        checksums = hub_checksums(found)
        if checksums is None:
            say(f"checksumming {len(checkpoint.weight_files)} weight file(s)")
            checksums = {p.name: provenance.sha256_file(p) for p in checkpoint.weight_files}

        say("loading the checkpoint (lazily: weights are read as they are converted)")
        model, processor = _load_lazy(staged)
        if lora is not None:
            say(f"merged LoRA adapter {lora.folder} into {merge_adapter(model, lora)} layers")
        cast(model, dtype)
        calibrated_on, awq_layers = None, 0
        if spec is not None and awq:
            from .calibration import apply_awq, calibration_images

            images, calibrated_on = calibration_images(
                Path(calibration) if calibration is not None else None, say
            )
            say(f"calibrating AWQ on {calibrated_on}")
            folded = apply_awq(model, processor, images, spec.bits, spec.group_size, say)
            awq_layers = folded.get("layers", 0)
            if not awq_layers:  # mlx-vlm matched none of the model's layers: AWQ did nothing
                raise ConvertError(
                    "--awq found no layers to scale in this model; convert without it"
                )
            say(f"AWQ scales folded into {awq_layers} layers")
        out_config = config
        if spec is not None:
            with contextlib.redirect_stdout(stream or io.StringIO()):  # mlx-vlm's own [INFO]
                out_config = quantization.quantize(model, config, spec)
        parts = summarize(model)
        write_weights(model, dest.model, stream=stream)
        del model
        write_config(out_config, dest.model)
        copy_sidecar_files(found.folder, dest.model)

        check = None
        if verify:
            say("verifying: the converted model against the unquantized checkpoint")
            check = verify_model(
                dest.model, staged, adapter=lora, dtype=dtype, max_pixels=DEFAULT_MAX_PIXELS
            )
        provenance.write_provenance(
            dest.model,
            {
                "format": provenance.FORMAT,
                "source": found.name,
                "revision": found.revision,
                "weights_sha256": checksums,
                "adapter": lora.describe() if lora else None,
                "quantization": None
                if spec is None
                else {
                    **spec.describe(),
                    "awq": awq,
                    **({"awq_layers": awq_layers} if awq else {}),
                    "calibration": calibrated_on,
                },
                "dtype": dtype,
                "bits_per_weight": round(bits_per_weight(parts), 3),
                "config_changes": changes,
                "versions": provenance.versions(),
                "created": provenance.now(),
                "verification": check.to_dict() if check else None,
            },
        )
        size = sum(path.stat().st_size for path in dest.model.iterdir() if path.is_file())
        dest.commit()
    return ConversionResult(
        out=dest.path,
        source=found.name,
        revision=found.revision,
        size_bytes=size,
        parts=parts,
        quantization=spec,
        dtype=dtype,
        awq=awq,
        seconds=time.perf_counter() - started,
        verification=check,
        config_changes=changes,
        adapter=str(lora.folder) if lora else None,
    )


def _load_lazy(folder: Path) -> tuple[Any, Any]:
    """The checkpoint as an mlx-vlm model whose weights are read only when computed."""
    try:
        model, processor = backend.load_lazy(folder)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise ConvertError(f"mlx-vlm cannot load the checkpoint: {exc}") from exc
    return model, processor
