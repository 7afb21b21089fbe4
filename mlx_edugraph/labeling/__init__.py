"""Stage 5, pages through an engine into the store: choosing the local or remote engine, the
batch run (resume, prefetch, per-file errors) and its progress line."""
