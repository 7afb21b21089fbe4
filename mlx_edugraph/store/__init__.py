"""Stage 3, labels kept: the SQLite store of predictions and reviews, a person's review
actions (each one a store row), each page's review state, and the exports."""
