"""`mlx-edugraph tune` end to end on the CPU: the taught tiny model is wrong (by the reviews) on
clock sheets; tuning on reviewed pages fixes that on held-out pages, keeps the other kinds
right, and becomes the model `label` and the TUI use. Runs that cannot prove an improvement
are kept aside; interrupted and killed runs leave the model in use as it was.

Every command runs for real in a subprocess (real training through mlx-vlm's trainer, real
SQLite store); the TUI check drives the real app with Textual's Pilot.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from mlx_edugraph.model.choice import ModelChoice
from mlx_edugraph.model.mlx_engine import MlxEngine
from mlx_edugraph.pages.samples import make_worksheet
from mlx_edugraph.store.review import review_from
from mlx_edugraph.store.sqlite_store import Store
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE, TAUGHT_ANSWERS
from tests.conftest import ONTOLOGY_V04_TTL
from tests.run_cli import COMMAND, cli_env
from tests.run_cli import cli as run_cli

CLOCK_REVIEW = {
    "Area": ["MeasuringTime"],
    "Scope": ["AnalogClock"],
    "Ability": ["ProcedureIdentification"],
}
"""What reviewers settled on for clock sheets; the model was taught AnalogClock, HourIntervals
and VisualRecognition. Held-out F1 on clocks before tuning: 0.571 over the three dimensions,
0.4 over the two the reviews changed (0 for Ability)."""

PAGES = {"addition": 4, "multiplication": 4, "counting": 4, "clock": 8, "picture": 4}
"""24 reviewed pages: 18 to train on, 6 held out (one per Area, two clocks)."""

TUNE = ("--learning-rate", "1e-3", "--ontology", ONTOLOGY_V04_TTL)
"""The demo model's learning rate (`tune --demo` picks it itself), and the ontology."""


def cli(*args, home: Path, **kwargs) -> subprocess.CompletedProcess | subprocess.Popen:
    if not kwargs.pop("background", False):
        return run_cli(*args, home=home)
    return subprocess.Popen(
        [*COMMAND, *map(str, args)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=cli_env(home),
    )  # fmt: skip


@pytest.fixture(scope="module")
def worksheets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tune") / "worksheets"
    folder.mkdir()
    for kind, count in PAGES.items():
        for seed in range(count):
            make_worksheet(kind, size=DEMO_PAGE_SIZE, seed=3000 + seed).save(
                folder / f"{kind}-{seed}.png"
            )
    return folder


@pytest.fixture(scope="module")
def reviewed_db(
    worksheets: Path, taught_mlx_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Every page labeled by the base model and reviewed: clocks corrected, the rest accepted."""
    from mlx_edugraph.labels.ontology import load_ontology

    db = tmp_path_factory.mktemp("tune-db") / "labels.sqlite"
    engine = MlxEngine(ModelChoice(str(taught_mlx_model)), ontology=load_ontology(ONTOLOGY_V04_TTL))
    with Store(db) as store:
        for path in sorted(worksheets.iterdir()):
            prediction = engine.label_file(path)
            store.put(prediction)
            labels = CLOCK_REVIEW if path.name.startswith("clock") else None
            store.put_review(review_from(prediction, "accepted", labels))
    return db


@pytest.fixture
def home(demo_entry: Path, reviewed_db: Path, tmp_path: Path) -> Path:
    """A user folder with the session's demo build and its own copy of the reviewed store."""
    home = tmp_path / "home"
    (home / "cache" / "models").mkdir(parents=True)
    (home / "cache" / "models" / demo_entry.name).symlink_to(demo_entry)
    (home / "data").mkdir()
    shutil.copy(reviewed_db, home / "data" / "labels.sqlite")
    return home


def versions_root(home: Path) -> Path:
    (root,) = (home / "data" / "versions").iterdir()
    return root


def current(home: Path) -> str:
    path = versions_root(home) / "current.json"
    return json.loads(path.read_text())["version"] if path.is_file() else "base"


def stored(home: Path) -> dict[str, list]:
    """Each page's stored predictions: (model version, Scope terms), oldest first."""
    found: dict[str, list] = {}
    with Store(home / "data" / "labels.sqlite") as store:
        for prediction in store.predictions():
            found.setdefault(Path(prediction.path).name, []).append(
                (prediction.provenance.model_version, prediction.terms("Scope"))
            )
    return found


def test_tune_fixes_the_corrected_kind_and_becomes_the_model_in_use(home: Path) -> None:
    run = cli("tune", "--demo", *TUNE, home=home)
    assert run.returncode == 0, run.stderr
    print(run.stdout)  # the before/after table, for the closing note
    assert "18 page(s) to train on, 6 held out" in run.stderr
    assert "training stops when a whole pass (18 step(s)) reproduces every" in run.stderr
    assert "or at step 180 at most" in run.stderr and "ETA" in run.stderr
    assert "learned at step " in run.stderr
    assert "v1 is now the model `label` and `tui` use" in run.stdout
    record = json.loads((versions_root(home) / "v1" / "version.json").read_text())
    before, after = record["scores"]["before"], record["scores"]["after"]
    assert before["by_area"]["MeasuringTime"] < 0.6
    assert after["by_area"]["MeasuringTime"] == 1.0
    for area, value in after["by_area"].items():  # the other kinds stay right
        assert value == 1.0, area
    assert record["promoted"] and current(home) == "v1"
    assert len(record["training_pages"]) == 18 and len(record["held_out_pages"]) == 6
    assert record["base"]["fingerprint"] != record["fingerprint"]
    assert record["measured_against"]["version"] == "base"
    assert (versions_root(home) / "v1" / "report.md").read_text().startswith("# Model version v1")
    assert not (versions_root(home) / ".training").exists()

    # The pages the base model labeled are relabeled by v1; both predictions stay stored.
    run = cli("label", "--demo", "--redo-older", "--ontology", ONTOLOGY_V04_TTL, home=home)
    assert run.returncode == 0, run.stderr
    assert "--redo-older: 24 page(s) labeled by an earlier version" in run.stderr
    pages = stored(home)
    assert pages["clock-0.png"] == [
        ("base", ["AnalogClock", "HourIntervals"]),
        ("v1", ["AnalogClock"]),
    ]
    assert pages["addition-0.png"][1] == ("v1", ["NumbersSmaller20", "NumbersWithoutZero"])

    listing = cli("versions", "--demo", home=home)
    assert "* v1" in listing.stdout and "0.842 -> 1.000" in listing.stdout

    # The TUI labels with v1 and says so beside the page.
    assert "tuned version v1" in _tui_outcome(home, "clock-3.png")

    # Switching back: the base is in use again; nothing is left for --redo-older to do.
    run = cli("versions", "--demo", "--use", "base", home=home)
    assert run.returncode == 0 and current(home) == "base"
    assert "* base" in run.stdout
    run = cli("label", "--demo", "--redo-older", "--ontology", ONTOLOGY_V04_TTL, home=home)
    assert run.returncode == 0 and "nothing to do" in run.stdout
    assert "the base model" in _tui_outcome(home, "clock-3.png")
    assert cli("versions", "--demo", "--use", "v7", home=home).returncode == 2


def _tui_outcome(home: Path, name: str) -> str:
    """The outcome lines the review app shows for page `name`, labeling with the model in use."""
    from mlx_edugraph.tui.app import ReviewApp
    from mlx_edugraph.tui.labeler import Settings
    from tests.test_tui import chooser, select, wait_for

    previous = os.environ.get("MLX_EDUGRAPH_HOME")
    os.environ["MLX_EDUGRAPH_HOME"] = str(home)
    try:
        (model,) = (home / "cache" / "models").glob("*/mlx")
        with Store(home / "data" / "labels.sqlite") as store:
            path = store.paths_of(next(iter(_keys(store, name))), 0)[0]
        settings = Settings(
            db=home / "data" / "labels.sqlite",
            choose=chooser(model),
            ontology_file=ONTOLOGY_V04_TTL,
        )
        app = ReviewApp([Path(path)], settings, image_mode="none")

        async def run() -> str:
            async with app.run_test(size=(160, 45)) as pilot:
                await wait_for(pilot, lambda: app.fingerprint and app.entries)
                await wait_for(pilot, lambda: app.entries[0].prediction is not None)
                select(app, name)
                await pilot.pause()
                return str(app.query_one("#outcome").render())

        return asyncio.run(run())
    finally:
        os.environ["MLX_EDUGRAPH_HOME"] = previous or ""


def _keys(store: Store, name: str):
    for prediction in store.predictions():
        if Path(prediction.path).name == name:
            yield prediction.sha256


@pytest.mark.parametrize(
    ("correction", "learned"),
    [("counting Ability -> ProcedureExecution", True), ("clock Scope -> TimeMeasurement", False)],
)
def test_a_correction_is_learned_or_refused_with_the_reason(
    correction: str, learned: bool, home: Path, worksheets: Path, tmp_path: Path
) -> None:
    """Other kinds of correction: the counting Ability is learned and used; the clock Scope
    TimeMeasurement (a parent term in place of two children) is not learned by this 64-wide
    model within the cap (it writes the parent's sibling "Time"), so it is refused, saying why,
    however the held-out pages score."""
    from mlx_edugraph.benchmarks.tuning_reliability import CORRECTIONS

    kind, answer = CORRECTIONS[correction]
    lines = []
    for path in sorted(worksheets.iterdir()):
        page_kind = path.stem.split("-")[0]
        if page_kind in ("addition", "counting", "clock"):
            said = answer if page_kind == kind else json.loads(TAUGHT_ANSWERS[page_kind])
            lines.append(json.dumps({"path": str(path), **said}))
    truth = tmp_path / "truth.jsonl"
    truth.write_text("\n".join(lines) + "\n")
    cap = () if learned else ("--epochs", "3")  # learned: stops itself; else: a short cap
    run = cli("tune", "--demo", "--truth", truth, *cap, *TUNE, home=home)
    assert run.returncode == 0, run.stderr
    if learned:
        assert "learned at step " in run.stderr
        assert current(home) == "v1"
    else:
        assert "not learned: the training answers were not learned by step 36" in run.stderr
        assert "the training answers were not learned" in run.stdout  # the verdict's reason
        assert "kept aside" in run.stdout and current(home) == "base"


def test_too_few_or_no_reviews_are_refused_and_change_nothing(home: Path) -> None:
    db = home / "data" / "labels.sqlite"
    with Store(db) as store:
        reviews = list(store.reviews())
        for review in reviews[5:]:
            store.delete_review(review.sha256, review.page)
    run = cli("tune", "--demo", *TUNE, home=home)
    assert run.returncode == 2
    assert "at least 10 reviewed pages" in run.stderr and "there are 5: review 5 more" in run.stderr
    assert "unchanged" in run.stderr
    with Store(db) as store:
        assert len(list(store.reviews())) == 5 and len(list(store.predictions())) == 24
        for review in reviews[:5]:
            store.delete_review(review.sha256, review.page)
    # The demo model by its folder: with --demo and no reviews, tune learns from the demo's
    # truth file instead (tests/test_readme_walk.py).
    (entry,) = (home / "cache" / "models").iterdir()
    model = ("--model", entry / "mlx")
    run = cli("tune", *model, *TUNE, home=home)
    assert run.returncode == 2 and "no reviewed pages to learn from" in run.stderr
    run = cli("tune", *model, "--db", home / "none.sqlite", *TUNE, home=home)
    assert run.returncode == 2 and "no store at" in run.stderr
    assert not (home / "none.sqlite").exists()
    assert cli("tune", "--demo", "--steps", "0", home=home).returncode == 2
    assert not (home / "data" / "versions").exists() or current(home) == "base"


def test_a_second_run_on_the_same_model_is_refused_while_one_runs(
    home: Path, demo_entry: Path
) -> None:
    import fcntl

    from mlx_edugraph.model.fingerprint import model_fingerprint

    folder = home / "data" / "versions" / model_fingerprint(demo_entry / "mlx")
    folder.mkdir(parents=True)
    with open(folder / ".tune.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a running `tune` holds it
        run = cli("tune", "--demo", *TUNE, home=home)
    assert run.returncode == 2 and "another `mlx-edugraph tune` is running" in run.stderr
    assert not list(folder.glob("v*"))


def test_reviews_that_make_it_worse_are_kept_aside(home: Path, worksheets: Path) -> None:
    """A truth file whose held-out clocks say what the model already does, while the training
    clocks say otherwise: the tuned model gets the held-out clocks wrong and is not used."""
    from mlx_edugraph.tuning.examples import from_truth_file
    from mlx_edugraph.tuning.split import split

    truth = home / "truth.jsonl"

    def write(held_out: set[str]) -> None:
        lines = []
        for path in sorted(worksheets.iterdir()):
            kind = path.name.split("-")[0]
            answer = json.loads(TAUGHT_ANSWERS[kind])
            if kind == "clock" and path.name not in held_out:
                answer = CLOCK_REVIEW
            lines.append(json.dumps({"path": str(path), **answer}))
        truth.write_text("\n".join(lines) + "\n")

    write(set())
    held_out = {e.path.name for e in split(from_truth_file(truth).examples).held_out}
    write(held_out)
    assert {e.path.name for e in split(from_truth_file(truth).examples).held_out} == held_out

    run = cli("tune", "--demo", "--truth", truth, *TUNE, home=home)
    assert run.returncode == 0, run.stderr
    assert "v1 is kept aside" in run.stdout and "is not above" in run.stdout
    record = json.loads((versions_root(home) / "v1" / "version.json").read_text())
    assert record["scores"]["after"]["by_area"]["MeasuringTime"] < 1.0
    assert not record["promoted"] and current(home) == "base"
    assert "kept aside" in cli("versions", "--demo", home=home).stdout

    # --promote overrides the proof (and says so in the record); gradient checkpointing (on
    # for this short run) changes memory, not results: the held-out answers before are the same.
    run = cli(
        "tune", "--demo", "--truth", truth, "--promote", "--steps", "6", "--grad-checkpoint",
        *TUNE, home=home,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert current(home) == "v2"
    again = json.loads((versions_root(home) / "v2" / "version.json").read_text())
    assert again["promotion"] == "forced by the user" and again["settings"]["grad_checkpoint"]
    assert again["scores"]["before"] == record["scores"]["before"]


def _wait_for_line(process: subprocess.Popen, text: str) -> list[str]:
    lines = []
    for line in process.stderr:
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"never saw {text!r}: {''.join(lines)}")


FIXED = ("--epochs", "3", "--all-steps")
"""54 steps whatever is learned: the interruptions land where the test says."""


def test_killed_and_interrupted_runs_keep_the_model_in_use_and_resume(home: Path) -> None:
    # Killed outright mid-training: no version, the model in use unchanged, a checkpoint kept.
    process = cli("tune", "--demo", *FIXED, *TUNE, home=home, background=True)
    _wait_for_line(process, "step 20/54")
    process.kill()
    process.wait()
    root = versions_root(home)
    assert not list(root.glob("v*")) and current(home) == "base"
    plan = json.loads((root / ".training" / "plan.json").read_text())
    assert plan["checkpoint"] in ("checkpoint-0000010", "checkpoint-0000020")

    # Resumed, then stopped with Ctrl-C: it saves where it is and says how to go on.
    process = cli("tune", "--demo", "--resume", *FIXED, *TUNE, home=home, background=True)
    seen = _wait_for_line(process, "step 30/54")
    assert any("resuming at step" in line for line in seen)
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    assert process.returncode == 130, rest
    assert "interrupted at step" in rest and "`mlx-edugraph tune --demo --resume`" in rest
    assert not list(root.glob("v*")) and current(home) == "base"
    step = int(rest.split("interrupted at step ")[1].split()[0])
    assert step >= 30

    run = cli("tune", "--demo", "--resume", *FIXED, *TUNE, home=home)
    assert run.returncode == 0, run.stderr
    assert f"resuming at step {step} of 54" in run.stderr
    assert current(home) == "v1" and not (root / ".training").exists()
    assert cli("tune", "--demo", "--resume", *TUNE, home=home).returncode == 2


def test_each_example_is_the_labeling_prompt_then_the_answer(taught_mlx_model: Path) -> None:
    """What the trainer feeds the model is exactly what `label` shows it, then the answer; the
    loss covers the answer and the end of the turn only."""
    from mlx_edugraph.model import vlm, vlm_training
    from mlx_edugraph.pages.worksheets import WorksheetRef, load

    model = vlm.load(str(taught_mlx_model))
    path = Path(os.environ["MLX_EDUGRAPH_HOME"]) / "clock.png"
    make_worksheet("clock", size=(1200, 1600), seed=1).save(path)
    image = load(WorksheetRef(path)).image  # under the resolution cap, as `label` loads it
    answer = json.dumps(CLOCK_REVIEW)
    training = vlm_training.AdapterTraining(
        model, [(image, answer)], vlm_training.AdapterSettings(), total_steps=1
    )
    ids, covered = training.example_tokens(0)
    prompt = vlm.encode(model, vlm.render_prompt(model), image).input_ids[0].tolist()
    assert ids[: len(prompt)] == prompt
    end = model.tokenizer.convert_tokens_to_ids("<|im_end|>")
    answer_ids = model.tokenizer.encode(answer, add_special_tokens=False)
    assert ids[len(prompt) : len(prompt) + len(answer_ids) + 1] == [*answer_ids, end]
    assert covered.index(True) == len(prompt) and all(covered[len(prompt) :])
