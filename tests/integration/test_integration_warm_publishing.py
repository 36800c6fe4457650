"""Each API process prepares its task publishing at start (`service.wsgi`), against the stack's real
broker: afterwards the pooled connection is open and the first send reuses it. With the broker
down, preparing is not an error (POST /train reports it when it happens)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from stores import migrated

from foundation.settings import Settings
from service.app import create_app
from service.context import EXTENSION
from service.training import warm_task_publishing


def _services(redis_url: str, store: Path):
    return create_app(migrated(Settings(redis_url=redis_url, store_path=store))).extensions[
        EXTENSION
    ]


def test_a_warmed_process_sends_its_first_task_on_the_open_connection(stack, tmp_path) -> None:
    svc = _services(stack.redis_url.rsplit("/", 1)[0] + "/7", tmp_path)  # a db nobody consumes
    warm_task_publishing(svc)
    with svc.celery.producer_or_acquire() as producer:
        warmed = producer.connection
        assert warmed.connected
    svc.celery.send_task("nnservice.not-a-task", kwargs={}, task_id="warm-test")
    with svc.celery.producer_or_acquire() as producer:
        assert producer.connection is warmed  # the same pooled connection, still open
        assert producer.connection.default_channel.client.llen("celery") == 1
        producer.connection.default_channel.client.delete("celery")


def test_a_broker_that_is_down_is_only_logged(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    from tests.service.conftest import closed_port_url

    svc = _services(closed_port_url(), tmp_path)
    with caplog.at_level(logging.INFO, logger="service.training"):
        warm_task_publishing(svc)
    assert "task queue not reached at start" in caplog.text
