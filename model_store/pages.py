"""Keyset paging for the store's listings: newest first, a page token for the next page.

A listing is ordered by (created_us, id) descending over an index that starts with the same
columns (after any equality filter), so fetching a page costs the same at any history size. The
token names the last row of a page; it is opaque to clients (URL-safe base64 of JSON).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Generic, NamedTuple, TypeVar

import sqlalchemy as sa

from foundation.limits import MAX_PAGE_SIZE
from model_store.errors import InvalidPageToken
from model_store.ids import validate_id

Item = TypeVar("Item")


class Page(NamedTuple, Generic[Item]):
    """One page of a listing: its records and the token of the next page (None: the last)."""

    items: list[Item]
    next_token: str | None


def encode_token(created_us: int, row_id: str) -> str:
    """The token of the page that starts after the row (created_us, row_id)."""
    raw = json.dumps([created_us, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, str]:
    """(created_us, id) from a token; InvalidPageToken if it is not one of ours."""
    try:
        padded = token + "=" * (-len(token) % 4)
        created_us, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(created_us, int) or isinstance(created_us, bool):
            raise ValueError("not an integer")
        return created_us, validate_id(row_id)
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise InvalidPageToken(token) from None


def page_query(
    table: sa.Table,
    columns: Sequence[sa.ColumnElement],
    limit: int,
    page_token: str | None,
    filters: Sequence[sa.ColumnElement[bool]] = (),
) -> sa.Select:
    """SELECT `columns` of one page (limit + 1 rows: the extra one says a next page exists)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit: must be between 1 and {MAX_PAGE_SIZE}")
    query = sa.select(*columns).where(*filters)
    if page_token is not None:
        created_us, row_id = decode_token(page_token)
        query = query.where(
            sa.or_(
                table.c.created_us < created_us,
                sa.and_(table.c.created_us == created_us, table.c.id < row_id),
            )
        )
    return query.order_by(table.c.created_us.desc(), table.c.id.desc()).limit(limit + 1)


def make_page(
    rows: Sequence[sa.Row], limit: int, to_record: Callable[[sa.Row], Item]
) -> Page[Item]:
    """The Page of rows fetched by `page_query` (at most limit + 1 of them)."""
    items = [to_record(row) for row in rows[:limit]]
    if len(rows) > limit:
        last = rows[limit - 1]
        return Page(items, encode_token(last.created_us, last.id))
    return Page(items, None)
