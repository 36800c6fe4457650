"""The workers' reaper prunes the registry's old events: at its first pass, then at most every
`PRUNE_EVERY_SECONDS` (a clock the test moves), keeping the newest event."""

from __future__ import annotations

from pathlib import Path

from foundation.settings import Settings
from model_store import ModelStore
from model_store.schema import upgrade
from worker.event_retention import PRUNE_EVERY_SECONDS, EventPruner


def test_old_events_are_pruned_at_the_first_pass_and_then_every_few_minutes(
    tmp_path: Path,
) -> None:
    settings = Settings(store_path=tmp_path / "store", events_retention_seconds=3600)
    upgrade(settings.store_database_url)
    store = ModelStore.from_settings(settings)
    try:
        for n in range(3):
            store.jobs.create({"id": f"j{n}", "hyperparameters": {}})
        ids = [event.id for event in store.events.after(0, 10)]
        now = [1000.0]
        pruner = EventPruner(settings.events_retention_seconds, clock=lambda: now[0])

        assert pruner.prune_if_due(store) == 0  # due at once; nothing is an hour old
        pruner.retention_seconds = 0.0  # from now on, every event is old
        assert pruner.prune_if_due(store) is None  # not due again yet
        now[0] += PRUNE_EVERY_SECONDS
        assert pruner.prune_if_due(store) == 2
        assert store.events.oldest_id() == store.events.newest_id() == ids[-1]
    finally:
        store.close()
