"""Sizes every layer must agree on, defined once: the pages of the listings."""

from __future__ import annotations

#: Items in one page of `GET /jobs`, `/models` and `/datasets` when `limit` is left out.
DEFAULT_PAGE_SIZE = 100
#: The largest `limit` a listing accepts.
MAX_PAGE_SIZE = 1000
