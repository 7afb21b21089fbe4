"""The report beside each tuned version: what it learned from and how it did on held-out pages."""

from __future__ import annotations

from mlx_edugraph.prediction import DIMENSIONS


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def report_lines(record: dict) -> list[str]:
    """Markdown: the verdict, the before/after table, per-Area F1 and the pages used."""
    before, after = record["scores"]["before"], record["scores"]["after"]
    against = record["measured_against"]["version"]
    state = "promoted" if record["promoted"] else "kept aside (not promoted)"
    lines = [
        f"# Model version {record['name']}: {state}",
        "",
        f"- Base model: `{record['base']['path']}` ({record['base']['fingerprint']})",
        f"- Fingerprint: {record['fingerprint']}; "
        f"adapter sha256 {record['adapter']['sha256'][:16]}",
        f"- Learned from {len(record['training_pages'])} reviewed page(s) of "
        f"{record['source'].partition(':')[2]}; {len(record['held_out_pages'])} held out",
        f"- Settings: {', '.join(f'{k} {v}' for k, v in record['settings'].items())}",
        f"- Verdict ({record['promotion']}): " + "; ".join(record["verdict"]["reasons"]),
        "",
        f"| held-out F1 | {against} (in use) | tuned |",
        "|---|---:|---:|",
        f"| all three dimensions | {_cell(before['f1'])} | {_cell(after['f1'])} |",
    ]
    for dimension in DIMENSIONS:
        lines.append(
            f"| {dimension} | {_cell(before['dimensions'][dimension])} | "
            f"{_cell(after['dimensions'][dimension])} |"
        )
    lines.append(
        f"| exact match | {_cell(before['exact_match'])} | {_cell(after['exact_match'])} |"
    )
    lines += ["", "| held-out F1 by Area | pages | before | after |", "|---|---:|---:|---:|"]
    counts: dict[str, int] = {}
    for page in record["held_out_pages"]:
        counts[page.get("area", "")] = counts.get(page.get("area", ""), 0) + 1
    for area in before["by_area"]:
        lines.append(
            f"| {area} | {counts.get(area, '')} | {_cell(before['by_area'][area])} | "
            f"{_cell(after['by_area'].get(area))} |"
        )
    left = {k: v for k, v in record["left_out"].items() if v}
    if left:
        lines += ["", "Left out: " + ", ".join(f"{v} {k}" for k, v in left.items())]
    return lines


def report_text(record: dict) -> str:
    return "\n".join(report_lines(record)) + "\n"
