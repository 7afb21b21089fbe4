"""`export --vectors`: every labeled page's competence vector, for a vector database.

NumPy: FILE.npy holds the float32 matrix (one row per page) and FILE.json beside it the index
(each row's page and labels, the columns, the measure). Parquet (with pyarrow, when installed):
one row per page with its labels and its vector, the columns in the file's metadata.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from mlx_edugraph.paths import write_atomic
from mlx_edugraph.prediction import DIMENSIONS
from mlx_edugraph.store.competence_index import CompetenceIndex

VECTOR_SUFFIXES = {".npy": "numpy", ".parquet": "parquet"}

MEASURE = (
    "competence vectors (docs/related.md): per dimension, the page's terms and their ancestors "
    "weighted 1 + ln((1 + N) / (1 + descendants)), each dimension's block of length 1/sqrt(3); "
    "the dot product of two rows is the mean of the per-dimension cosines"
)


class ParquetUnavailable(Exception):
    """pyarrow is not installed: Parquet cannot be written."""


def export_vectors(index: CompetenceIndex, out: Path) -> int:
    """Write the vectors of every page of `index` to `out` (.npy or .parquet); the page count."""
    pages = list(index.pages())
    matrix = index.matrix[[row for *_, row in pages]] if pages else index.matrix[:0]
    columns = [list(column) for column in index.space.columns]
    if out.suffix.lower() == ".parquet":
        _parquet(index, pages, matrix, columns, out)
        return len(pages)
    records = [
        {
            "row": i,
            "path": path,
            "page": page,
            "sha256": key,
            **{d: sorted(t) for d, t in zip(DIMENSIONS, index.sets[group], strict=True)},
        }
        for i, (path, key, page, group) in enumerate(pages)
    ]
    meta = {"measure": MEASURE, "ontology": index.space.ontology.version, "columns": columns}
    buffer = io.BytesIO()
    np.save(buffer, matrix)
    write_atomic(out, buffer.getvalue())
    text = json.dumps({**meta, "pages": records}, ensure_ascii=False)
    write_atomic(out.with_suffix(".json"), text.encode())
    return len(pages)


def _parquet(index, pages, matrix, columns, out: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ParquetUnavailable from None
    width = matrix.shape[1]
    table = pa.table(
        {
            "path": [p for p, *_ in pages],
            "page": [page for _, _, page, _ in pages],
            "sha256": [key for _, key, *_ in pages],
            **{d: [sorted(index.sets[g][i]) for *_, g in pages] for i, d in enumerate(DIMENSIONS)},
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), width),
        }
    )
    meta = {"measure": MEASURE, "ontology": index.space.ontology.version, "columns": columns}
    table = table.replace_schema_metadata({"mlx_edugraph": json.dumps(meta)})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    write_atomic(out, buffer.getvalue())
