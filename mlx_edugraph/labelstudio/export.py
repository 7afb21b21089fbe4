"""Write an export Label Studio takes as it is: the tasks, the labeling config beside them,
and the rendered pages browsers cannot show from the original files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlx_edugraph.labels.ontology import Ontology
from mlx_edugraph.labelstudio.config import TermTree
from mlx_edugraph.labelstudio.images import ImageLinks, link_images
from mlx_edugraph.labelstudio.tasks import extra_terms, task
from mlx_edugraph.pages.worksheets import DEFAULT_MAX_PIXELS
from mlx_edugraph.paths import write_atomic
from mlx_edugraph.store.export_reviewed import ReviewedPage


@dataclass
class LabelStudioExport:
    tasks: Path
    config: Path
    count: int
    links: ImageLinks


def config_path(out: Path) -> Path:
    """`tasks.json` -> `tasks.label_config.xml`, beside it."""
    return out.with_name(out.stem + ".label_config.xml")


def pages_dir(out: Path) -> Path:
    """Where pages are rendered for the browser: `tasks.json` -> `tasks-pages/`."""
    return out.with_name(out.stem + "-pages")


def export_label_studio(
    pages: list[ReviewedPage],
    out: Path,
    ontology: Ontology | None,
    *,
    image_root: Path | None = None,
    url_prefix: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> LabelStudioExport:
    """Write the tasks to `out` and the labeling config beside it, each atomically."""
    links = link_images(
        [(p.prediction.path, p.prediction.sha256, p.prediction.page) for p in pages],
        pages_dir(out),
        root=image_root,
        url_prefix=url_prefix,
        max_pixels=max_pixels,
    )
    tree = TermTree(ontology, extra_terms(pages))
    tasks = []
    for page in pages:
        p = page.prediction
        tasks.append(task(page, links.urls[(p.sha256 or p.path, p.page)], tree))
    config = config_path(out)
    write_atomic(config, tree.config().encode())
    write_atomic(out, (json.dumps(tasks, ensure_ascii=False, indent=1) + "\n").encode())
    return LabelStudioExport(out, config, len(tasks), links)


def serving_advice(export: LabelStudioExport) -> str:
    """What Label Studio needs to show the images: printed after an export."""
    links = export.links
    if not links.storages:
        return f"images link to URLs for files under {links.root}"
    storages = " and ".join(str(s) for s in links.storages)
    return (
        "Label Studio shows these images when started with "
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true "
        f"LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={links.root}, in a project with the config "
        f"{export.config.name} and a Local files storage of {storages} "
        "(docs/label-studio.md)"
    )
