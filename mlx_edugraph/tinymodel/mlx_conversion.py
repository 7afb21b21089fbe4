"""The converter's call for tiny models (tests, the demo): HF-layout checkpoint in, MLX out."""

from __future__ import annotations

from pathlib import Path


def quantize(
    src: Path,
    dest: Path,
    *,
    bits: int | None = 4,
    group_size: int = 64,
    dtype: str | None = None,
) -> Path:
    """Convert the checkpoint folder `src` into the new folder `dest` and return `dest`.

    `bits` None keeps the weights unquantized, in `dtype` ("bfloat16", "float16", "float32";
    None keeps the checkpoint's own). With `bits`, only the language model is quantized:
    the vision tower stays in `dtype`. Remote code is never run.
    """
    src, dest = Path(src), Path(dest)
    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"{src} is not a checkpoint folder (no config.json)")
    # Refuse before loading anything, as mlx-lm's convert does.
    if dest.exists():
        raise FileExistsError(f"{dest} already exists")
    from mlx_edugraph.convert.converter import convert

    quantized = bits is not None
    convert(
        str(src),
        dest,
        quantize=quantized,
        bits=bits,
        group_size=group_size if quantized else None,
        dtype=dtype,
        verify=False,
        quiet=True,
    )
    return dest
