"""The coverage report as one self-contained HTML page (inline SVG, no scripts, fonts or network)
or as Markdown: trees with counts, gaps, Area x Scope, confidence, review progress."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from mlx_edugraph.evaluation.coverage import CONFIDENCE_BINS, Coverage, Node, walk
from mlx_edugraph.prediction import DIMENSIONS

HEAT_LIMIT = 25
"""At most this many Area and Scope terms (the most frequent) in the co-occurrence map."""

_STYLE = """
body { font-family: -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #1f2937; }
h1, h2, h3 { font-weight: 600; } section { margin-bottom: 2.5em; }
ul.tree { list-style: none; padding-left: 1.2em; margin: 0; }
ul.tree li { margin: 1px 0; } .count { color: #6b7280; font-variant-numeric: tabular-nums; }
.none { color: #b91c1c; } .bar { display: inline-block; height: 0.7em; background: #2563eb;
  margin-left: 0.5em; vertical-align: middle; }
table { border-collapse: collapse; } td, th { border: 1px solid #e5e7eb; padding: 2px 8px; }
"""


@dataclass
class Section:
    """One titled part of the report: a folder's pages, or all of them."""

    title: str
    coverage: Coverage


@dataclass
class Duplicates:
    """The duplicate sheets among the reported pages (`mlx-edugraph duplicates`)."""

    note: str
    """How they were found, and the pages that could not be compared."""
    groups: list[list[str]]
    """Each group's page names."""


def html_report(
    title: str, header: list[str], sections: list[Section], duplicates: Duplicates | None = None
) -> str:
    """The whole report as one HTML document."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in header) + "</ul>",
    ]
    for section in sections:
        parts.append(_html_section(section))
    if duplicates is not None:
        parts.append(_html_duplicates(duplicates))
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_duplicates(duplicates: Duplicates) -> str:
    out = ["<section><h2>Near-duplicates</h2>", f"<p>{escape(duplicates.note)}</p>"]
    if not duplicates.groups:
        out.append("<p>No near-duplicate pages.</p>")
    for number, group in enumerate(duplicates.groups, start=1):
        out.append(f"<h3>Group {number}: {len(group)} pages</h3><ul>")
        out += [f"<li>{escape(name)}</li>" for name in group]
        out.append("</ul>")
    out.append("</section>")
    return "\n".join(out)


def _markdown_duplicates(duplicates: Duplicates) -> list[str]:
    lines = ["", "## Near-duplicates", "", duplicates.note, ""]
    if not duplicates.groups:
        lines.append("No near-duplicate pages.")
    for number, group in enumerate(duplicates.groups, start=1):
        lines += [f"### Group {number}: {len(group)} pages", ""]
        lines += [f"- {name}" for name in group]
        lines.append("")
    return lines


def _html_section(section: Section) -> str:
    c = section.coverage
    out = [f"<section><h2>{escape(section.title)}</h2>", f"<p>{escape(_summary(c))}</p>"]
    out.append(progress_svg(c))
    if c.trees:
        for dimension in DIMENSIONS:
            out.append(f"<h3>{dimension} coverage</h3>")
            out.append(_html_tree(c.trees[dimension], max(c.pages, 1)))
            gaps = c.gaps[dimension]
            missing = {branch: terms for branch, terms in gaps.items() if terms}
            if missing:
                out.append(f"<h3>{dimension} gaps: terms no page has</h3><ul>")
                for branch, terms in missing.items():
                    text = escape(_gap_text(branch, terms))
                    out.append(f"<li><b>{escape(branch)}</b>: {text}</li>")
                out.append("</ul>")
    else:
        out.append("<p>No ontology at hand: no trees or gaps; every term is unverified.</p>")
    out.append("<h3>Area &times; Scope</h3>")
    out.append(heatmap_svg(c))
    out.append("<h3>Confidence of predicted pages (least confident label)</h3>")
    out.append(confidence_svg(c))
    if c.unknown:
        out.append("<h3>Terms not in the ontology</h3><table><tr><th>dimension</th>")
        out.append("<th>term</th><th>pages</th></tr>")
        for dimension, terms in c.unknown.items():
            for term, count in terms.most_common():
                out.append(f"<tr><td>{dimension}</td><td>{escape(term)}</td><td>{count}</td></tr>")
        out.append("</table>")
    out.append("</section>")
    return "\n".join(out)


def _gap_text(branch: str, terms: list[str]) -> str:
    return "no page in this branch" if terms == [branch] else ", ".join(terms)


def _summary(c: Coverage) -> str:
    outcomes = ", ".join(f"{n} {name}" for name, n in sorted(c.outcomes.items()))
    gone = f"; {c.gone} whose file is gone (still counted)" if c.gone else ""
    return (
        f"{c.pages} page(s) ({outcomes}). Labels counted: a person's for {c.reviewed} "
        f"reviewed page(s), the newest prediction's for the other {c.pages - c.reviewed}{gone}."
    )


def _html_tree(nodes: list[Node], total: int) -> str:
    items = []
    for node in nodes:
        width = round(120 * node.below / total)
        count = (
            f'<span class="count">{node.below} ({node.at} at this term)</span>'
            if node.below
            else '<span class="none">none</span>'
        )
        bar = f'<span class="bar" style="width:{width}px"></span>' if width else ""
        children = _html_tree(node.children, total) if node.children and node.below else ""
        items.append(f"<li>{escape(node.term)} {count}{bar}{children}</li>")
    return '<ul class="tree">' + "".join(items) + "</ul>"


def progress_svg(c: Coverage) -> str:
    """A stacked bar: reviewed, flagged, not yet reviewed."""
    width, height = 600, 46
    parts = [_svg_open(width, height, "review progress")]
    x = 0.0
    for name, count, colour in (
        ("reviewed", c.reviewed, "#16a34a"),
        ("flagged", c.flagged, "#ea7808"),
        ("left", c.unreviewed, "#9ca3af"),
    ):
        share = width * count / c.pages if c.pages else 0
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{share:.1f}" height="20" fill="{colour}">'
            f"<title>{name}: {count}</title></rect>"
        )
        x += share
    legend = f"reviewed {c.reviewed} · flagged {c.flagged} · left {c.unreviewed}"
    parts.append(f'<text x="0" y="38">{escape(legend)}</text></svg>')
    return "".join(parts)


def confidence_svg(c: Coverage) -> str:
    """Pages per tenth of confidence, as vertical bars."""
    width, height, top = 440, 170, 10
    peak = max(c.confidence) or 1
    step = (width - 40) / CONFIDENCE_BINS
    parts = [_svg_open(width, height, "confidence distribution")]
    for i, count in enumerate(c.confidence):
        bar = 120 * count / peak
        x = 30 + i * step
        parts.append(
            f'<rect x="{x:.1f}" y="{top + 120 - bar:.1f}" width="{step - 4:.1f}" '
            f'height="{bar:.1f}" fill="#2563eb"><title>{i / 10:.1f}-{(i + 1) / 10:.1f}: '
            f"{count}</title></rect>"
        )
        parts.append(f'<text x="{x:.1f}" y="{top + 136}">{i / 10:.1f}</text>')
    parts.append(f'<text x="30" y="{height - 8}">pages per tenth of confidence</text></svg>')
    return "".join(parts)


def heatmap_svg(c: Coverage) -> str:
    """Pages per (Area, Scope) pair, darker for more; the most frequent terms only."""
    areas = _most_frequent({a for a, _ in c.cooccurrence}, c, 0)
    scopes = _most_frequent({s for _, s in c.cooccurrence}, c, 1)
    cell, left, top = 22, 190, 150
    width = left + cell * max(len(scopes), 1) + 10
    height = top + cell * max(len(areas), 1) + 10
    peak = max(c.cooccurrence.values(), default=1)
    parts = [_svg_open(width, height, "Area by Scope")]
    for j, scope in enumerate(scopes):
        x = left + j * cell + cell / 2
        parts.append(
            f'<text transform="translate({x:.0f},{top - 6}) rotate(-60)">{escape(scope)}</text>'
        )
    for i, area in enumerate(areas):
        y = top + i * cell
        parts.append(f'<text x="4" y="{y + 15}">{escape(area)}</text>')
        for j, scope in enumerate(scopes):
            count = c.cooccurrence.get((area, scope), 0)
            shade = 0.08 + 0.92 * count / peak if count else 0
            parts.append(
                f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="#1d4ed8" fill-opacity="{shade:.2f}" stroke="#e5e7eb">'
                f"<title>{escape(area)} × {escape(scope)}: {count}</title></rect>"
            )
    if not areas:
        parts.append(f'<text x="4" y="{top + 15}">no page has both an Area and a Scope</text>')
    parts.append("</svg>")
    return "".join(parts)


def _most_frequent(terms: set[str], c: Coverage, side: int) -> list[str]:
    totals = {t: 0 for t in terms}
    for pair, count in c.cooccurrence.items():
        totals[pair[side]] += count
    return sorted(totals, key=lambda t: (-totals[t], t))[:HEAT_LIMIT]


def _svg_open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="11">'
    )


def markdown_report(
    title: str, header: list[str], sections: list[Section], duplicates: Duplicates | None = None
) -> str:
    """The same report in Markdown: trees as nested lists, the co-occurrence as a table."""
    lines = [f"# {title}", "", *[f"- {line}" for line in header], ""]
    for section in sections:
        c = section.coverage
        lines += [f"## {section.title}", "", _summary(c), ""]
        lines.append(f"Review progress: {c.reviewed} reviewed, {c.flagged} flagged, "
                     f"{c.unreviewed} left.")  # fmt: skip
        for dimension in DIMENSIONS if c.trees else ():
            lines += ["", f"### {dimension} coverage", ""]
            for depth, node in walk(c.trees[dimension]):
                if depth and not _parent_has_pages(c.trees[dimension], node):
                    continue
                count = f"{node.below} ({node.at} at this term)" if node.below else "none"
                lines.append(f"{'  ' * depth}- {node.term}: {count}")
            missing = {b: t for b, t in c.gaps[dimension].items() if t}
            if missing:
                lines += ["", f"{dimension} gaps (terms no page has):", ""]
                lines += [f"- **{b}**: {_gap_text(b, t)}" for b, t in missing.items()]
        pairs = c.cooccurrence.most_common(HEAT_LIMIT)
        if pairs:
            lines += ["", "### Area × Scope (most frequent pairs)", "", "| Area | Scope | pages |"]
            lines.append("|---|---|---:|")
            lines += [f"| {a} | {s} | {n} |" for (a, s), n in pairs]
        bins = " · ".join(f"{i / 10:.1f}: {n}" for i, n in enumerate(c.confidence))
        lines += ["", f"Confidence of predicted pages (least confident label): {bins}"]
        if c.unknown:
            lines += ["", "### Terms not in the ontology", ""]
            for dimension, terms in c.unknown.items():
                lines += [f"- {dimension} {t}: {n}" for t, n in terms.most_common()]
        lines.append("")
    if duplicates is not None:
        lines += _markdown_duplicates(duplicates)
    return "\n".join(lines)


def _parent_has_pages(roots: list[Node], target: Node) -> bool:
    """Whether some parent of `target` has pages (a branch with none is listed once, at top)."""
    return any(target in node.children and node.below for _, node in walk(roots))
