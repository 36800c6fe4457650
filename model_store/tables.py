"""The store's SQL tables (SQLAlchemy Core): datasets, models, jobs, the promotion history and
the registry's events.

Times are integer microseconds since the epoch (`*_us`): they sort and compare the same way in
every database, and the records show them as ISO 8601 strings. Blobs (dataset columns,
snapshots, checkpoints) live in the object store; a row names its blob by `object_key`.
Alembic's migrations (`model_store/migrations/versions`) create exactly these tables.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: Long enough for every store id (`model_store.ids.MAX_ID_LENGTH`).
ID = sa.String(128)

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("counts", sa.JSON, nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("object_key", sa.Text, nullable=False),
    sa.Index("ix_datasets_created", "created_us", "id"),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("job_id", ID, nullable=True),
    sa.Column("dataset_id", ID, nullable=True),
    sa.Column("train_accuracy", sa.Float, nullable=True),
    sa.Column("validation_accuracy", sa.Float, nullable=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("object_key", sa.Text, nullable=False),
    # "ok", or "corrupt" once a read found its blob damaged (with the reason in `error`).
    sa.Column("status", sa.String(16), nullable=False, server_default="ok"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_models_created", "created_us", "id"),
    sa.Index("ix_models_dataset_created", "dataset_id", "created_us", "id"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("started_us", sa.BigInteger, nullable=True),
    sa.Column("finished_us", sa.BigInteger, nullable=True),
    sa.Column("dataset_id", ID, nullable=True),
    sa.Column("hyperparameters", sa.JSON, nullable=False),
    sa.Column("initial_model_id", ID, nullable=True),
    sa.Column("promote", sa.Boolean, nullable=False),
    # "if_better": promote only a model at least as good as the alias's (worker.promotion_gate).
    sa.Column("promote_if_better", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("promote_alias", sa.String(128), nullable=False, server_default="latest"),
    # The gate's decision once the job succeeded: {"promoted": ..., "alias" or "reason": ...}.
    sa.Column("promotion", sa.JSON, nullable=True),
    # The id of the one snapshot this job may save (`m-<job id>`): reserved from the start.
    sa.Column("snapshot_id", ID, nullable=False, unique=True),
    sa.Column("model_id", ID, nullable=True),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("progress", sa.JSON, nullable=False),
    sa.Column("loss_history", sa.JSON, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # The lease: which worker process runs the job, and when it last said so (epoch seconds).
    sa.Column("owner", sa.String(255), nullable=True),
    sa.Column("heartbeat_at", sa.Float, nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    # When the job's task was last sent to the broker: the reaper re-sends a lost message.
    sa.Column("sent_us", sa.BigInteger, nullable=True),
    sa.Column("training_seconds", sa.Float, nullable=True),
    # Bumped by every change, so a follower (the event stream) reads a row only when it moved.
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    # A sweep's trial: the sweep, its trial's number (Optuna's), and whether the pruner stopped it.
    sa.Column("sweep_id", ID, nullable=True),
    sa.Column("trial_number", sa.Integer, nullable=True),
    sa.Column("pruned", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_jobs_created", "created_us", "id"),
    sa.Index("ix_jobs_state_created", "state", "created_us", "id"),
    sa.Index("ix_jobs_dataset_created", "dataset_id", "created_us", "id"),
    sa.Index("ix_jobs_sweep_trial", "sweep_id", "trial_number", unique=True),
)

# A sweep: many training jobs (its trials) over a grid or a search space, ranked by a metric.
# Its Optuna study (same database, Optuna's own tables) is named after its id.
sweeps = sa.Table(
    "sweeps",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("finished_us", sa.BigInteger, nullable=True),
    sa.Column("dataset_id", ID, nullable=False),
    # The request as resolved: base hyperparameters, grid or search, metric, promote, pruner.
    sa.Column("spec", sa.JSON, nullable=False),
    # "grid", "random" or "tpe"; how many trials in all, and at most how many at once.
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("trials", sa.Integer, nullable=False),
    sa.Column("parallel", sa.Integer, nullable=False),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    # When it ended: the best trial's job and the promotion gate's decision on its model.
    sa.Column("best_job_id", ID, nullable=True),
    sa.Column("promotion", sa.JSON, nullable=True),
    # Who advances the sweep now (tell, ask, send), until when (epoch seconds), and a counter
    # every trial's end bumps, so a pass that missed one runs again (worker.sweeps).
    sa.Column("lease_owner", sa.String(255), nullable=True),
    sa.Column("lease_until", sa.Float, nullable=True),
    sa.Column("pokes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Index("ix_sweeps_created", "created_us", "id"),
    sa.Index("ix_sweeps_state_created", "state", "created_us", "id"),
)

#: Upper bounds (seconds, inclusive) of the training-duration histogram's buckets; bucket i counts
#: jobs with bounds[i-1] < seconds <= bounds[i], bucket len(bounds) those above the last bound.
#: Changing them needs a migration that re-buckets `job_durations`.
DURATION_BOUNDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 10800.0)

# The histogram of finished jobs' training seconds, per final state, kept up to date in the
# transaction that finishes a job: a /metrics scrape reads these rows, whatever the history's size.
job_durations = sa.Table(
    "job_durations",
    metadata,
    sa.Column("state", sa.String(16), primary_key=True),
    sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("jobs", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("seconds", sa.Float, nullable=False, server_default="0"),
)

promotions = sa.Table(
    "promotions",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    # Which name the model was promoted to; "latest" is the one /predict serves by default.
    sa.Column("alias", sa.String(128), nullable=False, server_default="latest"),
    # The model the alias names from then on; with `split`, its first member; null once removed.
    sa.Column("model_id", ID, nullable=True),
    # A weighted split, [{"model_id", "weight"}, ...], or null for a single model.
    sa.Column("split", sa.JSON, nullable=True),
    sa.Column("promoted_us", sa.BigInteger, nullable=False),
    # The API key's name that promoted it, or "anonymous"; "job <id>" for a job's own promotion.
    sa.Column("promoted_by", sa.String(255), nullable=False),
    sa.Index("ix_promotions_alias_seq", "alias", "seq"),
)

# A batch prediction: every row of a dataset or an uploaded file scored by one model, in chunks
# that the workers score in parallel. The batch's totals change only in the transaction that
# marks one of its chunks done (`batch_chunks.state`), so each chunk counts once.
batch_predictions = sa.Table(
    "batch_predictions",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("started_us", sa.BigInteger, nullable=True),
    sa.Column("finished_us", sa.BigInteger, nullable=True),
    # The one model that scores every row, resolved at submission, and the alias that named it
    # (null when the request named the model).
    sa.Column("model_id", ID, nullable=False),
    sa.Column("alias", sa.String(128), nullable=True),
    # The rows: a stored dataset's, or (null) an upload kept as one input object per chunk.
    sa.Column("dataset_id", ID, nullable=True),
    sa.Column("has_gender", sa.Boolean, nullable=False),
    sa.Column("rows_total", sa.BigInteger, nullable=False),
    sa.Column("chunk_rows", sa.Integer, nullable=False),
    sa.Column("chunks_total", sa.Integer, nullable=False),
    sa.Column("chunks_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_done", sa.BigInteger, nullable=False, server_default="0"),
    # The confusion matrix of the rows done (true gender first, then the predicted one).
    sa.Column("female_as_female", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("female_as_male", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("male_as_female", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("male_as_male", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=True),
    # Set when a deletion starts (`model_store.batch_deletion`): the batch is gone for every
    # reader from then on; its objects are removed, then its rows.
    sa.Column("deleting_us", sa.BigInteger, nullable=True),
    sa.Index("ix_batch_predictions_created", "created_us", "id"),
    sa.Index("ix_batch_predictions_state_created", "state", "created_us", "id"),
    sa.Index("ix_batch_predictions_finished", "finished_us"),
)

# One chunk of a batch: rows [first_row, first_row + rows) of its input, with a lease like a
# job's (owner, heartbeat_at, attempts) and the time its task was last sent (for the reaper).
batch_chunks = sa.Table(
    "batch_chunks",
    metadata,
    sa.Column("batch_id", ID, primary_key=True),
    sa.Column("chunk", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("first_row", sa.BigInteger, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("owner", sa.String(255), nullable=True),
    sa.Column("heartbeat_at", sa.Float, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("sent_us", sa.BigInteger, nullable=False),
    sa.Index("ix_batch_chunks_state", "state", "sent_us"),
)

# Monotonic counts that outlive the rows they count (Prometheus counters read at scrape time):
# `batch_rows_scored`, the rows batch predictions have scored, grows in the transaction that
# marks a chunk done, and never shrinks when batches are deleted.
counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False, server_default="0"),
)

#: A 64-bit id on PostgreSQL (a BIGSERIAL); SQLite's rowid (AUTOINCREMENT needs INTEGER).
EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The registry's changes, one row each, written in the transaction of the change it tells of
# (`model_store.events.record_event`): ids increase, and commit in id order (writers are
# serialized), so a reader that has seen id N never later finds a smaller one. `at` is the
# change's time in microseconds since the epoch (as every `*_us`); `data` is the event's fields
# as JSON text. AUTOINCREMENT on SQLite: an id is never used twice, even after every older
# event has been pruned.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", EVENT_ID, primary_key=True, autoincrement=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Index("ix_events_at", "at"),
    sqlite_autoincrement=True,
)
