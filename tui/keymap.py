"""The review app's keys: one list, read by the app, the footer, help and the command palette."""

from __future__ import annotations

from textual.binding import Binding

# The footer shows the short descriptions, in this order, as far as the width allows (at
# 80 columns: q to x); help and the command palette the longer tooltips.
REVIEW_KEYS = [
    Binding("q", "quit", "Quit"),
    Binding(
        "ctrl+c",
        "quit",
        "Quit",
        tooltip="Quit, also from a text box (there q is a letter)",
        show=False,
        priority=True,
    ),
    Binding("question_mark", "help", "Help"),
    Binding("a", "accept", "Accept", tooltip="Accept the labels, go to the next to review"),
    Binding("z", "zoom", "Zoom", tooltip="Zoom: whole page, page width, 2x to 16x"),
    Binding("w", "toggle_list", "Pages", tooltip="Show or fold the list of pages"),
    Binding("f", "flag", "Flag", tooltip="Flag the page for a second look"),
    Binding("x,delete", "remove_term", "Remove", tooltip="Remove the highlighted label"),
    Binding("plus,i", "add_term", "Add", tooltip="Add a term"),
    Binding("u", "undo", "Undo"),
    Binding("n", "next_unreviewed", "Next", tooltip="Next page to review"),
    Binding("j", "page(1)", "Next page", show=False),
    Binding("k", "page(-1)", "Previous page", show=False),
    Binding("s", "toggle_sort", "Sort", tooltip="Sort by path / least confident first"),
    Binding(  # priority: before the keys typed right after it
        "slash", "filter", "Filter", tooltip="Filter by state, name or term", priority=True
    ),
    Binding("C", "coverage", "Coverage", tooltip="Coverage of the ontology"),
    Binding("t", "raw_text", "Raw text", tooltip="The model's raw answer", show=False),
    Binding(
        "o", "open_page", "Open page", tooltip="Open the page in the system viewer", show=False
    ),
    Binding("r", "rerun", "Re-run page", show=False),
    Binding("p", "pause", "Pause/resume", tooltip="Pause or resume labeling", show=False),
    Binding("c", "cancel", "Cancel labeling", show=False),
    Binding("l", "label_rest", "Label the rest", show=False),
    Binding("E", "export", "Export", tooltip="Export the reviewed labels", show=False),
    Binding("m", "similar", "More like this", tooltip="Pages most like this one", show=False),
    Binding(
        "g",
        "related",
        "Related & next",
        tooltip="Pages that practise the same, and what comes next and before",
        show=False,
    ),
    Binding(
        "escape",
        "show_all",
        "All pages",
        tooltip="Leave the filter box, show all pages (the page again, over the list)",
        show=False,
    ),
]
