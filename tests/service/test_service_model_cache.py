"""The model cache serves a model pinned by id from memory, with no query, and learns of its
deletion by another process at its next poll (the registry's events), or, when those events
were pruned, by re-checking the rows of every pinned model at once. Real stores on each backend;
the poll is made due by moving the cache module's own clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import event

from foundation.settings import Settings
from model_store import ModelStore, NotFound
from model_store.times import now_us
from service import model_cache
from service.model_cache import POLL_SECONDS, ModelCache


class Clock:
    """The cache module's `monotonic`, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def pass_poll_interval(self) -> None:
        self.now += POLL_SECONDS


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(model_cache, "monotonic", clock)
    return clock


@pytest.fixture
def handles(store_locations: tuple[str, str]) -> Iterator[tuple[ModelStore, ModelStore]]:
    """The cache's store handle and another one, as another process would have."""
    mine, other = ModelStore(*store_locations), ModelStore(*store_locations)
    yield mine, other
    mine.close()
    other.close()


@pytest.fixture
def statements(handles: tuple[ModelStore, ModelStore]) -> Iterator[list[str]]:
    """Every SQL statement the cache's handle sends, in order (SQLAlchemy's event API)."""
    sent: list[str] = []

    def record(_connection, _cursor, statement: str, *_args: object) -> None:
        sent.append(statement)

    engine = handles[0].engine
    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def serving(store: ModelStore, *model_ids: str) -> ModelCache:
    """A started cache on `store` that has served each of `model_ids` once (pinned them)."""
    cache = ModelCache(store)
    cache.load()
    for model_id in model_ids:
        assert cache.get(model_id).model_id == model_id
    return cache


def test_a_pinned_model_is_served_without_a_query_until_a_poll_finds_it_deleted(
    handles: tuple[ModelStore, ModelStore],
    statements: list[str],
    clock: Clock,
    snapshot_body: Callable[..., dict],
) -> None:
    mine, other = handles
    pinned = other.models.save(snapshot_body())["id"]
    cache = serving(mine, pinned)  # loaded once
    statements.clear()
    for _ in range(20):
        assert cache.get(pinned).model_id == pinned
    assert statements == []

    other.models.delete(pinned)  # by another process
    assert cache.get(pinned).model_id == pinned  # until its next poll, as an alias change
    assert statements == []
    clock.pass_poll_interval()
    with pytest.raises(NotFound):
        cache.get(pinned)
    assert statements  # the poll
    statements.clear()
    for _ in range(5):
        with pytest.raises(NotFound):
            cache.get(pinned)
    assert statements == []


def test_a_model_deleted_through_this_process_is_gone_at_once(
    handles: tuple[ModelStore, ModelStore],
    statements: list[str],
    clock: Clock,
    snapshot_body: Callable[..., dict],
) -> None:
    mine, _ = handles
    pinned = mine.models.save(snapshot_body())["id"]
    cache = serving(mine, pinned)
    mine.models.delete(pinned)
    cache.forget(pinned)  # what DELETE /models/{id} does
    statements.clear()
    with pytest.raises(NotFound):
        cache.get(pinned)
    assert statements == []


def test_when_the_events_since_the_last_poll_were_pruned_the_pinned_rows_are_rechecked(
    handles: tuple[ModelStore, ModelStore],
    statements: list[str],
    clock: Clock,
    snapshot_body: Callable[..., dict],
) -> None:
    mine, other = handles
    kept = other.models.save(snapshot_body())["id"]
    deleted = other.models.save(snapshot_body(flip=True))["id"]
    cache = serving(mine, kept, deleted)

    # A long outage: the deletion's event is pruned before this process polls again.
    other.models.delete(deleted)
    other.models.save(snapshot_body(training={"seed": 7}))
    other.events.prune(now_us() + 1)  # every event but the newest
    assert other.events.after(0, 10)[0].type == "model_created"
    clock.pass_poll_interval()
    statements.clear()
    with pytest.raises(NotFound):
        cache.get(deleted)
    assert sum("FROM models" in statement for statement in statements) == 1  # both rows at once
    statements.clear()
    assert cache.get(kept).model_id == kept
    assert statements == []


def test_a_pinned_model_answers_from_memory_while_the_database_is_down(
    settings: Settings,
    store: ModelStore,
    clock: Clock,
    snapshot_body: Callable[..., dict],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SQLite whose directory is gone (connections fail for real); PostgreSQL and S3 outages
    are tests/reliability/test_rel_store_outages.py's."""
    pinned = store.models.save(snapshot_body())["id"]
    mine = ModelStore.from_settings(settings)
    cache = serving(mine, pinned)
    away = settings.store_path.with_name("away")
    settings.store_path.rename(away)
    mine.engine.dispose()  # no pooled connection to the moved file: the next one fails
    try:
        for _ in range(3):
            clock.pass_poll_interval()
            for _ in range(5):
                assert cache.get(pinned).model_id == pinned
    finally:
        away.rename(settings.store_path)
    warnings = [r for r in caplog.records if r.name == model_cache.__name__]
    assert [r.levelname for r in warnings] == ["WARNING"]  # the first failed poll, not each request
    store.models.delete(pinned)
    clock.pass_poll_interval()
    with pytest.raises(NotFound):
        cache.get(pinned)
    mine.close()
