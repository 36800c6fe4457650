"""Sizes every layer must agree on, defined once: the pages of the listings, the rows of a
prediction request, the points of a picture."""

from __future__ import annotations

#: Items in one page of `GET /jobs`, `/models` and `/datasets` when `limit` is left out.
DEFAULT_PAGE_SIZE = 100
#: The largest `limit` a listing accepts.
MAX_PAGE_SIZE = 1000
#: Rows in one prediction request unless NNSERVICE_MAX_PREDICT_ROWS says otherwise (the
#: `Settings` default; the CLI sends files in requests of this many rows).
DEFAULT_MAX_PREDICT_ROWS = 10_000
#: Rows per chunk of a batch prediction unless the request says otherwise: each chunk is one
#: task for the workers and one object of results in the object store.
DEFAULT_BATCH_CHUNK_ROWS = 10_000
#: The largest `chunk_rows` a batch prediction accepts.
MAX_BATCH_CHUNK_ROWS = 100_000
#: Points along each axis of `GET /models/{id}/decision-grid` when `steps` is left out, and the
#: most it accepts (a grid holds steps x steps probabilities).
DEFAULT_GRID_STEPS = 50
MAX_GRID_STEPS = 200
#: Rows `GET /datasets/{id}/rows` answers when `limit` is left out, and the largest `limit`.
DEFAULT_SAMPLE_ROWS = 2_000
MAX_SAMPLE_ROWS = 10_000
