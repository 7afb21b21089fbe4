"""The conversion benchmark: a random-weight checkpoint with the real Qwen3-VL-4B shapes,
converted as users convert it, with wall time, peak memory and output size.

    python -m mlx_edugraph.benchmarks.conversion [--work DIR] [--keep] [--bits 4] [--group-size 64]

The conversion runs as `mlx-edugraph convert` in a child process, so its peak RSS is its own
(`os.wait4`). Peak RSS must stay under 1.5x the bf16 checkpoint's size: the conversion reads the
weights lazily and writes them shard by shard instead of holding copies of the model.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mlx_edugraph.convert.quantization import BITS, DEFAULT_BITS, DEFAULT_GROUP_SIZE, GROUP_SIZES

RSS_LIMIT = 1.5
"""Allowed peak RSS as a multiple of the bf16 checkpoint's size."""


@dataclass(frozen=True)
class BenchmarkResult:
    """The measured figures of one conversion."""

    checkpoint_bytes: int
    output_bytes: int
    seconds: float
    peak_rss_bytes: int
    bits_per_weight: float | None

    @property
    def rss_ratio(self) -> float:
        """Peak RSS as a multiple of the bf16 checkpoint's size."""
        return self.peak_rss_bytes / self.checkpoint_bytes

    def lines(self) -> list[str]:
        verdict = "OK" if self.rss_ratio < RSS_LIMIT else f"OVER the {RSS_LIMIT}x limit"
        bpw = f"{self.bits_per_weight:.2f}" if self.bits_per_weight else "?"
        return [
            f"bf16 checkpoint: {self.checkpoint_bytes / 1e9:.2f} GB",
            f"wall time:       {self.seconds:.1f} s (the whole `mlx-edugraph convert` process)",
            f"peak RSS:        {self.peak_rss_bytes / 2**30:.2f} GiB = {self.rss_ratio:.2f}x the "
            f"checkpoint: {verdict}",
            f"output:          {self.output_bytes / 1e9:.2f} GB, {bpw} bits per weight",
        ]


def folder_bytes(folder: Path) -> int:
    """Size on disk of the files in a model folder."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def build(checkpoint: Path) -> None:
    """Write the 4B-shaped random checkpoint (shard by shard) unless it is already there."""
    from mlx_edugraph.tinymodel.checkpoint import build_checkpoint
    from mlx_edugraph.tinymodel.shapes import QWEN3VL_4B

    if (checkpoint / "model.safetensors.index.json").is_file():
        return
    partial = checkpoint.with_name(checkpoint.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    print(f"writing a random {QWEN3VL_4B.name} checkpoint to {checkpoint} ...", file=sys.stderr)
    build_checkpoint(partial, shape=QWEN3VL_4B)
    os.replace(partial, checkpoint)
    print(f"written in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def run_conversion(checkpoint: Path, out: Path, extra: list[str]) -> BenchmarkResult:
    """Convert in a child process and measure it."""
    from mlx_edugraph.convert.provenance import read_provenance

    command = [
        sys.executable,
        "-m",
        "mlx_edugraph",
        "convert",
        str(checkpoint),
        "--out",
        str(out),
        "--no-verify",
        "--force",
        *extra,
    ]
    print("+ " + " ".join(command), file=sys.stderr)
    started = time.perf_counter()
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"conversion failed with exit code {code}")
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    peak = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    record = read_provenance(out) or {}
    return BenchmarkResult(
        folder_bytes(checkpoint), folder_bytes(out), seconds, peak, record.get("bits_per_weight")
    )


def configure_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlx_edugraph.benchmarks.conversion",
        description="Convert a random checkpoint with the Qwen3-VL-4B shapes; report wall time, "
        "peak RSS and output size (needs ~13 GB of disk).",
    )
    parser.add_argument(
        "--work", type=Path, help="folder for the checkpoint and output (default: a temp folder)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the checkpoint and output (reused by the next run)",
    )
    parser.add_argument("--bits", type=int, choices=BITS, default=DEFAULT_BITS)
    parser.add_argument("--group-size", type=int, choices=GROUP_SIZES, default=DEFAULT_GROUP_SIZE)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = configure_parser().parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="mlx-edugraph-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        checkpoint = work / "qwen3vl-4b-random"
        build(checkpoint)
        result = run_conversion(
            checkpoint,
            work / "qwen3vl-4b-random-q",
            ["--bits", str(args.bits), "--group-size", str(args.group_size)],
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(result.lines()))
    return 0 if result.rss_ratio < RSS_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
