"""`eval --report DIR`: a Markdown report with SVG bar charts, the settings and each model's
provenance, plus the figures as JSON, so a result can be read, shared and traced back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlx_edugraph.evaluation.model_info import ModelInfo
from mlx_edugraph.evaluation.scoring import Evaluation
from mlx_edugraph.evaluation.svg_chart import bar_chart
from mlx_edugraph.evaluation.tables import Section, model_section, render_markdown
from mlx_edugraph.paths import write_atomic
from mlx_edugraph.prediction import DIMENSIONS

if TYPE_CHECKING:
    from mlx_edugraph.evaluation.comparison import Comparison

REPORT_FILE = "report.md"
DATA_FILE = "results.json"


def term_charts(result: Evaluation) -> dict[str, str]:
    """Per dimension, each term's precision and recall (terms seen most often first)."""
    charts = {}
    for dimension in DIMENSIONS:
        per_term = result.dimensions[dimension].scores.per_term
        order = sorted(per_term, key=lambda t: (-(per_term[t].tp + per_term[t].fn), t))
        rows = [(t, [per_term[t].precision, per_term[t].recall]) for t in order]
        charts[f"{dimension.lower()}-terms.svg"] = bar_chart(
            f"{dimension}: precision and recall per term", rows, ["precision", "recall"]
        )
    return charts


def agreement_chart(result: Comparison) -> dict[str, str]:
    """Per dimension, model B's exact-set agreement and mean Jaccard with model A."""
    rows = [(d, [result.dimensions[d].exact, result.dimensions[d].jaccard]) for d in DIMENSIONS]
    return {
        "agreement.svg": bar_chart(
            "Label agreement of model B with model A", rows, ["exact set", "mean Jaccard"]
        )
    }


def write_report(
    folder: Path,
    *,
    title: str,
    settings: dict[str, str],
    models: Sequence[ModelInfo],
    roles: Sequence[str] = (),
    sections: Sequence[Section],
    charts: dict[str, str],
    data: dict,
    note: str = "",
) -> Path:
    """Write `report.md`, the charts and `results.json` into `folder`; return the report."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", ""]
    if note:
        lines += [f"> **{note}**", ""]
    setting_rows = [[key, value] for key, value in settings.items()]
    lines.append(render_markdown([Section("Settings", ["setting", "value"], setting_rows)]))
    lines.append(render_markdown([model_section("Models", models, roles)]))
    lines.append(render_markdown(sections))
    if charts:
        lines += ["## Charts", ""]
        lines += [f"![{name.removesuffix('.svg')}]({name})\n" for name in charts]
    for name, svg in charts.items():
        write_atomic(folder / name, svg.encode())
    write_atomic(folder / DATA_FILE, (json.dumps(data, indent=2) + "\n").encode())
    report = folder / REPORT_FILE
    write_atomic(report, ("\n".join(lines).rstrip() + "\n").encode())
    return report
