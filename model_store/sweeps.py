"""Sweeps as rows: their spec, their state, and the short lease of whoever advances one.

A sweep's trials are ordinary jobs (`jobs.sweep_id`, `jobs.trial_number`). Advancing a sweep
(telling its study how trials ended, asking for new ones, ending it: `worker.sweeps`) is done
by one process at a time: the one holding its lease (`acquire`). Every trial's end `poke`s the
sweep first, and a holder releases only if nobody poked it meanwhile (`release`), so an end
that arrives while another process advances is never missed; a holder that dies is replaced
once its lease has run out.

A sweep's creation and its end each write one `sweep_state` event in their own transaction
(`model_store.events`); the end is a conditional UPDATE (only a `running` sweep ends), so two
passes that race to end a sweep write one event between them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from foundation.events import EventType
from foundation.limits import DEFAULT_PAGE_SIZE
from foundation.states import SweepState
from model_store.errors import AlreadyExists, NotFound
from model_store.events import record_event
from model_store.ids import validate_id
from model_store.pages import Page, make_page, page_query
from model_store.records import SweepRecord
from model_store.tables import sweeps
from model_store.times import iso, now_us


def _record(row: sa.Row) -> SweepRecord:
    return SweepRecord(
        id=row.id,
        state=SweepState(row.state),
        created_at=iso(row.created_us),
        finished_at=iso(row.finished_us),
        dataset_id=row.dataset_id,
        spec=row.spec,
        kind=row.kind,
        trials=row.trials,
        parallel=row.parallel,
        cancel_requested=row.cancel_requested,
        best_job_id=row.best_job_id,
        promotion=row.promotion,
        pokes=row.pokes,
    )


def _state_event(
    connection: sa.Connection,
    row: sa.Row,
    model_id: str | None = None,
    value: float | None = None,
) -> None:
    """The `sweep_state` event of a sweep row just written (in the caller's transaction, as its
    last statement); `model_id` and `value`: the best trial's model and metric value."""
    record_event(
        connection,
        EventType.SWEEP_STATE,
        sweep_id=row.id,
        state=str(row.state),
        metric=row.spec["metric"],
        best_job_id=row.best_job_id,
        model_id=model_id,
        value=value,
        promotion=row.promotion,
    )


class SweepTable:
    """Creates, lists, cancels and ends sweeps; the lease of the process advancing one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        sweep_id: str,
        dataset_id: str,
        spec: dict,
        kind: str,
        trials: int,
        parallel: int,
        *,
        owner: str | None = None,
        lease_seconds: float = 0.0,
    ) -> SweepRecord:
        """Store a new sweep, `running`, its lease held by `owner` (who makes its first pass)
        for `lease_seconds`; AlreadyExists if the id is taken."""
        values = {
            "lease_owner": owner,
            "lease_until": time.time() + lease_seconds if owner else None,
            "id": validate_id(sweep_id),
            "state": SweepState.RUNNING,
            "created_us": now_us(),
            "dataset_id": validate_id(dataset_id),
            "spec": spec,
            "kind": kind,
            "trials": trials,
            "parallel": parallel,
        }
        try:
            with self.engine.begin() as connection:
                row = connection.execute(sweeps.insert().values(**values).returning(*sweeps.c))
                _state_event(connection, row.one())
        except sa.exc.IntegrityError:
            raise AlreadyExists("sweep", sweep_id) from None
        return self.get(sweep_id)

    def get(self, sweep_id: str) -> SweepRecord:
        """The sweep; NotFound if absent."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(sweeps).where(sweeps.c.id == validate_id(sweep_id))
            ).first()
        if row is None:
            raise NotFound("sweep", sweep_id)
        return _record(row)

    def list(
        self,
        limit: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
        *,
        state: str | None = None,
    ) -> Page[SweepRecord]:
        """One page of sweeps, newest first, optionally of one state."""
        filters = [] if state is None else [sweeps.c.state == state]
        query = page_query(sweeps, [sweeps], limit, page_token, filters)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return make_page(rows, limit, _record)

    def running_ids(self, limit: int = 100) -> list[str]:
        """Ids of sweeps still running (the reaper's periodic check advances them)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(sweeps.c.id)
                .where(sweeps.c.state == SweepState.RUNNING)
                .order_by(sweeps.c.created_us)
                .limit(limit)
            ).all()
        return [row.id for row in rows]

    def _update(
        self,
        sweep_id: str,
        conditions: list,
        values: dict,
        event: Callable[[sa.Connection, sa.Row], None] | None = None,
    ) -> SweepRecord | None:
        """Update the sweep if `conditions` hold: its new record (None if they did not); `event`
        writes the change's event in the same transaction."""
        with self.engine.begin() as connection:
            row = connection.execute(
                sweeps.update()
                .where(sweeps.c.id == validate_id(sweep_id), *conditions)
                .values(**values, version=sweeps.c.version + 1)
                .returning(*sweeps.c)
            ).first()
            if row is not None and event is not None:
                event(connection, row)
        return None if row is None else _record(row)

    def request_cancel(self, sweep_id: str) -> SweepRecord:
        """Ask the sweep to stop: no new trials; NotFound if absent."""
        record = self._update(sweep_id, [], {"cancel_requested": True})
        if record is None:
            raise NotFound("sweep", sweep_id)
        return record

    def end(
        self,
        sweep_id: str,
        state: SweepState,
        best_job_id: str | None,
        promotion: dict | None,
        *,
        model_id: str | None = None,
        value: float | None = None,
    ) -> SweepRecord | None:
        """End a running sweep, with its `sweep_state` event (`model_id` and `value`: the best
        trial's model and metric value, told by the event): the new record, or None (and no
        event) if it had ended already."""
        values = {
            "state": state,
            "finished_us": now_us(),
            "best_job_id": best_job_id,
            "promotion": promotion,
        }

        def event(connection: sa.Connection, row: sa.Row) -> None:
            _state_event(connection, row, model_id, value)

        return self._update(sweep_id, [sweeps.c.state == SweepState.RUNNING], values, event)

    # The lease of the process advancing the sweep

    def poke(self, sweep_id: str) -> None:
        """Say that something happened to the sweep (a trial ended): it needs a pass."""
        self._update(sweep_id, [], {"pokes": sweeps.c.pokes + 1})

    def acquire(self, sweep_id: str, owner: str, seconds: float) -> int | None:
        """Take the sweep's lease for `seconds`: the pokes counted so far, or None if another
        live process holds it."""
        now = time.time()
        free = sa.or_(
            sweeps.c.lease_until.is_(None),
            sweeps.c.lease_until < now,
            sweeps.c.lease_owner == owner,
        )
        with self.engine.begin() as connection:
            row = connection.execute(
                sweeps.update()
                .where(sweeps.c.id == validate_id(sweep_id), free)
                .values(lease_owner=owner, lease_until=now + seconds)
                .returning(sweeps.c.pokes)
            ).first()
        return None if row is None else int(row.pokes)

    def renew(self, sweep_id: str, owner: str, seconds: float) -> bool:
        """Extend the lease while `owner` holds it; False if it was lost."""
        with self.engine.begin() as connection:
            done = connection.execute(
                sweeps.update()
                .where(sweeps.c.id == validate_id(sweep_id), sweeps.c.lease_owner == owner)
                .values(lease_until=time.time() + seconds)
            )
        return done.rowcount == 1

    def release(self, sweep_id: str, owner: str, pokes: int | None = None) -> bool:
        """Give the lease back unless the sweep was poked since `pokes` was read (then the
        holder makes another pass and tries again; None: give it back anyway): whether it was
        released."""
        unpoked = [] if pokes is None else [sweeps.c.pokes == pokes]
        with self.engine.begin() as connection:
            done = connection.execute(
                sweeps.update()
                .where(
                    sweeps.c.id == validate_id(sweep_id), sweeps.c.lease_owner == owner, *unpoked
                )
                .values(lease_owner=None, lease_until=None)
            )
        return done.rowcount == 1
