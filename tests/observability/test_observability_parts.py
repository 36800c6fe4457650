"""The pieces under /metrics and the JSON logs, without a stack: the formatter, the job cache."""

from __future__ import annotations

import io
import json
import logging
import uuid

from model_store import ModelStore
from nnservice.logs import JsonFormatter, configure_logging, log_context
from service import metrics
from service.store_metrics import JobFigures, training_seconds


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
    assert first["level"] == "WARNING" and first["time"].endswith("Z")
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


class CountingStore(ModelStore):
    """A real store that counts the job records it reads."""

    reads = 0

    def get_job(self, job_id: str) -> dict:
        self.reads += 1
        return super().get_job(job_id)


def test_job_figures_reread_only_changed_records(tmp_path) -> None:
    store = CountingStore(tmp_path)
    for index in range(3):
        store.create_job({"id": f"job-{index}", "dataset_id": "ds-x"})
    figures = JobFigures(store)
    assert sorted(figures.current()) == [("queued", None)] * 3
    assert store.reads == 3
    store.update_job(
        "job-1",
        state="succeeded",
        started_at="2026-11-25T08:00:00.000000Z",
        finished_at="2026-11-25T08:00:02.500000Z",
    )
    store.delete_job("job-2")
    assert sorted(figures.current(), key=str) == [("queued", None), ("succeeded", 2.5)]
    assert store.reads == 4  # only job-1 was read again
    assert sorted(store.job_versions()) == ["job-0", "job-1"]


def test_training_seconds_needs_both_ends() -> None:
    assert training_seconds({"started_at": None, "finished_at": "2026-11-25T08:00:00Z"}) is None
    assert training_seconds({"started_at": "2026-11-25T08:00:00Z", "finished_at": None}) is None
    ends = {"started_at": "2026-11-25T08:00:00Z", "finished_at": "2026-11-25T08:01:00.5Z"}
    assert training_seconds(ends) == 60.5


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
