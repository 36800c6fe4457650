"""Training jobs as rows: every change is one compare-and-set UPDATE, never read-modify-write.

A job is created `queued`; a worker process claims it (`running`, with itself as the lease's
owner and a heartbeat it refreshes with every progress write) and finishes it. Any number of
deliveries of the same task may arrive (broker redelivery, the reaper's re-send): the one that
claims the job runs it, the others see a live lease and are dropped at once. `reap` is what
repairs the rest: it requeues a job whose owner stopped beating (or fails it after
`max_attempts`), and says which queued jobs' messages look lost so the caller re-sends them.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from foundation.events import EventType
from foundation.limits import DEFAULT_PAGE_SIZE
from foundation.promotion import DEFAULT_ALIAS, IF_BETTER
from foundation.states import STATES, TERMINAL_STATES, JobState
from model_store.errors import AlreadyExists, NotFound
from model_store.events import record_event
from model_store.ids import model_id_for_job, validate_id
from model_store.pages import Page, make_page, page_query
from model_store.records import JobRecord
from model_store.tables import DURATION_BOUNDS, job_durations, jobs
from model_store.times import from_iso, iso, now_us

#: Fields a caller may set with `transition`, `heartbeat` or `finish` (record names).
SETTABLE = frozenset(
    {
        "state",
        "progress",
        "loss_history",
        "model_id",
        "metrics",
        "error",
        "started_at",
        "finished_at",
        "hyperparameters",
        "promotion",
        "pruned",
    }
)
#: Rows the reaper looks at per pass and kind of repair.
REAP_BATCH = 100
#: Job ids per query of `JobTable.versions` (below every database's limit on bound parameters).
VERSIONS_BATCH = 500


def _record(row: sa.Row) -> JobRecord:
    """The job as the API shows it (and a few lease fields the API's schema leaves out)."""
    return JobRecord(
        id=row.id,
        state=JobState(row.state),
        progress=row.progress,
        loss_history=row.loss_history,
        model_id=row.model_id,
        metrics=row.metrics,
        error=row.error,
        created_at=iso(row.created_us),
        started_at=iso(row.started_us),
        finished_at=iso(row.finished_us),
        dataset_id=row.dataset_id,
        hyperparameters=row.hyperparameters,
        initial_model_id=row.initial_model_id,
        promote=IF_BETTER if row.promote_if_better else row.promote,
        promote_alias=row.promote_alias,
        promotion=row.promotion,
        attempts=row.attempts,
        worker=row.owner,
        heartbeat_at=row.heartbeat_at,
        cancel_requested=row.cancel_requested,
        version=row.version,
        sweep_id=row.sweep_id,
        trial_number=row.trial_number,
        pruned=row.pruned,
    )


def _values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Column values for record fields (ISO times as microseconds)."""
    unknown = set(fields) - SETTABLE
    if unknown:
        raise ValueError(f"job fields that cannot be set: {sorted(unknown)}")
    values = dict(fields)
    if "state" in values and values["state"] not in STATES:
        raise ValueError(f"state: expected one of {list(STATES)}, got {values['state']!r}")
    for name in ("started_at", "finished_at"):
        if name in values:
            values[name.replace("_at", "_us")] = from_iso(values.pop(name))
    return values


def _promote_columns(record: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of a job's `promote` (true, false or "if_better") and `promote_alias`."""
    promote = record.get("promote", True)
    return {
        "promote": promote is not False,
        "promote_if_better": promote == IF_BETTER,
        "promote_alias": record.get("promote_alias") or DEFAULT_ALIAS,
        "promotion": record.get("promotion"),
    }


#: The columns a `job_state` event tells.
EVENT_COLUMNS = (jobs.c.id, jobs.c.state, jobs.c.model_id, jobs.c.promotion)


def _state_event(
    connection: sa.Connection,
    job_id: str,
    state: str,
    model_id: str | None,
    promotion: dict | None,
) -> None:
    """The `job_state` event of a job whose state was just written (in the caller's
    transaction, as its last statement)."""
    record_event(
        connection,
        EventType.JOB_STATE,
        job_id=job_id,
        state=str(state),
        model_id=model_id,
        promotion=promotion,
    )


def _row_event(connection: sa.Connection, row: sa.Row) -> None:
    """The `job_state` event of a row an UPDATE ... RETURNING gave back."""
    _state_event(connection, row.id, row.state, row.model_id, row.promotion)


def _values_event(connection: sa.Connection, values: Mapping[str, Any]) -> None:
    """The `job_state` event of a row just inserted with `values`."""
    _state_event(
        connection, values["id"], values["state"], values.get("model_id"), values["promotion"]
    )


def _bump() -> dict[str, Any]:
    return {"version": jobs.c.version + 1}


def _run_by(owner: str) -> list:
    """The conditions of every write by the worker that holds a job's lease: still running, and
    still `owner`'s (not cancelled, not taken over after a lost lease)."""
    return [jobs.c.state == JobState.RUNNING, jobs.c.owner == owner]


@dataclass(frozen=True)
class Claim:
    """The outcome of a delivery's try to take a job.

    "claimed": this process owns it now (run it); "busy": a live owner runs it (drop this
    delivery); "terminal": it has ended; "gave_up": it had lost `max_attempts` workers and is now
    failed; "cancel": cancellation was asked for while nobody ran it, and it is now cancelled.
    """

    outcome: str
    record: JobRecord


@dataclass
class Repairs:
    """What one reaper pass did: jobs requeued or ended, and jobs whose task must be re-sent."""

    requeued: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    resend: list[str] = field(default_factory=list)


class JobTable:
    """Creates, changes and lists jobs; the lease, cancel requests and the reaper."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # Creating and reading

    def create(self, record: dict, *, created_us: int | None = None) -> JobRecord:
        """Store a new job in state "queued"; needs record["id"] (AlreadyExists if taken)."""
        if not isinstance(record, dict) or "id" not in record:
            raise ValueError("a job record needs an id")
        job_id = validate_id(record["id"])
        hyperparameters = record.get("hyperparameters") or {}
        now = created_us if created_us is not None else now_us()
        values = {
            "id": job_id,
            "state": JobState.QUEUED,
            "created_us": now,
            "dataset_id": record.get("dataset_id"),
            "hyperparameters": hyperparameters,
            "initial_model_id": record.get("initial_model_id"),
            **_promote_columns(record),
            "snapshot_id": model_id_for_job(job_id),
            "metrics": {"train_accuracy": None, "validation_accuracy": None},
            "progress": {"epoch": 0, "epochs": hyperparameters.get("epochs"), "loss": None},
            "loss_history": [],
            "attempts": 0,
            "sent_us": now,
            "sweep_id": record.get("sweep_id"),
            "trial_number": record.get("trial_number"),
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(jobs.insert().values(**values))
                _values_event(connection, values)
        except sa.exc.IntegrityError:
            raise AlreadyExists("job", job_id) from None
        return self.get(job_id)

    def insert_imported(self, record: dict) -> bool:
        """Insert a whole job record from another store, as it was (an unfinished one comes
        back `queued`, so the reaper sends its task); False if the id exists already."""
        job_id = validate_id(record["id"])
        state = record.get("state")
        unfinished = state not in TERMINAL_STATES
        created_us = from_iso(record.get("created_at")) or now_us()
        values = {
            "id": job_id,
            "state": JobState.QUEUED if unfinished else state,
            "created_us": created_us,
            "started_us": from_iso(record.get("started_at")),
            "finished_us": None if unfinished else from_iso(record.get("finished_at")),
            "dataset_id": record.get("dataset_id"),
            "hyperparameters": record.get("hyperparameters") or {},
            "initial_model_id": record.get("initial_model_id"),
            **_promote_columns(record),
            "snapshot_id": model_id_for_job(job_id),
            "model_id": record.get("model_id"),
            "metrics": record.get("metrics")
            or {"train_accuracy": None, "validation_accuracy": None},
            "progress": record.get("progress") or {"epoch": 0, "epochs": None, "loss": None},
            "loss_history": record.get("loss_history") or [],
            "error": record.get("error"),
            "attempts": int(record.get("attempts") or 0),
            "sent_us": 0 if unfinished else created_us,
        }
        started, finished = values["started_us"], values["finished_us"]
        if started is not None and finished is not None:
            values["training_seconds"] = max(finished - started, 0) / 1_000_000
        try:
            with self.engine.begin() as connection:
                connection.execute(jobs.insert().values(**values))
                _count_duration(connection, values["state"], values.get("training_seconds"))
                _values_event(connection, values)
        except sa.exc.IntegrityError:
            return False
        return True

    def get(self, job_id: str) -> JobRecord:
        """The job; NotFound if absent."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(jobs).where(jobs.c.id == validate_id(job_id))
            ).first()
        if row is None:
            raise NotFound("job", job_id)
        return _record(row)

    def version(self, job_id: str) -> int | None:
        """A number that changes with every change of the job (None: no such job)."""
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(jobs.c.version).where(jobs.c.id == validate_id(job_id))
            ).scalar()

    def versions(self, job_ids: Collection[str]) -> dict[str, int]:
        """The version of each of `job_ids` that exists (absent: no such job), in one query per
        `VERSIONS_BATCH` ids: what one follower asks for all the streams of a process."""
        ids = sorted({validate_id(job_id) for job_id in job_ids})
        found: dict[str, int] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(ids), VERSIONS_BATCH):
                batch = ids[start : start + VERSIONS_BATCH]
                query = sa.select(jobs.c.id, jobs.c.version).where(jobs.c.id.in_(batch))
                found.update((row.id, row.version) for row in connection.execute(query))
        return found

    def list(
        self,
        limit: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
        *,
        state: str | None = None,
        dataset_id: str | None = None,
    ) -> Page[JobRecord]:
        """One page of jobs, newest first, optionally of one state and/or dataset."""
        filters = []
        if state is not None:
            filters.append(jobs.c.state == state)
        if dataset_id is not None:
            filters.append(jobs.c.dataset_id == dataset_id)
        query = page_query(jobs, [jobs], limit, page_token, filters)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return make_page(rows, limit, _record)

    def of_sweep(self, sweep_id: str) -> list[JobRecord]:
        """Every trial job of a sweep, by trial number."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(jobs)
                .where(jobs.c.sweep_id == validate_id(sweep_id))
                .order_by(jobs.c.trial_number)
            ).all()
        return [_record(row) for row in rows]

    def delete(self, job_id: str) -> None:
        """Remove a job's row (`ModelStore.delete_job` also drops its checkpoint); NotFound."""
        with self.engine.begin() as connection:
            deleted = connection.execute(jobs.delete().where(jobs.c.id == validate_id(job_id)))
        if deleted.rowcount == 0:
            raise NotFound("job", job_id)

    def delete_finished(self, job_id: str) -> JobState | None:
        """Remove a finished job's row (one conditional DELETE); None if it was removed, else
        the state of the unfinished job that stays. NotFound if absent."""
        with self.engine.begin() as connection:
            deleted = connection.execute(
                jobs.delete()
                .where(jobs.c.id == validate_id(job_id), jobs.c.state.in_(list(TERMINAL_STATES)))
                .returning(jobs.c.id)
            ).first()
        if deleted is not None:
            return None
        return self.get(job_id).state

    # Changing

    def _update(self, job_id: str, conditions: list, values: dict) -> JobRecord | None:
        """UPDATE the job WHERE `conditions`; the new record, or None if nothing matched. A
        write of the state is a `job_state` event, in the same transaction."""
        with self.engine.begin() as connection:
            row = connection.execute(
                jobs.update()
                .where(jobs.c.id == validate_id(job_id), *conditions)
                .values(**values, **_bump())
                .returning(*jobs.c)
            ).first()
            if row is not None and "state" in values:
                _row_event(connection, row)
        return None if row is None else _record(row)

    def transition(
        self, job_id: str, from_states: Collection[str], **fields: object
    ) -> JobRecord | None:
        """Set `fields` only if the job's state is in `from_states`: the new record, else None."""
        if isinstance(from_states, str):
            from_states = (from_states,)
        values = _values(fields)
        if values.get("state") in TERMINAL_STATES:
            values.update(owner=None, heartbeat_at=None)
        return self._update(job_id, [jobs.c.state.in_(list(from_states))], values)

    def request_cancel(self, job_id: str) -> JobRecord:
        """Ask whoever runs the job to stop (read with its next progress write); NotFound."""
        record = self._update(job_id, [], {"cancel_requested": True})
        if record is None:
            raise NotFound("job", job_id)
        return record

    # The lease

    def claim(self, job_id: str, owner: str, lease_seconds: float, max_attempts: int) -> Claim:
        """Make `owner` the job's owner if it is queued or its owner stopped beating."""
        validate_id(job_id)
        now = time.time()
        lost = sa.or_(jobs.c.heartbeat_at.is_(None), jobs.c.heartbeat_at < now - lease_seconds)
        free = sa.or_(
            jobs.c.state == JobState.QUEUED, sa.and_(jobs.c.state == JobState.RUNNING, lost)
        )
        with self.engine.begin() as connection:
            row = connection.execute(
                jobs.update()
                .where(
                    jobs.c.id == job_id,
                    free,
                    sa.not_(jobs.c.cancel_requested),
                    sa.or_(jobs.c.state == JobState.QUEUED, jobs.c.attempts < max_attempts),
                )
                .values(
                    state=JobState.RUNNING,
                    owner=owner,
                    heartbeat_at=now,
                    attempts=jobs.c.attempts + 1,
                    started_us=sa.func.coalesce(jobs.c.started_us, now_us()),
                    error=None,
                    **_bump(),
                )
                .returning(*jobs.c)
            ).first()
            if row is not None:
                _row_event(connection, row)
        if row is not None:
            return Claim("claimed", _record(row))
        record = self.get(job_id)
        if record.state.is_terminal:
            return Claim("terminal", record)
        if record.state == JobState.RUNNING and not _lost(record, now, lease_seconds):
            return Claim("busy", record)
        ended = self._end_unclaimable(record, now, lease_seconds, max_attempts)
        if ended is not None:
            return ended
        return Claim("busy", self.get(job_id))  # changed under us: let the current owner be

    def _end_unclaimable(
        self, record: JobRecord, now: float, lease_seconds: float, max_attempts: int
    ) -> Claim | None:
        """Cancel a job nobody runs that was asked to stop, or fail one that lost too many
        workers; None if another process changed it first."""
        stale = sa.or_(
            jobs.c.state == JobState.QUEUED,
            jobs.c.heartbeat_at.is_(None),
            jobs.c.heartbeat_at < now - lease_seconds,
        )
        ending = {"finished_us": now_us(), "owner": None, "heartbeat_at": None}
        if record.cancel_requested:
            done = self._update(
                record.id,
                [jobs.c.state.in_([JobState.QUEUED, JobState.RUNNING]), stale],
                {"state": JobState.CANCELLED, **ending},
            )
            return None if done is None else Claim("cancel", done)
        message = _gave_up(record.attempts, max_attempts)
        done = self._update(
            record.id,
            [jobs.c.state == JobState.RUNNING, stale, jobs.c.attempts >= max_attempts],
            {"state": JobState.FAILED, "error": message, **ending},
        )
        return None if done is None else Claim("gave_up", done)

    def heartbeat(self, job_id: str, owner: str, **fields: object) -> bool | None:
        """Refresh the lease and set `fields` (progress) while `owner` runs the job.

        Returns None if the job is no longer `owner`'s (cancelled, or taken over after a lost
        lease), else whether cancellation was asked for.
        """
        values = _values(fields)
        with self.engine.begin() as connection:
            row = connection.execute(
                jobs.update()
                .where(jobs.c.id == validate_id(job_id), *_run_by(owner))
                .values(**values, heartbeat_at=time.time(), **_bump())
                .returning(jobs.c.cancel_requested, *EVENT_COLUMNS)
            ).first()
            if row is not None and "state" in values:
                _row_event(connection, row)
        return None if row is None else bool(row.cancel_requested)

    def finish(self, job_id: str, owner: str, state: str, **fields: object) -> JobRecord | None:
        """End the job in `state` if `owner` still runs it: the new record, else None."""
        if state not in TERMINAL_STATES:
            raise ValueError(f"state: expected one of {sorted(TERMINAL_STATES)}, got {state!r}")
        finished = now_us()
        values = {
            **_values(fields),
            "state": state,
            "finished_us": finished,
            "training_seconds": (sa.literal(finished) - jobs.c.started_us) / 1_000_000.0,
            "owner": None,
            "heartbeat_at": None,
        }
        with self.engine.begin() as connection:
            row = connection.execute(
                jobs.update()
                .where(jobs.c.id == validate_id(job_id), *_run_by(owner))
                .values(**values, **_bump())
                .returning(*jobs.c)
            ).first()
            if row is not None:
                _count_duration(connection, row.state, row.training_seconds)
                _row_event(connection, row)
        return None if row is None else _record(row)

    def release(self, job_id: str, owner: str) -> JobRecord | None:
        """Hand a job back to the queue (a graceful shutdown): this attempt does not count."""
        values = {
            "state": JobState.QUEUED,
            "owner": None,
            "heartbeat_at": None,
            "attempts": sa.case((jobs.c.attempts > 0, jobs.c.attempts - 1), else_=0),
            "sent_us": now_us(),
        }
        return self._update(job_id, _run_by(owner), values)

    # Repair

    def reap(self, lease_seconds: float, max_attempts: int, resend_after: float) -> Repairs:
        """One pass of repairs; the caller re-sends the tasks of `Repairs.resend`.

        A running job whose heartbeat is older than the lease is requeued (or failed after
        `max_attempts` lost workers, or cancelled if that was asked for). A queued job whose
        task was sent more than `resend_after` seconds ago may have lost its message: it is
        listed for re-sending (a duplicate is harmless: only one delivery can claim the job).
        Every change is conditional on what was read, so reapers in many workers may race.
        """
        now = time.time()
        repairs = Repairs()
        with self.engine.connect() as connection:
            lost = connection.execute(
                sa.select(jobs.c.id, jobs.c.heartbeat_at, jobs.c.attempts, jobs.c.cancel_requested)
                .where(
                    jobs.c.state == JobState.RUNNING,
                    sa.or_(
                        jobs.c.heartbeat_at.is_(None), jobs.c.heartbeat_at < now - lease_seconds
                    ),
                )
                .limit(REAP_BATCH)
            ).all()
            quiet = connection.execute(
                sa.select(jobs.c.id, jobs.c.sent_us)
                .where(
                    jobs.c.state == JobState.QUEUED,
                    jobs.c.sent_us < now_us() - int(resend_after * 1_000_000),
                )
                .limit(REAP_BATCH)
            ).all()
        for row in lost:
            self._repair_lost(row, max_attempts, repairs)
        for row in quiet:
            resent = self._update(
                row.id,
                [jobs.c.state == JobState.QUEUED, jobs.c.sent_us == row.sent_us],
                {"sent_us": now_us()},
            )
            if resent is not None:
                repairs.resend.append(row.id)
        return repairs

    def _repair_lost(self, row: sa.Row, max_attempts: int, repairs: Repairs) -> None:
        same_lease = [
            jobs.c.state == JobState.RUNNING,
            jobs.c.heartbeat_at.is_(None)
            if row.heartbeat_at is None
            else jobs.c.heartbeat_at == row.heartbeat_at,
        ]
        ending = {"finished_us": now_us(), "owner": None, "heartbeat_at": None}
        if row.cancel_requested:
            if self._update(row.id, same_lease, {"state": JobState.CANCELLED, **ending}):
                repairs.ended.append(row.id)
        elif row.attempts >= max_attempts:
            message = _gave_up(row.attempts, max_attempts)
            failed = {"state": JobState.FAILED, "error": message, **ending}
            if self._update(row.id, same_lease, failed):
                repairs.ended.append(row.id)
        else:
            requeue = {
                "state": JobState.QUEUED,
                "owner": None,
                "heartbeat_at": None,
                "sent_us": now_us(),
            }
            if self._update(row.id, same_lease, requeue):
                repairs.requeued.append(row.id)
                repairs.resend.append(row.id)

    # Figures for /metrics

    def counts(self) -> dict[str, int]:
        """{state: number of jobs} for every state (one aggregate query)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(jobs.c.state, sa.func.count()).group_by(jobs.c.state)
            ).all()
        found = dict(rows)
        return {state: int(found.get(state, 0)) for state in STATES}

    def duration_histogram(self) -> dict[str, tuple[list[int], int, float]]:
        """Per final state: (cumulative counts at each of DURATION_BOUNDS, count, sum) of the
        training seconds of finished jobs: a read of the kept histogram's few rows."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(job_durations).order_by(job_durations.c.state, job_durations.c.bucket)
            ).all()
        per_bucket = {state: [0] * (len(DURATION_BOUNDS) + 1) for state in TERMINAL_STATES}
        totals = dict.fromkeys(TERMINAL_STATES, 0.0)
        for row in rows:
            if row.state in per_bucket and 0 <= row.bucket <= len(DURATION_BOUNDS):
                per_bucket[row.state][row.bucket] = int(row.jobs)
                totals[row.state] += float(row.seconds)
        figures = {}
        for state, counts in per_bucket.items():
            cumulative, running = [], 0
            for count in counts[:-1]:
                running += count
                cumulative.append(running)
            figures[state] = (cumulative, sum(counts), totals[state])
        return figures


def _gave_up(attempts: int, max_attempts: int) -> str:
    """The error of a job failed for losing its worker too often."""
    return (
        f"the worker running this job was lost {attempts} times (limit {max_attempts}); giving up"
    )


def duration_bucket(seconds: float) -> int:
    """The histogram bucket of a training time: the first bound it does not exceed."""
    return bisect.bisect_left(DURATION_BOUNDS, seconds)


def _count_duration(connection: sa.Connection, state: str, seconds: float | None) -> None:
    """Add a finished job's training time to the kept histogram (in the caller's transaction)."""
    if seconds is None or state not in TERMINAL_STATES:
        return
    connection.execute(
        job_durations.update()
        .where(job_durations.c.state == state, job_durations.c.bucket == duration_bucket(seconds))
        .values(jobs=job_durations.c.jobs + 1, seconds=job_durations.c.seconds + seconds)
    )


def _lost(record: JobRecord, now: float, lease_seconds: float) -> bool:
    heartbeat = record.heartbeat_at
    return heartbeat is None or heartbeat < now - lease_seconds
