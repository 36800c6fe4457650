"""All of nnservice's settings, read from the environment in one place.

Every process (API, worker, CLI) builds a `Settings` with `Settings.from_env()`; nothing else in the
code base reads `os.environ` for configuration. `Settings` is a frozen pydantic model: each field's
validation alias is its environment variable, and pydantic converts and checks the values, so a bad
value stops the process with an error naming the variable and the rule it breaks.

`from_env` hands the model the variables of one mapping (`os.environ`, or the one a test or a
supervisor is about to give a child process); building `Settings(field=...)` directly reads no
environment at all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from foundation.limits import DEFAULT_MAX_PREDICT_ROWS

#: The variable naming the store's directory.
STORE_VARIABLE = "NNSERVICE_STORE"


class Settings(BaseModel):
    """Configuration shared by the API, the workers and the CLI.

    Environment variables (defaults in brackets):
      REDIS_URL                      broker URL; unset: `nnservice up` starts an embedded server
      NNSERVICE_STORE                [./nnservice-data] the one-machine store's directory: the
                                     defaults of the next two live in it
      NNSERVICE_DATABASE_URL         [sqlite:///<NNSERVICE_STORE>/nnservice.db] metadata (jobs,
                                     datasets, models, promotions); postgresql+psycopg://... for
                                     many hosts
      NNSERVICE_OBJECT_STORE         [<NNSERVICE_STORE>/objects] blobs (datasets, snapshots,
                                     checkpoints): a directory, or s3://bucket/prefix (boto3, with
                                     the standard AWS_* variables) for many hosts
      NNSERVICE_API_KEYS             comma-separated bearer keys; unset means the API is open
      NNSERVICE_PUBLIC_READS         [true] reads and /predict need no key even when keys are set
      NNSERVICE_MAX_BODY_BYTES       [67108864] request bodies above this answer 413
      NNSERVICE_MAX_PREDICT_ROWS     [10000] rows in one /predict request
      NNSERVICE_JOB_BUDGET           [1000000000] cap on epochs x rows for one training job
      NNSERVICE_PROGRESS_SECONDS     [0.2] how often a worker writes a job's progress
      NNSERVICE_CHECKPOINT_SECONDS   [2.0] how often a worker checkpoints a running job
      NNSERVICE_CHECKPOINT_EPOCHS    [0] also checkpoint every this many epochs (0: by time only)
      NNSERVICE_MAX_ATTEMPTS         [3] lost workers tolerated on one job before it fails
      NNSERVICE_VISIBILITY_TIMEOUT   [30] seconds before an unacknowledged task is redelivered
      NNSERVICE_OUTAGE_SECONDS       [120] how long a training job waits out an unreachable
                                     database or object store before it is left to the reaper
      NNSERVICE_WORKER_CONCURRENCY   [number of CPUs] training processes per worker
      NNSERVICE_API_WORKERS          [2] gunicorn worker processes for the API
      NNSERVICE_EVENTS_MAX_SECONDS   [600] longest life of one /jobs/{id}/events or /events
                                     stream
      NNSERVICE_EVENTS_RETENTION_SECONDS  [604800] registry events older than this (7 days)
                                     are pruned (by the workers, every few minutes)
      NNSERVICE_BATCH_RETENTION_SECONDS  [0] batch predictions that ended longer ago than this
                                     are deleted with their results (by the workers, every few
                                     minutes); 0 keeps them until deleted
      NNSERVICE_LOG_LEVEL            [INFO] for every process's JSON log lines
      NNSERVICE_METRICS_DIR          [<temp dir>/nnservice-metrics] where the API's processes
                                     keep their Prometheus figures (a subdirectory per host-port)

    Booleans accept 1/true/yes/on and 0/false/no/off; counts and sizes must be positive, the
    seconds between progress records and checkpoints may be 0 (every epoch).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True)

    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    store_path: Path = Field(Path("./nnservice-data"), validation_alias=STORE_VARIABLE)
    database_url: str | None = Field(None, validation_alias="NNSERVICE_DATABASE_URL")
    object_store: str | None = Field(None, validation_alias="NNSERVICE_OBJECT_STORE")
    api_keys: tuple[str, ...] = Field((), validation_alias="NNSERVICE_API_KEYS")
    public_reads: bool = Field(True, validation_alias="NNSERVICE_PUBLIC_READS")
    max_body_bytes: int = Field(64 * 1024 * 1024, gt=0, validation_alias="NNSERVICE_MAX_BODY_BYTES")
    max_predict_rows: int = Field(
        DEFAULT_MAX_PREDICT_ROWS, gt=0, validation_alias="NNSERVICE_MAX_PREDICT_ROWS"
    )
    job_budget: int = Field(1_000_000_000, gt=0, validation_alias="NNSERVICE_JOB_BUDGET")
    progress_seconds: float = Field(0.2, ge=0, validation_alias="NNSERVICE_PROGRESS_SECONDS")
    checkpoint_seconds: float = Field(2.0, ge=0, validation_alias="NNSERVICE_CHECKPOINT_SECONDS")
    checkpoint_epochs: int = Field(0, ge=0, validation_alias="NNSERVICE_CHECKPOINT_EPOCHS")
    max_attempts: int = Field(3, gt=0, validation_alias="NNSERVICE_MAX_ATTEMPTS")
    visibility_timeout: int = Field(30, gt=0, validation_alias="NNSERVICE_VISIBILITY_TIMEOUT")
    outage_seconds: float = Field(120.0, gt=0, validation_alias="NNSERVICE_OUTAGE_SECONDS")
    worker_concurrency: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        gt=0,
        validation_alias="NNSERVICE_WORKER_CONCURRENCY",
    )
    api_workers: int = Field(2, gt=0, validation_alias="NNSERVICE_API_WORKERS")
    events_max_seconds: float = Field(600.0, gt=0, validation_alias="NNSERVICE_EVENTS_MAX_SECONDS")
    events_retention_seconds: float = Field(
        7 * 24 * 3600.0, gt=0, validation_alias="NNSERVICE_EVENTS_RETENTION_SECONDS"
    )
    batch_retention_seconds: float = Field(
        0.0, ge=0, validation_alias="NNSERVICE_BATCH_RETENTION_SECONDS"
    )
    log_level: str = Field("INFO", validation_alias="NNSERVICE_LOG_LEVEL")
    metrics_dir: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "nnservice-metrics",
        validation_alias="NNSERVICE_METRICS_DIR",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def split_api_keys(cls, value: object) -> object:
        """A string is the variable's comma-separated list (not JSON); blank entries drop out."""
        if isinstance(value, str):
            return tuple(key.strip() for key in value.split(",") if key.strip())
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def upper_case_level(cls, value: object) -> object:
        """Level names are upper case for logging and Celery alike (`info` means INFO)."""
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def store_database_url(self) -> str:
        """NNSERVICE_DATABASE_URL, or the SQLite database in the store directory."""
        return self.database_url or f"sqlite:///{self.store_path}/nnservice.db"

    @property
    def store_objects(self) -> str:
        """NNSERVICE_OBJECT_STORE, or the `objects` directory in the store directory."""
        return self.object_store or str(self.store_path / "objects")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `environ` (default `os.environ`) and nothing else.

        Unset, empty or blank variables keep their defaults; a bad value raises ValueError naming
        the variable, the value and the rule.
        """
        env = os.environ if environ is None else environ
        given = {
            name: env[name].strip() for name in ENVIRONMENT_VARIABLES if env.get(name, "").strip()
        }
        try:
            return cls(**given)
        except ValidationError as exc:
            raise ValueError(_describe(exc)) from None


def _describe(error: ValidationError) -> str:
    """One clause per bad variable: `invalid value for NAME: 'value' (rule)`."""
    return "; ".join(
        f"invalid value for {'.'.join(map(str, problem['loc']))}: {problem['input']!r} "
        f"({problem['msg']})"
        for problem in error.errors(include_url=False)
    )


#: The variables `Settings.from_env` reads: the fields' validation aliases (checked against
#: docker-compose.yml and docs/configuration.md in tests).
ENVIRONMENT_VARIABLES: frozenset[str] = frozenset(
    field.validation_alias for field in Settings.model_fields.values()
)
