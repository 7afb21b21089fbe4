"""`mlx-edugraph bench`: a short real run on the tiny proxy, and the table's arithmetic."""

from __future__ import annotations

import pytest

from mlx_edugraph.benchmarks.labeling_speed import BenchResult, PageRun, Skipped
from mlx_edugraph.benchmarks.speed_table import format_table, table_rows


def test_bench_prints_the_table_on_the_tiny_proxy(capsys: pytest.CaptureFixture) -> None:
    from mlx_edugraph.cli import main

    # Small pages keep it short; the real bench uses 850x1100 and up.
    code = main(["bench", "--proxy", "tiny", "--sizes", "256x320,320x448", "--count", "1"])
    out = capsys.readouterr()
    assert code == 0, out.err
    lines = out.out.splitlines()
    assert lines[0].split("|")[1].strip() == "pages"
    assert "naive/ours" in lines[0]
    rows = [line.split("|")[1:-1] for line in lines[2:] if line.startswith("|")]
    assert [(row[0].strip(), row[1].strip()) for row in rows] == [
        ("256x320", "naive"),
        ("256x320", "ours"),
        ("320x448", "naive"),
        ("320x448", "ours"),
        ("all", "naive"),
        ("all", "ours"),
    ]
    assert rows[-1][-1].strip().endswith("x")
    assert "inside model forward passes" in out.out
    assert "prompt tokens per page come from the cached prefix" in out.out
    assert "decode exactly 32 tokens" in out.out
    assert "prefill arithmetic at 320x448: naive" in out.out
    assert "building the tiny proxy" in out.err


def _run(path: str, size: str, seconds: float) -> PageRun:
    return PageRun(path, size, 900, 1100, seconds / 2, 32, 100.0, seconds, 0.5)


def test_table_ratio_uses_pages_both_paths_ran() -> None:
    result = BenchResult("m", 1.0, 0.1, 32)
    result.naive = [_run("a", "850x1100", 4.0), _run("b", "850x1100", 6.0)]
    result.ours = [
        _run("a", "850x1100", 2.0),
        _run("b", "850x1100", 2.0),
        _run("c", "2480x3508", 3.0),
    ]
    result.skipped = [Skipped("c", "2480x3508", "too big")]
    rows = table_rows(result)
    by_key = {(row[0], row[1]): row for row in rows}
    assert by_key[("850x1100", "ours")][-1] == "2.50x"
    assert by_key[("2480x3508", "naive")][-1] == "skipped"
    assert by_key[("2480x3508", "ours")][-1] == "-"
    # Over all sizes, ours' median is taken on the pages the naive path ran too.
    assert by_key[("all", "ours")][-1] == "2.50x"
    assert by_key[("all", "ours")][2] == "3"
    assert "naive path not run on c (2480x3508): too big" in format_table(result)


def test_sizes_option_is_checked() -> None:
    from mlx_edugraph.commands.bench import parse_sizes
    from mlx_edugraph.errors import UserError

    assert parse_sizes("850x1100, 1275X1650") == [(850, 1100), (1275, 1650)]
    with pytest.raises(UserError, match="--sizes: expected WxH"):
        parse_sizes("850-1100")


def test_forced_tokens_show_as_fewer_forward_passes() -> None:
    result = BenchResult("m", 1.0, 0.1, None)
    result.naive = [_run("a", "850x1100", 4.0)]
    result.ours = [_run("a", "850x1100", 2.0)]
    assert "answer tokens took" not in format_table(result)
    result.ours[0].decode_passes = 20  # 32 tokens: the first from prefill, 11 forced
    assert "ours: 32 answer tokens took 21 forward passes" in format_table(result)
