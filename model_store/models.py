"""Models (a row each, and their snapshot: a canonical JSON blob with its sha256) and promotions.

A model's snapshot is written create-only under a key that holds its sha256, then its row
commits; the row is what makes the model exist. The model a job trains has the id `m-<job id>`,
reserved for that job from its creation (`jobs.snapshot_id`): no import can take it, and a
retried job finds its own model instead of writing a second. Promotions are an append-only
history; the newest promotion of an alias ("latest" for /predict) names the model it serves.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from types import SimpleNamespace
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from foundation.events import EventType
from foundation.limits import DEFAULT_PAGE_SIZE
from foundation.states import JobState
from model_store.batches import unfinished_batches
from model_store.canonical import hashed_snapshot_json
from model_store.deletion import create_unshared, delete_unless_held, locked_transaction
from model_store.errors import (
    AlreadyExists,
    CorruptSnapshot,
    InvalidSnapshot,
    NotFound,
    ObjectStoreUnreachable,
    StoreError,
)
from model_store.events import record_event
from model_store.ids import new_model_id, validate_id
from model_store.objects import ObjectStore
from model_store.pages import Page, make_page, page_query
from model_store.records import ModelRecord, Promotion
from model_store.snapshots import validate_snapshot, verify_snapshot_bytes, with_defaults
from model_store.tables import batch_predictions, jobs, models, promotions
from model_store.times import iso, now_us

if TYPE_CHECKING:
    from model_store.trained_model import TrainedModel

log = logging.getLogger(__name__)

#: The alias /predict serves when no model is named.
LATEST = "latest"
#: Who promoted a model when no API key names them.
ANONYMOUS = "anonymous"
#: Promotions looked at when listing the history of distinct models.
HISTORY_SCAN = 1000

SUMMARY_COLUMNS = (
    models.c.id,
    models.c.created_us,
    models.c.job_id,
    models.c.dataset_id,
    models.c.train_accuracy,
    models.c.validation_accuracy,
    models.c.status,
    models.c.error,
)


def object_key(model_id: str, sha256: str) -> str:
    return f"models/{validate_id(model_id)}/{sha256}.json"


def _record(row: sa.Row | SimpleNamespace, latest: str | None) -> ModelRecord:
    return ModelRecord(
        id=row.id,
        created_at=iso(row.created_us),
        job_id=row.job_id,
        dataset_id=row.dataset_id,
        metrics={
            "train_accuracy": row.train_accuracy,
            "validation_accuracy": row.validation_accuracy,
        },
        is_latest=row.id == latest,
        status=row.status,
        error=row.error,
    )


PROMOTION_COLUMNS = (
    promotions.c.seq,
    promotions.c.model_id,
    promotions.c.promoted_us,
    promotions.c.promoted_by,
)


def _promotion(row: sa.Row) -> Promotion:
    return Promotion(
        seq=row.seq,
        model_id=row.model_id,
        promoted_at=iso(row.promoted_us),
        promoted_by=row.promoted_by,
    )


class ModelTable:
    """Saves, verifies, loads and lists models; records and reads promotions."""

    def __init__(self, engine: Engine, objects: ObjectStore) -> None:
        self.engine = engine
        self.objects = objects

    # Models

    def save(
        self, snapshot: dict, *, created_us: int | None = None, imported: bool = False
    ) -> dict:
        """Validate a snapshot (InvalidSnapshot naming the field) and store it as a model.

        Fills id (if absent), created_at and sha256 and returns the stored snapshot. Saving
        again under an id whose snapshot came from the same `training.job_id` returns the stored
        one (a retried job saves exactly one model); any other taken id, or the id reserved for
        a job's model, raises AlreadyExists. `imported` (a client's snapshot, POST /models, not a
        job's) refuses every taken or reserved id, whatever `training.job_id` claims.
        `created_us` keeps an imported model's time (and so its sha256).
        """
        prepared = with_defaults(snapshot)
        if prepared.get("id") is None:
            prepared["id"] = new_model_id()
        created_us = created_us if created_us is not None else now_us()
        prepared["created_at"] = iso(created_us)
        prepared.pop("sha256", None)
        validate_snapshot(prepared)
        try:
            prepared["sha256"], data = hashed_snapshot_json(prepared)
        except ValueError:
            raise InvalidSnapshot(
                "training: contains NaN or Infinity, which JSON cannot hold"
            ) from None
        model_id = prepared["id"]
        job_id = prepared["training"].get("job_id")
        existing = self._existing(model_id, None if imported else job_id)
        if existing is not None:
            return existing
        key = create_unshared(self.objects, object_key(model_id, prepared["sha256"]), data)
        training = prepared["training"]
        values = {
            "id": model_id,
            "created_us": created_us,
            "job_id": job_id,
            "dataset_id": training.get("dataset_id"),
            "train_accuracy": training.get("train_accuracy"),
            "validation_accuracy": training.get("validation_accuracy"),
            "sha256": prepared["sha256"],
            "object_key": key,
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(models.insert().values(**values))
                record_event(
                    connection,
                    EventType.MODEL_CREATED,
                    model_id=model_id,
                    dataset_id=values["dataset_id"],
                    job_id=job_id,
                )
        except sa.exc.IntegrityError:  # another writer took the id meanwhile
            existing = self._existing(model_id, None if imported else job_id)
            if existing is not None:
                return existing
            raise AlreadyExists("model", model_id) from None
        return prepared

    def _existing(self, model_id: str, job_id: str | None) -> dict | None:
        """The stored snapshot if `model_id` is this job's and saved; AlreadyExists if the id
        is taken by another model or reserved for another job's; None if it is free."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(models.c.job_id).where(models.c.id == model_id)
            ).first()
            reserved_by = connection.execute(
                sa.select(jobs.c.id).where(jobs.c.snapshot_id == model_id)
            ).scalar()
        if reserved_by is not None and reserved_by != job_id:
            raise AlreadyExists("model", model_id)
        if row is None:
            return None
        if job_id is not None and row.job_id == job_id:
            return self.snapshot(model_id)
        raise AlreadyExists("model", model_id)

    def snapshot(self, model_id: str) -> dict:
        """The model's verified snapshot; NotFound if absent, CorruptSnapshot(model_id, reason)
        if it cannot be trusted (and the model is marked corrupt), ObjectStoreUnreachable if the
        object store does not answer (the model is not marked)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(models.c.object_key, models.c.sha256).where(
                    models.c.id == validate_id(model_id)
                )
            ).first()
        if row is None:
            raise NotFound("model", model_id)
        try:
            try:
                data = self.objects.get(row.object_key)
            except NotFound:
                raise CorruptSnapshot(model_id, "its snapshot object is missing") from None
            except ObjectStoreUnreachable:
                raise  # the snapshot may be intact: never recorded as corrupt for an outage
            except StoreError as error:
                raise CorruptSnapshot(model_id, f"unreadable ({error})") from None
            snapshot = verify_snapshot_bytes(model_id, data)
            if snapshot["sha256"] != row.sha256:
                raise CorruptSnapshot(model_id, "sha256 differs from the one recorded at saving")
        except CorruptSnapshot as error:
            self._mark_corrupt(model_id, error.reason)
            raise
        return snapshot

    def _mark_corrupt(self, model_id: str, reason: str) -> None:
        """Record the damage so listings show it (best effort: the read already failed)."""
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    models.update()
                    .where(models.c.id == model_id)
                    .values(status="corrupt", error=reason)
                )
        except sa.exc.SQLAlchemyError:
            log.warning("could not record that model %s is corrupt", model_id, exc_info=True)

    def load(self, model_id: str) -> TrainedModel:
        """The model's verified snapshot as a TrainedModel, ready to predict."""
        from model_store.trained_model import TrainedModel  # neural only when a model is used

        return TrainedModel.from_snapshot(self.snapshot(model_id))

    def get(self, model_id: str) -> ModelRecord:
        """The model's record (its listing entry); NotFound if absent."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(*SUMMARY_COLUMNS).where(models.c.id == validate_id(model_id))
            ).first()
            latest = _latest_id(connection, LATEST)
        if row is None:
            raise NotFound("model", model_id)
        return _record(row, latest)

    def list(
        self,
        limit: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
        dataset_id: str | None = None,
    ) -> Page[ModelRecord]:
        """One page of models, newest first (optionally of one dataset; status "corrupt" once
        a read failed)."""
        filters = [] if dataset_id is None else [models.c.dataset_id == dataset_id]
        query = page_query(models, SUMMARY_COLUMNS, limit, page_token, filters)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
            latest = _latest_id(connection, LATEST)
        return make_page(rows, limit, lambda row: _record(row, latest))

    def exists(self, model_id: str) -> bool:
        """Whether the model's row exists (one primary-key lookup; a deleted model's is gone)."""
        with self.engine.connect() as connection:
            return (
                connection.execute(
                    sa.select(models.c.id).where(models.c.id == validate_id(model_id))
                ).first()
                is not None
            )

    def sha256s(self, model_ids: Collection[str]) -> dict[str, str]:
        """The stored sha256 of each of `model_ids` that exists (absent: deleted or never
        saved), in one query: how a process re-checks the models it holds in memory."""
        ids = sorted({validate_id(model_id) for model_id in model_ids})
        if not ids:
            return {}
        query = sa.select(models.c.id, models.c.sha256).where(models.c.id.in_(ids))
        with self.engine.connect() as connection:
            return {row.id: row.sha256 for row in connection.execute(query)}

    def delete(self, model_id: str) -> None:
        """Delete the model's row and then its snapshot; NotFound if absent, InUse naming the
        aliases that name it now, the queued or running jobs that start from it or will save it
        and the queued or running batch predictions it scores. Promotions that named it before
        stay in the history, with its id."""
        validate_id(model_id)
        holders = {
            "aliases": aliases_naming(model_id),
            "jobs": jobs_needing(model_id),
            "batch_predictions": unfinished_batches(batch_predictions.c.model_id, model_id),
        }
        delete_unless_held(
            self.engine, self.objects, "model", models, model_id, holders, EventType.MODEL_DELETED
        )

    def aliases_of(self, model_id: str) -> list[str]:
        """The aliases whose newest promotion names `model_id` (those that serve it now)."""
        with self.engine.connect() as connection:
            return list(connection.execute(aliases_naming(model_id)).scalars())

    # Promotions

    def promote(
        self,
        model_id: str,
        promoted_by: str = ANONYMOUS,
        *,
        alias: str = LATEST,
        verified: bool = False,
    ) -> None:
        """Append a promotion of `model_id` to `alias`, after verifying its snapshot (NotFound,
        CorruptSnapshot) unless the caller has just saved it (`verified`)."""
        if not verified:
            self.snapshot(model_id)
        with locked_transaction(self.engine) as connection, connection.begin():
            # The model's row, locked as `delete` locks it: it cannot vanish before this commits.
            present = connection.execute(
                sa.select(models.c.id).where(models.c.id == model_id).with_for_update(read=True)
            ).first()
            if present is None:
                raise NotFound("model", model_id)
            connection.execute(
                promotions.insert().values(
                    alias=alias, model_id=model_id, promoted_us=now_us(), promoted_by=promoted_by
                )
            )
            record_event(
                connection,
                EventType.ALIAS_CHANGED,
                alias=alias,
                model_id=model_id,
                split=None,
                changed_by=promoted_by,
            )

    def latest_id(self, alias: str = LATEST) -> str | None:
        """The model the newest promotion of `alias` names (not verified: the caller decides
        about a corrupt one); None if none."""
        with self.engine.connect() as connection:
            return _latest_id(connection, alias)

    def latest_promotion(self, alias: str = LATEST) -> Promotion | None:
        """The newest promotion of `alias`: one indexed query, which every API process polls
        to notice promotions made anywhere."""
        promotions_found = self.promotions(1, alias)
        return promotions_found[0] if promotions_found else None

    def promotions(self, limit: int = 50, alias: str = LATEST) -> list[Promotion]:
        """The newest promotions of `alias` first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(*PROMOTION_COLUMNS)
                .where(promotions.c.alias == alias)
                .order_by(promotions.c.seq.desc())
                .limit(limit)
            ).all()
        return [_promotion(row) for row in rows]

    def count_promotions_by(self, promoted_by: str) -> int:
        """The number of promotions `promoted_by` made."""
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    sa.select(sa.func.count()).where(promotions.c.promoted_by == promoted_by)
                ).scalar()
                or 0
            )

    def promoted_ids(self, limit: int = 50, alias: str = LATEST) -> list[str]:
        """Distinct ids promoted before, most recent first (the current one among them)."""
        seen: list[str] = []
        for promotion in self.promotions(HISTORY_SCAN, alias):
            if promotion.model_id not in seen:
                seen.append(promotion.model_id)
                if len(seen) == limit:
                    break
        return seen


def _latest_id(connection: sa.Connection, alias: str) -> str | None:
    return connection.execute(
        sa.select(promotions.c.model_id)
        .where(promotions.c.alias == alias)
        .order_by(promotions.c.seq.desc())
        .limit(1)
    ).scalar()


def aliases_naming(model_id: str) -> sa.Select:
    """The aliases that name `model_id` now: those whose newest promotion (highest seq) names
    it, alone or as a member of its split, whichever aliases there are. Older promotions of it
    are history, not a hold."""
    newer = promotions.alias("newer")
    newest_seq = (
        sa.select(sa.func.max(newer.c.seq))
        .where(newer.c.alias == promotions.c.alias)
        .scalar_subquery()
    )
    return (
        sa.select(promotions.c.alias)
        .where(
            sa.or_(
                promotions.c.model_id == model_id,
                promotions.c.split.cast(sa.Text).contains(f'"{model_id}"', autoescape=True),
            ),
            promotions.c.seq == newest_seq,
        )
        .order_by(promotions.c.alias)
    )


def jobs_needing(model_id: str) -> sa.Select:
    """The queued or running jobs that start from `model_id` or will save it."""
    return (
        sa.select(jobs.c.id)
        .where(
            jobs.c.state.in_([JobState.QUEUED, JobState.RUNNING]),
            sa.or_(jobs.c.initial_model_id == model_id, jobs.c.snapshot_id == model_id),
        )
        .order_by(jobs.c.id)
    )
