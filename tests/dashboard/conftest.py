"""Helpers for the dashboard tests: reading Server-Sent Events."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

import pytest


def sse_messages(lines: Iterable[str]) -> Iterator[tuple[str, dict]]:
    """(event, data as JSON) of each message in the lines of an event stream, as they come;
    comments (heartbeats) and the retry field are skipped."""
    event, data = "message", None
    for line in lines:
        if line == "":
            if data is not None:
                yield event, json.loads(data)
            event, data = "message", None
        elif line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")


@pytest.fixture
def read_sse() -> Callable[[Iterable[str]], Iterator[tuple[str, dict]]]:
    """`read_sse(lines)`: the messages of an event stream given line by line."""
    return sse_messages
