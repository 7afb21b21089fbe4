"""End to end: `mlx-edugraph eval` with the taught tiny models, in a subprocess as users run it.

The taught model answers `TAUGHT_ANSWERS` exactly, so a truth file written from those answers
must score perfectly, and a truth file changed on purpose must show exactly the misses and
additions worked out by hand below. Every figure is exact except the answer-token measures of
the bf16-vs-4-bit comparison, which depend on floating-point details and are printed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mlx_edugraph.pages.samples import write_samples
from mlx_edugraph.store.review import review_from
from mlx_edugraph.store.sqlite_store import Store
from mlx_edugraph.tinymodel import DEMO_PAGE_SIZE, TAUGHT_ANSWERS
from tests.conftest import ONTOLOGY_V04_RDF

pytestmark = pytest.mark.xdist_group("eval-cli")
"""One worker runs this module (`--dist loadgroup`): its workspace and runs are made once."""

PLAIN_TEMPLATE = (
    "{%- for m in messages %}<|im_start|>{{ m.role }}\n"
    "{%- if m.content is string %}{{ m.content }}{%- else %}{%- for c in m.content %}"
    "{%- if c.type == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif 'text' in c %}{{ c.text }}{%- endif %}{%- endfor %}{%- endif %}<|im_end|>\n"
    "{%- endfor %}{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}"
)
"""A base-model-like chat template: no EduGraph prompt injected."""

CHANGES = {
    # addition: the model adds NumbersWithoutZero.
    "addition": {"Scope": ["NumbersSmaller20"]},
    # multiplication: the model misses ProcedureIdentification and adds its parent
    # ProcedureApplication (half credit when scoring hierarchy-aware).
    "multiplication": {"Ability": ["ProcedureExecution", "ProcedureIdentification"]},
    # counting: the model misses IntegerAddition and adds NumerationWithIntegers (unrelated).
    "counting": {"Area": ["IntegerAddition"]},
}


def run_eval(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlx_edugraph", "eval", *map(str, args)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=600,
    )


def figures(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def truth_record(path: Path, root: Path, changed: bool) -> dict:
    kind = path.stem.split("-", 1)[1]
    answer = json.loads(TAUGHT_ANSWERS[kind])
    if changed:
        answer.update(CHANGES.get(kind, {}))
    return {"path": str(path.relative_to(root)), **answer}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One worksheet of every kind, a truth file of the taught answers, and a changed one."""
    root = tmp_path_factory.mktemp("eval")
    paths = write_samples(root / "worksheets", 5, size=DEMO_PAGE_SIZE, seed=700)
    for name, changed in (("truth.jsonl", False), ("changed.jsonl", True)):
        records = [truth_record(p, root, changed) for p in paths]
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    return root


@pytest.fixture(scope="module")
def perfect_run(workspace: Path, taught_mlx_model: Path) -> subprocess.CompletedProcess:
    return run_eval(
        "--truth",
        workspace / "truth.jsonl",
        workspace / "worksheets",
        "--model",
        taught_mlx_model,
        "--ontology",
        ONTOLOGY_V04_RDF,
        "--db",
        workspace / "labels.sqlite",
        "--hierarchy",
        "--json",
        "--report",
        workspace / "report",
    )


def test_taught_answers_score_perfectly(perfect_run, workspace: Path) -> None:
    data = figures(perfect_run)
    assert "loading model" in perfect_run.stderr  # the pages were labeled first
    assert data["pages"] == 5 and data["errors"] == []
    assert data["outcomes"] == {"labeled": 4, "unsupported": 1}
    for dimension in ("Area", "Scope", "Ability"):
        scores = data["dimensions"][dimension]["scores"]
        assert {k: scores["micro"][k] for k in ("precision", "recall", "f1")} == {
            "precision": 1.0,
            "recall": 1.0,
            "f1": 1.0,
        }
        assert scores["macro_f1"] == 1.0 and scores["exact_match"] == 1.0
        assert scores["missed"] == [] and scores["added"] == []
        assert data["dimensions"][dimension]["hierarchy"]["f1"] == 1.0
    assert data["exact_match"] == 1.0
    assert data["predicted_terms"] == 16
    assert data["unknown_term_rate"] == 0.0 and data["unparseable_rate"] == 0.0
    assert data["unsupported_rate"] == 0.2
    assert data["unsupported"] == {
        "tp": 1,
        "fp": 0,
        "fn": 0,
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
    }
    calibration = data["calibration"]
    assert calibration["terms"] == 16
    assert all(b["precision"] == 1.0 for b in calibration["bins"] if b["count"])


def test_report_has_settings_provenance_and_svg_charts(perfect_run, workspace: Path) -> None:
    figures(perfect_run)
    report = (workspace / "report" / "report.md").read_text()
    assert "## Settings" in report and "v0.4.0" in report
    assert "4-bit (group size 64)" in report  # the model's conversion provenance
    assert "| Area | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | 100.0% |" in report
    for dimension in ("area", "scope", "ability"):
        assert f"({dimension}-terms.svg)" in report
        svg = ET.parse(workspace / "report" / f"{dimension}-terms.svg").getroot()
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert json.loads((workspace / "report" / "results.json").read_text())["pages"] == 5


def test_changed_truth_shows_exactly_the_misses(
    perfect_run, workspace: Path, taught_mlx_model
) -> None:
    figures(perfect_run)  # the store holds every prediction: nothing is labeled again
    result = run_eval(
        "--truth",
        workspace / "changed.jsonl",
        "--model",
        taught_mlx_model,
        "--ontology",
        ONTOLOGY_V04_RDF,
        "--db",
        workspace / "labels.sqlite",
        "--hierarchy",
        "--json",
    )
    data = figures(result)
    assert "loading model" not in result.stderr
    dims = {d: data["dimensions"][d] for d in ("Area", "Scope", "Ability")}
    area, scope, ability = (dims[d]["scores"] for d in ("Area", "Scope", "Ability"))
    assert (area["micro"]["tp"], area["micro"]["fp"], area["micro"]["fn"]) == (3, 1, 1)
    assert area["micro"]["f1"] == 0.75
    assert area["macro_precision"] == 0.75 and area["macro_recall"] == 0.625
    assert area["macro_f1"] == pytest.approx((2 / 3 + 1 + 0 + 1) / 4)
    assert area["missed"] == [["IntegerAddition", 1]]
    assert area["added"] == [["NumerationWithIntegers", 1]]
    assert (scope["micro"]["tp"], scope["micro"]["fp"], scope["micro"]["fn"]) == (6, 1, 0)
    assert scope["micro"]["precision"] == pytest.approx(6 / 7) and scope["micro"]["recall"] == 1.0
    assert scope["added"] == [["NumbersWithoutZero", 1]] and scope["missed"] == []
    assert (ability["micro"]["tp"], ability["micro"]["fp"], ability["micro"]["fn"]) == (4, 1, 1)
    assert ability["macro_f1"] == 0.5
    assert ability["missed"] == [["ProcedureIdentification", 1]]
    assert ability["added"] == [["ProcedureApplication", 1]]
    for scores in (area, scope, ability):
        assert scores["exact_match"] == 0.8
    assert data["exact_match"] == 0.4  # only the clock and the picture are right everywhere
    # Hierarchy-aware: ProcedureApplication is the parent of the missed ProcedureIdentification.
    assert dims["Ability"]["hierarchy"] == {
        "precision": pytest.approx(0.9),
        "recall": pytest.approx(0.9),
        "f1": pytest.approx(0.9),
        "credited": 1,
    }
    assert dims["Area"]["hierarchy"]["f1"] == 0.75  # NumerationWithIntegers is unrelated
    right = sum(b["precision"] * b["count"] for b in data["calibration"]["bins"] if b["count"])
    assert round(right) == 13  # 16 predicted terms, 3 of them wrong


def test_store_reviews_are_the_default_truth(
    perfect_run, workspace: Path, taught_mlx_model
) -> None:
    figures(perfect_run)
    db = workspace / "labels.sqlite"
    with Store(db) as store:
        for prediction in store.predictions():
            kind = Path(prediction.path).stem.split("-", 1)[1]
            labels = {**json.loads(TAUGHT_ANSWERS[kind]), **CHANGES.get(kind, {})}
            store.put_review(
                review_from(prediction, "accepted", labels if kind != "picture" else None)
            )
    for extra in (["--model", str(taught_mlx_model)], ["--latest"]):
        result = run_eval("--db", db, "--ontology", ONTOLOGY_V04_RDF, "--json", *extra)
        data = figures(result)
        assert data["pages"] == 5, extra
        assert data["exact_match"] == 0.4
        assert data["dimensions"]["Area"]["scores"]["missed"] == [["IntegerAddition", 1]]
        assert "reviews in" in data["settings"]["ground truth"]


def test_edugraph_meta_json_truth(perfect_run, workspace: Path, taught_mlx_model) -> None:
    figures(perfect_run)
    entries = [
        {
            "questionImage": f"worksheets/{path.name}",
            "labels": {
                d: [f"http://edugraph.io/edu#{t}" for t in json.loads(TAUGHT_ANSWERS[kind])[d]]
                for d in ("Area", "Scope", "Ability")
            },
        }
        for path in sorted((workspace / "worksheets").iterdir())
        if (kind := path.stem.split("-", 1)[1]) != "picture"
    ]
    (workspace / "meta.json").write_text(json.dumps(entries))
    args = ["--model", taught_mlx_model, "--db", workspace / "labels.sqlite"]
    data = figures(
        run_eval(
            "--truth", workspace / "meta.json", "--ontology", ONTOLOGY_V04_RDF, "--json", *args
        )
    )
    assert data["pages"] == 4 and data["exact_match"] == 1.0


def test_malformed_truth_file_is_one_clear_error(workspace: Path, taught_mlx_model) -> None:
    bad = workspace / "bad.jsonl"
    bad.write_text('{"path": "worksheets/001-addition.png", "Area": []}\n{"path": 3}\n')
    result = run_eval("--truth", bad, "--model", taught_mlx_model, "--db", workspace / "x.sqlite")
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f'error: {bad} line 2: needs "path" or "image": the worksheet file'
    )


@pytest.fixture(scope="session")
def taught_bf16_model(taught_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The taught checkpoint converted to MLX unquantized, in bfloat16."""
    from mlx_edugraph.tinymodel.mlx_conversion import quantize

    return quantize(
        taught_checkpoint, tmp_path_factory.mktemp("bf16") / "model", bits=None, dtype="bfloat16"
    )


def test_compare_bf16_with_4bit(workspace: Path, taught_bf16_model, taught_mlx_model) -> None:
    result = run_eval(
        "--compare",
        taught_bf16_model,
        taught_mlx_model,
        workspace / "worksheets",
        "--db",
        workspace / "compare.sqlite",
        "--ontology",
        ONTOLOGY_V04_RDF,
        "--report",
        workspace / "compare-report",
    )
    assert result.returncode == 0, result.stderr
    print(result.stdout)  # the figures, for the record (pytest -s)
    assert "Label agreement over 5 page(s)" in result.stdout
    assert "| Area | 100.0% | 1.000 |" in (workspace / "compare-report" / "report.md").read_text()
    data = json.loads((workspace / "compare-report" / "results.json").read_text())
    assert data["pages"] == 5 and data["outcome_agreement"] == 1.0 and data["exact_match"] == 1.0
    assert all(data["dimensions"][d]["exact"] == 1.0 for d in ("Area", "Scope", "Ability"))
    tokens = data["tokens"]
    assert tokens["pages"] == 5 and tokens["tokens"] > 5 * 10
    # Both builds give every taught answer exactly, so greedy picks agree; KL is small but > 0.
    assert tokens["top1_agreement"] == 1.0
    assert 0 < tokens["mean_kl"] < 0.05
    assert [m["provenance"].split(", ")[1] for m in data["models"]] == [
        "unquantized bfloat16",
        "4-bit (group size 64)",
    ]


def test_prompt_supplied_to_a_model_whose_template_lacks_it(
    workspace: Path, taught_bf16_model: Path, taught_mlx_model: Path, tmp_path: Path
) -> None:
    base = tmp_path / "base"
    shutil.copytree(taught_bf16_model, base)
    (base / "chat_template.jinja").write_text(PLAIN_TEMPLATE)
    args = ["--truth", workspace / "truth.jsonl", "--model", base, "--db", tmp_path / "db.sqlite"]
    args += ["--ontology", ONTOLOGY_V04_RDF, "--json"]
    without = figures(run_eval(*args, "--max-tokens", "48"))
    assert without["exact_match"] < 1.0  # untaught prompt: the answers fall apart
    supplied = figures(run_eval(*args, "--prompt-from", taught_mlx_model))
    assert supplied["exact_match"] == 1.0
    (model,) = supplied["models"]
    assert model["prompt"] == f"chat template of {taught_mlx_model}"
    assert "+prompt-" in model["fingerprint"]  # kept apart from the model's own results
