"""The README's screenshots of the review app are what `tui/screenshots.py` makes today.

They are made from the session's demo model. Their labels pane shows the real ontology's
breadcrumbs and definitions, so the test needs `../shared` and skips in a lone checkout. The
demo model built there (another chat template, other confidences) makes the same bytes when
given the real ontology: checked by hand with a lone clone, since one session has one build.
"""

from __future__ import annotations

from pathlib import Path

from mlx_edugraph.tinymodel.demo import demo_worksheets
from mlx_edugraph.tui.screenshots import COMMAND, DOCS, SHOTS, make_screenshots
from tests.conftest import ONTOLOGY_V04_TTL
from tests.ontology_files import needs_shared


@needs_shared("ontology/edugraph-v0.4.0.ttl")
def test_committed_screenshots_are_current(taught_mlx_model: Path) -> None:
    shots = make_screenshots(taught_mlx_model, ONTOLOGY_V04_TTL, demo_worksheets())
    assert set(shots) == set(SHOTS)
    stale = [name for name, svg in shots.items() if (DOCS / name).read_text("utf-8") != svg]
    assert not stale, f"docs/{', docs/'.join(stale)} stale: regenerate with `{COMMAND}`"
