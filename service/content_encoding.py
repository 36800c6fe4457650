"""Request bodies sent with `Content-Encoding: gzip` or `deflate`, decoded with a bound.

A body is decompressed a piece at a time (`zlib.decompressobj` with `max_length`), never more
than the limit plus one byte: a small body that would expand past NNSERVICE_MAX_BODY_BYTES (a
zip bomb) is refused after the limit's worth of work, not after expanding it. `deflate` is the
zlib format (RFC 9110), as tritonclient and most clients send it; a raw deflate stream, as some
servers and clients take the word to mean, is read too. Several codings (`gzip, deflate`) are
undone in the reverse of the order they were applied; `identity` is no coding.
"""

from __future__ import annotations

import zlib

#: The codings this server decodes, with the `wbits` that selects zlib's container format.
WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}
SUPPORTED = ("gzip", "deflate")
IDENTITY = "identity"
#: Output produced per step of the decompressor.
STEP_BYTES = 65536


class UnsupportedEncoding(Exception):
    """A Content-Encoding this server does not decode (the 415 names the ones it does)."""

    def __init__(self, coding: str) -> None:
        super().__init__(
            f"Content-Encoding {coding!r:.40} is not supported; send {', '.join(SUPPORTED)} "
            "or identity"
        )


class CorruptBody(Exception):
    """The body is not valid data of the coding it names."""

    def __init__(self, coding: str, reason: str) -> None:
        super().__init__(f"the request body is not valid {coding} data: {reason}")
        self.coding = coding


class DecodedTooLarge(Exception):
    """The body, decoded, is larger than the limit."""


def codings(header: str | None) -> list[str]:
    """The codings a Content-Encoding header names, in the order they were applied (identity
    left out); UnsupportedEncoding for one this server does not decode."""
    names = [part.strip().lower() for part in (header or "").split(",")]
    applied = [name for name in names if name and name != IDENTITY]
    for name in applied:
        if name not in WBITS:
            raise UnsupportedEncoding(name)
    return applied


def decode(body: bytes, applied: list[str], limit: int | None) -> bytes:
    """`body` with the codings `applied` undone, last first; DecodedTooLarge once any stage's
    output passes `limit` (None: no limit), CorruptBody if a stage's input is not valid."""
    for coding in reversed(applied):
        body = _inflate(body, coding, limit)
    return body


def _wbits(coding: str, body: bytes) -> int:
    """zlib's format for `coding`; for deflate, raw deflate when the body has no zlib header."""
    if coding == "deflate" and not _zlib_header(body[:2]):
        return -zlib.MAX_WBITS
    return WBITS[coding]


def _zlib_header(head: bytes) -> bool:
    """Whether two bytes are a zlib header (RFC 1950: method 8, a check multiple of 31)."""
    return len(head) == 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0


def _inflate(body: bytes, coding: str, limit: int | None) -> bytes:
    """One coding undone, a step at a time; gzip may hold several members, one after another."""
    if not body:
        return body
    parts: list[bytes] = []
    size = 0
    pending = body
    while pending:
        inflater = zlib.decompressobj(_wbits(coding, pending))
        while not inflater.eof:
            room = STEP_BYTES if limit is None else min(STEP_BYTES, limit - size + 1)
            try:
                piece = inflater.decompress(pending, room)
            except zlib.error as exc:
                raise CorruptBody(coding, str(exc)) from None
            parts.append(piece)
            size += len(piece)
            if limit is not None and size > limit:
                raise DecodedTooLarge
            pending = inflater.unconsumed_tail
            if not pending and len(piece) < room and not inflater.eof:
                raise CorruptBody(coding, "the data ends before the end of the stream")
        pending = inflater.unused_data
        if pending and coding == "deflate":
            raise CorruptBody(coding, f"{len(pending)} bytes after the end of the stream")
    return b"".join(parts)
