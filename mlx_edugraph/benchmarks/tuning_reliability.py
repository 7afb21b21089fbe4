"""How reliably `tune` learns a correction: each kind of correction, several seeds, on the tiny
demo model; learned (the proof promotes it) or refused (kept aside, with the proof's reason).

Run: `python -m mlx_edugraph.benchmarks.tuning_reliability [SEEDS]` (5 by default). Each run
is a whole `tune` (split, training until learned or the cap, proof) into a throwaway user
folder; the pages are the tests' 24 (8 of the corrected kind, 4 of each other kind).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from mlx_edugraph.benchmarks.tuning_speed import own_user_folder
from mlx_edugraph.model import vlm_training
from mlx_edugraph.pages.samples import make_worksheet
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE, TAUGHT_ANSWERS
from mlx_edugraph.tinymodel.demo import demo_model
from mlx_edugraph.tuning.run import TuneOptions, tune

CORRECTIONS = {
    "clock Scope and Ability (the tests')": (
        "clock",
        {
            "Area": ["MeasuringTime"],
            "Scope": ["AnalogClock"],
            "Ability": ["ProcedureIdentification"],
        },
    ),
    "clock Scope -> TimeMeasurement": (
        "clock",
        {"Area": ["MeasuringTime"], "Scope": ["TimeMeasurement"], "Ability": ["VisualRecognition"]},
    ),
    "counting Ability -> ProcedureExecution": (
        "counting",
        {
            "Area": ["NumerationWithIntegers"],
            "Scope": ["CountingSymbols", "NumbersSmaller10"],
            "Ability": ["ProcedureExecution"],
        },
    ),
}
"""Name -> (the corrected kind, the reviewers' answer for its pages)."""

PAGES = {"addition": 4, "multiplication": 4, "counting": 4, "clock": 4, "picture": 4}
CORRECTED_PAGES = 8
LEARNING_RATE = 1e-3
"""`tune --demo`'s."""


def truth_file(folder: Path, kind: str, answer: dict) -> Path:
    """The pages and a truth file: `kind`'s pages say `answer`, the others the taught one."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for page_kind, count in PAGES.items():
        for seed in range(CORRECTED_PAGES if page_kind == kind else count):
            path = folder / f"{page_kind}-{seed}.png"
            make_worksheet(page_kind, size=DEMO_PAGE_SIZE, seed=3000 + seed).save(path)
            said = answer if page_kind == kind else json.loads(TAUGHT_ANSWERS[page_kind])
            lines.append(json.dumps({"path": str(path), **said}))
    truth = folder / "truth.jsonl"
    truth.write_text("\n".join(lines) + "\n")
    return truth


def main(seeds: int = 5) -> None:
    model = str(demo_model())
    print("| correction | seed | steps | learned in training | held-out F1 | verdict |")
    print("|---|---:|---:|:--:|---|---|")
    with tempfile.TemporaryDirectory(prefix="mlx-edugraph-reliability-") as tmp:
        for number, (name, (kind, answer)) in enumerate(CORRECTIONS.items()):
            truth = truth_file(Path(tmp) / f"pages-{number}", kind, answer)
            for seed in range(seeds):
                said: list[str] = []
                started = time.perf_counter()
                with own_user_folder(Path(tmp) / f"home-{number}-{seed}"):
                    result = tune(
                        TuneOptions(
                            base=model,
                            truth=truth,
                            seed=seed,
                            settings=vlm_training.AdapterSettings(learning_rate=LEARNING_RATE),
                        ),
                        say=said.append,
                    )
                steps = json.loads((result.version.folder / "version.json").read_text())
                learned = any(line.startswith("learned at step") for line in said)
                verdict = (
                    "promoted"
                    if result.promoted
                    else "refused: " + "; ".join(result.verdict.reasons)
                )
                print(
                    f"| {name} | {seed} | {steps['settings']['steps']} | "
                    f"{'yes' if learned else 'no'} | {result.before.f1:.3f} -> "
                    f"{result.after.f1:.3f} | "
                    f"{verdict} ({time.perf_counter() - started:.0f} s) |",
                    flush=True,
                )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
