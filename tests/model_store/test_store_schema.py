"""Migrations: `upgrade` creates the tables, is a no-op the second time, never races; a database
that is behind is refused with a message naming `nnservice db upgrade`."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from model_store import ModelStore, SchemaOutOfDate, tables
from model_store.database import make_engine
from model_store.schema import (
    UPGRADE_COMMAND,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)
from model_store.tables import metadata

TABLES = {
    "datasets",
    "models",
    "jobs",
    "promotions",
    "job_durations",
    "batch_predictions",
    "batch_chunks",
    "counters",
    "events",
    "sweeps",
}

UPGRADER = """
import sys
from model_store.schema import upgrade
print("ready", flush=True); sys.stdin.readline()
before, after = upgrade(sys.argv[1])
print(before, after)
"""


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_the_tables_of_the_metadata(empty_database_url: str) -> None:
    assert _tables(empty_database_url) == set()
    assert upgrade(empty_database_url) == (None, head_revision())
    assert _tables(empty_database_url) == TABLES | {"alembic_version"}
    engine = make_engine(empty_database_url)
    try:
        inspector = sa.inspect(engine)
        for table in metadata.sorted_tables:  # the migration builds exactly tables.py's columns
            columns = {column["name"] for column in inspector.get_columns(table.name)}
            assert columns == set(table.columns.keys()), table.name
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrading_twice_changes_nothing(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    store = ModelStore(empty_database_url, "unused-objects")
    try:
        store.jobs.create({"id": "job1"})
        assert upgrade(empty_database_url) == (head_revision(), head_revision())
        assert store.jobs.get("job1").state == "queued"  # no table was dropped or recreated
        store.require_current_schema()
    finally:
        store.close()


def test_two_upgrades_at_once_both_succeed(empty_database_url: str, run_together) -> None:
    outputs = run_together(UPGRADER, [[empty_database_url]] * 3)
    head = head_revision()
    # Exactly one process found the database empty; the others waited and found it done.
    assert sorted(output.split() for output in outputs) == [
        [head, head],
        [head, head],
        ["None", head],
    ]
    assert _tables(empty_database_url) == TABLES | {"alembic_version"}


def test_only_if_empty_creates_an_empty_schema_and_leaves_an_old_one(
    empty_database_url: str, run_together
) -> None:
    """What `api` and `worker` run at start: three at once on an empty database create the schema
    once; on a database behind the head it changes nothing (migrating is the operator's call)."""
    creator = UPGRADER.replace("upgrade(sys.argv[1])", "upgrade(sys.argv[1], only_if_empty=True)")
    outputs = run_together(creator, [[empty_database_url]] * 3)
    head = head_revision()
    assert sorted(output.split() for output in outputs) == [
        [head, head],
        [head, head],
        ["None", head],
    ]
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
        assert upgrade(empty_database_url, only_if_empty=True) == ("0001", "0001")
        assert current_revision(engine) == "0001"
    finally:
        engine.dispose()


def test_an_empty_database_is_refused_naming_the_command(empty_database_url: str) -> None:
    store = ModelStore(empty_database_url, "unused-objects")
    try:
        with pytest.raises(SchemaOutOfDate, match=f"empty.*`{UPGRADE_COMMAND}`"):
            store.require_current_schema()
        upgrade(empty_database_url)
        store.require_current_schema()
    finally:
        store.close()


def test_a_database_behind_the_head_is_refused(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    store = ModelStore(empty_database_url, "unused-objects")
    try:
        with store.engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = '0000'"))
        with pytest.raises(SchemaOutOfDate, match=f"revision 0000.*`{UPGRADE_COMMAND}`"):
            store.require_current_schema()
    finally:
        store.close()


def test_upgrading_from_0001_fills_the_kept_histogram_from_finished_jobs(
    empty_database_url: str,
) -> None:
    """Revision 0002 adds `job_durations` and counts the jobs finished before it."""
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), "0001")
            connection.commit()
        with engine.begin() as connection:
            for number, (state, seconds) in enumerate(
                [("succeeded", 0.05), ("succeeded", 2.0), ("failed", 20_000.0), ("queued", None)]
            ):
                connection.execute(
                    tables.jobs.insert().values(
                        id=f"j{number}",
                        state=state,
                        created_us=number,
                        hyperparameters={},
                        promote=True,
                        snapshot_id=f"m-j{number}",
                        metrics={},
                        progress={},
                        loss_history=[],
                        training_seconds=seconds,
                    )
                )
    finally:
        engine.dispose()
    upgrade(empty_database_url)
    store = ModelStore(empty_database_url, "unused-objects")
    try:
        figures = store.jobs.duration_histogram()
    finally:
        store.close()
    cumulative, count, total = figures["succeeded"]
    assert count == 2 and total == pytest.approx(2.05)
    assert cumulative[0] == 1 and cumulative[-1] == 2  # 0.05 s in the first bucket, 2 s later
    assert figures["failed"][1:] == (1, 20_000.0)  # above the last bound: in the count only
    assert figures["failed"][0][-1] == 0
    assert figures["cancelled"] == ([0] * len(tables.DURATION_BOUNDS), 0, 0.0)


def test_a_sweeps_optuna_tables_leave_the_schema_and_its_checks_alone(
    empty_database_url: str,
) -> None:
    from worker import sweep_study  # Optuna creates its own tables in the store's database

    upgrade(empty_database_url)
    spec = {"metric": "validation_loss"}
    sweep_study.create(empty_database_url, "sw-schema", spec)
    assert {"studies", "trials"} <= _tables(empty_database_url)
    store = ModelStore(empty_database_url, "unused-objects")
    try:
        store.require_current_schema()  # our revision, untouched by Optuna
        assert upgrade(empty_database_url) == (head_revision(), head_revision())
    finally:
        store.close()
