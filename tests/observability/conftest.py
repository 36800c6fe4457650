"""Helpers of the observability tests: scraping /metrics, reading the stack's JSON log lines."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from neural import Network, Standardizer

#: Emily is F and Frank M with this network (the seed's shift of the inputs, no scaling).
SNAPSHOT = {
    **Network(
        (2, 2, 1), [[[-1.0, -1.0], [1.0, 1.0]], [[3.0, -3.0]]], [[0.0, 0.0], [0.0]]
    ).to_dict(),
    "loss": "mse",
    "normalization": Standardizer(mean=[135.0, 66.0], scale=[1.0, 1.0]).to_dict(),
    "training": {},
}
EMILY = {"weight": 128, "height": 63}
FRANK = {"weight": 155, "height": 68}

Samples = dict[tuple[str, tuple], float]
#: What Celery writes straight to the terminal from its shutdown signal handler (where logging is
#: unsafe), so not as JSON.
CELERY_TERMINAL_NOTICES = ("worker: ", "Waiting gracefully")


def scrape(base_url: str) -> Samples:
    """GET /metrics on a new connection: {(sample name, sorted labels): value}."""
    response = requests.get(base_url + "/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 if absent)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def json_lines(log: Path) -> list[dict]:
    """The JSON objects of a log file; any other line fails the test (but Celery's notices)."""
    lines = []
    for line in log.read_text(errors="replace").splitlines():
        if not line.strip() or line.startswith(CELERY_TERMINAL_NOTICES):
            continue
        parsed = json.loads(line)
        assert isinstance(parsed, dict) and {"time", "level", "logger", "message"} <= parsed.keys()
        lines.append(parsed)
    return lines


def wait_for_lines(log: Path, field: str, value: str, count: int, timeout: float = 15.0) -> list:
    """The JSON lines of `log` whose `field` is `value`, once there are at least `count`."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in json_lines(log) if line.get(field) == value]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.fixture
def promoted(stack) -> Iterator[str]:
    """SNAPSHOT saved and promoted through the API; the previous latest is promoted back after."""
    previous = stack.store.models.latest_id()
    model_id = stack.store.models.save(SNAPSHOT)["id"]
    assert stack.post(f"/models/{model_id}/promote").status_code == 200
    stack.wait_until_served(model_id)  # every API process has seen the promotion
    yield model_id
    if previous is not None:
        stack.store.models.promote(previous)
        stack.wait_until_served(previous)
