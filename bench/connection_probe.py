"""Requests served per keep-alive connection: does every connection get its turn?

wrk reports totals and percentiles, not what each connection got. `probe` opens `connections`
keep-alive connections from one asyncio process, each sending the same POST back to back for
`seconds`, and returns how many answers each connection received (a connection the server never
accepts, or serves rarely, shows as a low count).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ProbeResult:
    """Answers per connection over the run, and any that failed."""

    per_connection: list[int]
    errors: int

    @property
    def spread(self) -> float:
        """max / min answers per connection (infinite when a connection got none)."""
        low = min(self.per_connection)
        return max(self.per_connection) / low if low else float("inf")


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response with a Content-Length body; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _connection(host: str, port: int, request: bytes, stop_at: float) -> tuple[int, int]:
    """Answers and failures (non-200, or the server closing the connection: then reconnect)."""
    served = errors = 0
    while time.monotonic() < stop_at:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < stop_at:
                writer.write(request)
                if await _read_response(reader) == 200:
                    served += 1
                else:
                    errors += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            errors += 1
        finally:
            writer.close()
    return served, errors


async def _probe(url: str, body: bytes, connections: int, seconds: float) -> ProbeResult:
    parts = urlsplit(url)
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    stop_at = time.monotonic() + seconds
    results = await asyncio.gather(*(
        _connection(parts.hostname or "", parts.port or 80, request, stop_at)
        for _ in range(connections)
    ))  # fmt: skip
    return ProbeResult([served for served, _ in results], sum(e for _, e in results))


def probe(url: str, body: bytes, connections: int, seconds: float) -> ProbeResult:
    """POST `body` to `url` from `connections` keep-alive connections for `seconds`."""
    return asyncio.run(_probe(url, body, connections, seconds))
