"""The demo: the taught tiny checkpoint in 4-bit MLX, built once into the user cache, and a
folder of generated worksheets for it. Its labels show the tool working; they are not real
EduGraph predictions.

The cache entry's name carries a version and a hash of everything that shapes the model, so a
changed template or answer set builds a new entry. It is built in a temporary folder beside the
final one and renamed into place, so a crash never leaves a half-written model behind. A
build asked to stop (the review app quitting) stops within a teaching step and removes its
temporary folder: the next run builds again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from mlx_edugraph.paths import cache_dir as user_cache_dir
from mlx_edugraph.stopping import StopCheck, check
from mlx_edugraph.tinymodel.answers import TAUGHT_ANSWERS
from mlx_edugraph.tinymodel.shapes import TINY
from mlx_edugraph.tinymodel.teach import TEACH_SIZE
from mlx_edugraph.tinymodel.template import read_chat_template

DEMO_VERSION = 1
"""Bump when the build changes in a way the hash below does not see (code, teaching recipe)."""

DEMO_BITS = 4
DEMO_GROUP_SIZE = 64
"""4-bit, group 64 keeps every taught answer exact (checked after each build)."""

DEMO_PAGE_SIZE = TEACH_SIZE
"""Sample pages for the demo: the size the model was taught at (larger pages work too)."""

DEMO_SOURCE = f"mlx-edugraph tiny demo model v{DEMO_VERSION} (random weights taught locally)"
"""The demo model's source in its provenance: it has no checkpoint anywhere else."""

CHECK_SEEDS = range(2)
"""Unseen worksheet seeds the finished build must answer exactly."""


def demo_model(
    cache_dir: Path | None = None,
    *,
    log: Callable[[str], None] | None = None,
    stop: StopCheck | None = None,
) -> Path:
    """The folder of the 4-bit MLX demo model, building it on first use (about a minute);
    a build raises `Stopped` soon after `stop` says so."""
    return _demo_entry(cache_dir, log, stop) / "mlx"


def demo_checkpoint(
    cache_dir: Path | None = None, *, log: Callable[[str], None] | None = None
) -> Path:
    """The taught tiny checkpoint in Hugging Face layout, as it went into the conversion."""
    return _demo_entry(cache_dir, log, None) / "hf"


def default_cache_dir() -> Path:
    """Where demo models live by default: `models/` in mlx-edugraph's cache folder."""
    return user_cache_dir() / "models"


def _demo_entry(
    cache_dir: Path | None, log: Callable[[str], None] | None, stop: StopCheck | None
) -> Path:
    from mlx_edugraph.tinymodel.checkpoint import shared_ontology_terms

    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    template = read_chat_template()
    recipe = {
        "answers": TAUGHT_ANSWERS,
        "bits": DEMO_BITS,
        "group_size": DEMO_GROUP_SIZE,
        "shape": asdict(TINY),
        "template": template,
        "terms": shared_ontology_terms(),
    }
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    final = root / f"edugraph-tiny-v{DEMO_VERSION}-{digest}"
    if (final / "mlx" / "config.json").is_file() and (final / "hf" / "config.json").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".building-") as tmp:
        work = Path(tmp) / "entry"
        say = log or (lambda _: None)
        say(f"building it once into {final} (about a minute on a laptop)")
        _build(work, say, stop)
        try:
            os.rename(work, final)
        except OSError:
            # Another process finished first: use its entry, drop ours.
            if not (final / "mlx" / "config.json").is_file():
                raise
    return final


def _build(work: Path, say: Callable[[str], None], stop: StopCheck | None) -> None:
    """Build, teach, convert and check the demo model inside `work` (`stop` is asked between
    steps)."""
    from mlx_edugraph.convert.provenance import read_provenance, write_provenance
    from mlx_edugraph.tinymodel.checkpoint import build_checkpoint
    from mlx_edugraph.tinymodel.mlx_conversion import quantize
    from mlx_edugraph.tinymodel.probe import probe
    from mlx_edugraph.tinymodel.teach import teach

    random_dir = build_checkpoint(work / "random", shape=TINY)
    teach(random_dir, work / "hf", log=say, stop=stop)
    check(stop)
    # mlx-vlm's converter prints progress; keep it off the terminal (the TUI owns it).
    with contextlib.redirect_stdout(io.StringIO()):
        quantize(work / "hf", work / "mlx", bits=DEMO_BITS, group_size=DEMO_GROUP_SIZE)
    # The converter records the folder it read, a temporary one here: name the model instead.
    record = read_provenance(work / "mlx") or {}
    write_provenance(work / "mlx", {**record, "source": DEMO_SOURCE})
    wrong = [
        f"{r.kind} (seed {r.seed}): {r.text!r}"
        for r in probe(work / "mlx", TAUGHT_ANSWERS, CHECK_SEEDS, stop=stop)
        if r.text != TAUGHT_ANSWERS[r.kind]
    ]
    if wrong:
        raise RuntimeError("the demo model lost taught answers: " + "; ".join(wrong))
    say("checked: every taught answer is exact")
    # The random checkpoint was only a starting point.
    for item in sorted((work / "random").iterdir()):
        item.unlink()
    (work / "random").rmdir()


DEMO_PAGES = 14
"""Generated demo worksheets: the five kinds in turn, 12 of them maths (tune's minimum is 10)."""

DEMO_TRUTH = "truth.jsonl"
"""The demo folder's truth file (any format `eval --truth` reads): what `tune --demo` learns
from and `eval --demo` scores against when the store holds no reviews."""

REVIEWED_CLOCK = {
    "Area": ["MeasuringTime"],
    "Scope": ["AnalogClock"],
    "Ability": ["ProcedureIdentification"],
}
"""The demo's reviewer corrects the clock sheets (the model was taught AnalogClock,
HourIntervals and VisualRecognition): the one thing `tune --demo` can learn."""


def prepare_demo(
    count: int = DEMO_PAGES, *, log: Callable[[str], None] | None = None
) -> tuple[str, list[Path]]:
    """The demo model folder (built once, cached) and a folder of generated worksheets."""
    return str(demo_model(log=log)), [demo_worksheets(count)]


def demo_worksheets(count: int = DEMO_PAGES) -> Path:
    """A folder of generated worksheets and their truth file in the cache (written once;
    fast, no MLX)."""
    from mlx_edugraph.pages.samples import write_samples

    folder = user_cache_dir() / f"demo-worksheets-{count}"
    if not folder.is_dir():
        # Written beside the final folder and renamed: an interrupted run leaves nothing half-made.
        staging = Path(tempfile.mkdtemp(prefix=".demo-worksheets.", dir=folder.parent))
        try:
            pages = write_samples(staging, count, size=DEMO_PAGE_SIZE, seed=1000)
            (staging / DEMO_TRUTH).write_text("".join(map(_truth_line, pages)), encoding="utf-8")
            os.replace(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def demo_truth() -> Path:
    """The demo worksheets' truth file (the folder written first if need be)."""
    return demo_worksheets() / DEMO_TRUTH


def _truth_line(page: Path) -> str:
    """A page's truth record: its kind's taught answer, or the reviewer's for clocks."""
    kind = page.stem.split("-", 1)[1]  # "004-clock"
    answer = REVIEWED_CLOCK if kind == "clock" else json.loads(TAUGHT_ANSWERS[kind])
    return json.dumps({"path": page.name, **answer}) + "\n"
