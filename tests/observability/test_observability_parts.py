"""The pieces under /metrics and the JSON logs, without a stack: the formatter, the job cache."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from foundation.logs import LOG_CONTEXT, JsonFormatter, configure_logging
from model_store import ModelStore
from model_store.database import sqlite_url_for
from model_store.schema import upgrade
from model_store.tables import DURATION_BOUNDS
from model_store.times import from_iso
from service import metrics
from service.store_metrics import JobFigures


@contextmanager
def log_context(**ids: str) -> Iterator[None]:
    """Bind `ids` to every line logged in this block, as the worker binds a job's id."""
    token = LOG_CONTEXT.set({**LOG_CONTEXT.get(), **ids})
    try:
        yield
    finally:
        LOG_CONTEXT.reset(token)


def test_json_lines_carry_bound_ids_extra_fields_and_tracebacks() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("nnservice.test.json")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with log_context(request_id="r-1"), log_context(job_id="j-1"):
            logger.warning("two\nlines %s", "here", extra={"rows": 3})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "two\nlines here"
    assert (first["request_id"], first["job_id"], first["rows"]) == ("r-1", "j-1", 3)
    assert first["level"] == "WARNING" and first["logger"] == "nnservice.test.json"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert "request_id" not in second and "ValueError: boom" in second["exception"]


def test_configure_logging_leaves_one_json_handler_on_the_root_logger() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        stream = io.StringIO()
        configure_logging("INFO", stream)
        configure_logging("INFO", stream)
        assert len(root.handlers) == 1
        logging.getLogger("anything").info("hello")
        assert json.loads(stream.getvalue())["logger"] == "anything"
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.captureWarnings(False)


def test_job_figures_come_from_aggregates_over_the_stores_rows(tmp_path) -> None:
    database_url = sqlite_url_for(tmp_path)
    upgrade(database_url)
    store = ModelStore(database_url, tmp_path / "objects")
    for index in range(4):
        store.jobs.create({"id": f"job-{index}", "dataset_id": "ds-x"})
    store.jobs.claim("job-1", "owner", 30, 3)
    store.jobs.finish("job-1", "owner", "succeeded")
    store.jobs.claim("job-2", "owner", 30, 3)
    store.jobs.transition("job-3", ("queued",), state="cancelled")
    figures = JobFigures(store)

    assert figures.counts() == {
        "queued": 1,
        "running": 1,
        "succeeded": 1,
        "failed": 0,
        "cancelled": 1,
    }
    record = store.jobs.get("job-1")
    seconds = (from_iso(record.finished_at) - from_iso(record.started_at)) / 1e6
    cumulative, count, total = figures.durations()["succeeded"]
    assert count == 1 and total == pytest.approx(seconds)
    assert cumulative == [int(seconds <= bound) for bound in DURATION_BOUNDS]
    assert figures.durations()["cancelled"] == ([0] * len(DURATION_BOUNDS), 0, 0.0)


def test_requests_are_observed_by_rule_method_and_status() -> None:
    """One observation a request (bounds are `le`: inclusive); an unknown method is OTHER."""
    durations = [0.0005, 0.00050001, 0.003, 31.0]
    rule = f"/observed/{uuid.uuid4().hex}"
    for seconds in durations:
        metrics.record_request(rule, "GET", 200, seconds)
    metrics.record_request(rule, "BREW", 418, 0.001)

    def value(suffix: str, method: str = "GET", status: str = "200", **extra: str) -> float:
        labels = {"endpoint": rule, "method": method, "status": status, **extra}
        name = f"nnservice_http_request_duration_seconds{suffix}"
        return metrics.RECORDED.get_sample_value(name, labels)

    assert value("_count") == 4
    assert value("_sum") == sum(durations)
    assert value("_bucket", le="0.0005") == 1
    assert value("_bucket", le="0.005") == 3
    assert value("_bucket", le="+Inf") == 4
    assert value("_count", "OTHER", "418") == 1
