"""Read Label Studio's JSON export: each annotation with its task, author, time and labels.

The file is checked whole before anything is used: a malformed one is refused with the place
in it (a JSON syntax error's line and column, or the path of the bad field, such as
`tasks[3].annotations[0].result[1].value.taxonomy`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from mlx_edugraph.labelstudio.config import UNSUPPORTED_NAME, UNSUPPORTED_VALUE
from mlx_edugraph.labelstudio.images import LOCAL_FILES_URL
from mlx_edugraph.prediction import DIMENSIONS


class MalformedExport(ValueError):
    """The file is not a Label Studio JSON export; the message names the place."""


@dataclass(frozen=True)
class Annotation:
    """One person's labels for one task."""

    task: str
    """The task's id in Label Studio."""
    id: str
    reviewer: str
    updated_at: datetime
    labels: dict[str, list[str]]
    unsupported: bool
    sha256: str
    """From the task's meta (our export puts it there); empty for other tasks."""
    path: str
    page: int
    image: str

    @property
    def origin(self) -> str:
        return f"label-studio task {self.task} annotation {self.id}"


@dataclass
class ExportContents:
    annotations: list[Annotation] = field(default_factory=list)
    tasks: int = 0
    cancelled: int = 0
    """Annotations a person skipped (Label Studio's "cancelled"): no labels to take."""
    unannotated: int = 0


def read_export(path: Path) -> ExportContents:
    """Every annotation in a Label Studio JSON export file."""
    try:
        data = json.loads(Path(path).read_bytes())
    except json.JSONDecodeError as exc:
        raise MalformedExport(
            f"{path}: not JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except UnicodeDecodeError as exc:
        raise MalformedExport(f"{path}: not UTF-8 text at byte {exc.start}") from None
    return parse_export(data, str(path))


def parse_export(data: object, name: str) -> ExportContents:
    if not isinstance(data, list):
        raise MalformedExport(f"{name}: expected a list of tasks (Label Studio's JSON export)")
    contents = ExportContents(tasks=len(data))
    for index, task in enumerate(data):
        place = f"{name}: tasks[{index}]"
        _expect(task, dict, place, "a task object")
        if "annotations" not in task:
            if "data" not in task and "id" in task:
                raise MalformedExport(
                    f"{place}: no `data` or `annotations`; this looks like the JSON-MIN "
                    "export: export the project as JSON instead"
                )
            contents.unannotated += 1
            continue
        contents_of_task = _task_annotations(task, place, index)
        if not contents_of_task:
            contents.unannotated += 1
        for annotation, cancelled in contents_of_task:
            if cancelled:
                contents.cancelled += 1
            else:
                contents.annotations.append(annotation)
    return contents


def _task_annotations(task: dict, place: str, index: int) -> list[tuple[Annotation, bool]]:
    data = task.get("data", {})
    _expect(data, dict, f"{place}.data", "an object")
    meta = task.get("meta") or {}
    _expect(meta, dict, f"{place}.meta", "an object")
    page = data.get("page", meta.get("page", 0))
    if not isinstance(page, int) or isinstance(page, bool) or page < 0:
        raise MalformedExport(f"{place}.data.page: expected a page number, got {page!r}")
    image = data.get("image", "")
    _expect(image, str, f"{place}.data.image", "a string")
    sha256 = meta.get("sha256") or ""
    _expect(sha256, str, f"{place}.meta.sha256", "a string")
    path = data.get("path") or meta.get("path") or ""
    _expect(path, str, f"{place}.data.path", "a string")
    annotations = task["annotations"]
    _expect(annotations, list, f"{place}.annotations", "a list")
    found = []
    for number, item in enumerate(annotations):
        where = f"{place}.annotations[{number}]"
        _expect(item, dict, where, "an annotation object")
        labels, unsupported = _labels(item.get("result", []), f"{where}.result")
        annotation = Annotation(
            task=str(task.get("id", f"#{index}")),
            id=str(item.get("id", number)),
            reviewer=_reviewer(item.get("completed_by"), f"{where}.completed_by"),
            updated_at=_time(item.get("updated_at") or item.get("created_at"), where),
            labels=labels,
            unsupported=unsupported,
            sha256=sha256,
            path=path,
            page=page,
            image=image,
        )
        found.append((annotation, bool(item.get("was_cancelled"))))
    return found


def _labels(result: object, place: str) -> tuple[dict[str, list[str]], bool]:
    """Terms per dimension (a taxonomy path's last name is its term) and the unsupported
    choice. Results of other controls are not ours and are passed over."""
    _expect(result, list, place, "a list of results")
    labels: dict[str, list[str]] = {d: [] for d in DIMENSIONS}
    unsupported = False
    for number, item in enumerate(result):
        where = f"{place}[{number}]"
        _expect(item, dict, where, "a result object")
        name = item.get("from_name")
        value = item.get("value")
        if name not in (*DIMENSIONS, UNSUPPORTED_NAME):
            continue
        _expect(value, dict, f"{where}.value", "an object")
        if name == UNSUPPORTED_NAME:
            choices = value.get("choices", [])
            _expect(choices, list, f"{where}.value.choices", "a list")
            unsupported = unsupported or UNSUPPORTED_VALUE in choices
            continue
        for term in _terms(value, f"{where}.value"):
            if term not in labels[name]:
                labels[name].append(term)
    return labels, unsupported


def _terms(value: dict, place: str) -> list[str]:
    if "taxonomy" in value:
        paths = value["taxonomy"]
        _expect(paths, list, f"{place}.taxonomy", "a list of paths")
        terms = []
        for number, chain in enumerate(paths):
            where = f"{place}.taxonomy[{number}]"
            if (
                not isinstance(chain, list)
                or not chain
                or not all(isinstance(name, str) for name in chain)
            ):
                raise MalformedExport(f"{where}: expected a path of term names, got {chain!r}")
            terms.append(chain[-1])
        return terms
    choices = value.get("choices")  # exports of mlx-edugraph before the taxonomy config
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise MalformedExport(f"{place}: expected `taxonomy` paths or `choices` names")
    return list(choices)


def _reviewer(value: object, place: str) -> str:
    """Label Studio's JSON export names the annotator by user id; some exports give the user."""
    if isinstance(value, dict):
        return str(value.get("email") or value.get("username") or value.get("id", ""))
    if isinstance(value, int) and not isinstance(value, bool):
        return f"label-studio user {value}"
    if value is None:
        return ""
    raise MalformedExport(f"{place}: expected a user id or object, got {value!r}")


def _time(value: object, place: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedExport(f"{place}.updated_at: expected a time, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedExport(f"{place}.updated_at: not an ISO time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _expect(value: object, kind: type, place: str, what: str) -> None:
    if not isinstance(value, kind):
        raise MalformedExport(f"{place}: expected {what}, got {type(value).__name__}")


def local_file(image: str, root: Path) -> str:
    """The file a local-files URL names under Label Studio's document root, else ""."""
    if not image.startswith(LOCAL_FILES_URL):
        return ""
    relative = parse_qs(urlsplit(image).query).get("d", [""])[0]
    return str(root / relative) if relative else ""
