"""The figures of an evaluation or a comparison as titled tables, for the terminal and reports.

Built once here and rendered twice (aligned text, Markdown), so the terminal and the report
never disagree about what a figure is called or how it is rounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlx_edugraph.evaluation.metrics import HIERARCHY_DECAY
from mlx_edugraph.evaluation.model_info import ModelInfo
from mlx_edugraph.evaluation.scoring import Evaluation
from mlx_edugraph.prediction import DIMENSIONS

if TYPE_CHECKING:
    from mlx_edugraph.evaluation.comparison import Comparison  # imports MLX

TOP_TERMS = 5
"""How many of the most often missed and wrongly added terms are listed per dimension."""


@dataclass
class Section:
    """A titled table (headers and rows of text) with sentences after it."""

    title: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def num(value: float | None, digits: int = 3) -> str:
    """A ratio to `digits` decimals; '–' when it is undefined (nothing to divide by)."""
    return "–" if value is None else f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _top(items: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{term} ×{count}" for term, count in items[:TOP_TERMS]) or "–"


def model_section(title: str, models: Sequence[ModelInfo], roles: Sequence[str] = ()) -> Section:
    """Which models: name, fingerprint, provenance, any supplied prompt; roles (A, B) first."""
    rows = []
    for i, m in enumerate(models):
        provenance = m.provenance + (f"; prompt from {m.prompt}" if m.prompt else "")
        rows.append([*([roles[i]] if roles else []), m.name, m.fingerprint, provenance])
    headers = ["model", "fingerprint", "provenance"]
    return Section(title, [*(["role"] if roles else []), *headers], rows)


def evaluation_sections(result: Evaluation) -> list[Section]:
    """Scores per dimension, hierarchy-aware scores, answers, frequent errors, calibration."""
    outcomes = ", ".join(f"{name} {count}" for name, count in result.outcomes.items())
    scores = Section(
        f"Scores over {result.pages} page(s) ({outcomes or 'none'})",
        ["dimension", "micro P", "micro R", "micro F1", "macro P", "macro R", "macro F1", "exact"],
    )
    for dimension in DIMENSIONS:
        s = result.dimensions[dimension].scores
        scores.rows.append(
            [
                dimension,
                num(s.micro.precision),
                num(s.micro.recall),
                num(s.micro.f1),
                num(s.macro_precision),
                num(s.macro_recall),
                num(s.macro_f1),
                pct(s.exact_match),
            ]
        )
    scores.notes.append(
        f"All three dimensions exactly right (UnsupportedMaterial included): "
        f"{pct(result.exact_match)} of pages. Macro averages weigh every term in the truth "
        "or the predictions equally (an undefined ratio counts 0, as in scikit-learn)."
    )
    sections = [scores]
    if all(result.dimensions[d].hierarchy for d in DIMENSIONS):
        hierarchy = Section(
            "Hierarchy-aware scores (reported separately)",
            ["dimension", "P", "R", "F1", "ancestors credited"],
        )
        for dimension in DIMENSIONS:
            h = result.dimensions[dimension].hierarchy
            hierarchy.rows.append(
                [dimension, num(h.precision), num(h.recall), num(h.f1), str(h.credited)]
            )
        hierarchy.notes.append(
            f"A predicted ancestor of a missed true term counts {HIERARCHY_DECAY:g} per step "
            f"up the EduGraph hierarchy (parent {HIERARCHY_DECAY:g}, grandparent "
            f"{HIERARCHY_DECAY**2:g}) on both the precision and the recall side."
        )
        sections.append(hierarchy)
    u = result.unsupported
    sections.append(
        Section(
            "Answers",
            ["measure", "value"],
            [
                ["unsupported answers (UnsupportedMaterial)", pct(result.unsupported_rate)],
                ["unparseable or truncated answers", pct(result.unparseable_rate)],
                ["predicted terms", str(result.predicted_terms)],
                ["unknown terms (not in the ontology)", pct(result.unknown_term_rate)],
                ["terms of the wrong dimension", pct(result.wrong_dimension_rate)],
                [
                    "UnsupportedMaterial detection P / R",
                    f"{num(u.precision)} / {num(u.recall)} (tp {u.tp}, fp {u.fp}, fn {u.fn})",
                ],
            ],
        )
    )
    sections.append(
        Section(
            "Most often missed and wrongly added terms",
            ["dimension", "missed", "wrongly added"],
            [
                [
                    d,
                    _top(result.dimensions[d].scores.missed),
                    _top(result.dimensions[d].scores.added),
                ]
                for d in DIMENSIONS
            ],
        )
    )
    calibration = result.calibration
    reliability = Section(
        f"Confidence calibration ({calibration.terms} predicted terms with a confidence)",
        ["confidence", "terms", "mean confidence", "observed precision"],
        [
            [f"{b.low:.2f}–{b.high:.2f}", str(b.count), num(b.mean_confidence), num(b.precision)]
            for b in calibration.bins
            if b.count
        ],
    )
    reliability.notes.append(
        f"Expected calibration error: {num(calibration.expected_calibration_error)} "
        "(mean |precision − confidence| over bins, weighted by terms; 0 is perfect)."
    )
    sections.append(reliability)
    if result.errors:
        sections.append(
            Section(
                f"Left out ({len(result.errors)} true page(s) not scored)",
                ["page", "reason"],
                [[e.origin, e.reason] for e in result.errors],
            )
        )
    return sections


def comparison_sections(result: Comparison) -> list[Section]:
    """Label agreement per dimension and answer-token agreement of model B with model A."""
    labels = Section(
        f"Label agreement over {result.pages} page(s)",
        ["dimension", "exact-set agreement", "mean Jaccard"],
        [
            [d, pct(result.dimensions[d].exact), num(result.dimensions[d].jaccard)]
            for d in DIMENSIONS
        ],
    )
    labels.notes.append(
        f"Same outcome: {pct(result.outcome_agreement)} of pages; same outcome and the same "
        f"terms in all three dimensions: {pct(result.exact_match)}."
    )
    sections = [labels]
    t = result.tokens
    tokens = Section("Answer-token agreement (teacher-forced on model A's answers)")
    if t is None:
        tokens.notes.append("No page could be compared.")
    else:
        tokens.headers = ["pages", "tokens", "top-1 agreement", "mean KL (nats)", "max KL"]
        tokens.rows = [
            [
                str(t.pages),
                str(t.tokens),
                pct(t.top1_agreement),
                f"{t.mean_kl:.4g}",
                f"{t.max_kl:.4g}",
            ]
        ]
        tokens.notes.append(
            "The converter's verification measure: both models read A's greedy answer; at each "
            "answer token, does B's most likely token match A's, and KL(A || B)."
        )
    sections.append(tokens)
    if result.errors:
        sections.append(
            Section(
                f"Left out ({len(result.errors)} page(s) a model could not answer)",
                ["page", "reason"],
                [[e.origin, e.reason] for e in result.errors],
            )
        )
    return sections


def render_text(sections: Sequence[Section]) -> str:
    """Aligned plain-text tables for the terminal."""
    out: list[str] = []
    for section in sections:
        out += [section.title, "-" * len(section.title)]
        if section.headers:
            table = [section.headers, *section.rows]
            widths = [max(len(row[i]) for row in table) for i in range(len(section.headers))]
            for row in table:
                cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                out.append("  ".join(cells).rstrip())
        out += section.notes
        out.append("")
    return "\n".join(out)


def render_markdown(sections: Sequence[Section], level: int = 2) -> str:
    """The same tables in Markdown."""
    out: list[str] = []
    for section in sections:
        out += [f"{'#' * level} {section.title}", ""]
        if section.headers:
            out.append("| " + " | ".join(section.headers) + " |")
            out.append("|" + "---|" * len(section.headers))
            out += [
                "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in section.rows
            ]
            out.append("")
        if section.notes:
            out += [*section.notes, ""]
    return "\n".join(out)
