"""All of nnservice's settings, read from the environment in one place.

Every process (API, worker, CLI) builds a `Settings` with `Settings.from_env()`; nothing else in the
code base reads `os.environ` for configuration. Each field names its environment variable.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from model_store import ModelStore


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _keys(value: str) -> tuple[str, ...]:
    return tuple(key.strip() for key in value.split(",") if key.strip())


#: The variable naming the store's directory.
STORE_VARIABLE = "NNSERVICE_STORE"


@dataclass(frozen=True)
class Settings:
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
      NNSERVICE_WORKER_CONCURRENCY   [number of CPUs] training processes per worker
      NNSERVICE_API_WORKERS          [2] gunicorn worker processes for the API
      NNSERVICE_EVENTS_MAX_SECONDS   [600] longest life of one /jobs/{id}/events stream
      NNSERVICE_LOG_LEVEL            [INFO] for every process's JSON log lines
      NNSERVICE_METRICS_DIR          [<temp dir>/nnservice-metrics] where the API's processes
                                     keep their Prometheus figures (a subdirectory per host-port)
    """

    redis_url: str | None = None
    store_path: Path = Path("./nnservice-data")
    database_url: str | None = None
    object_store: str | None = None
    api_keys: tuple[str, ...] = ()
    public_reads: bool = True
    max_body_bytes: int = 64 * 1024 * 1024
    max_predict_rows: int = 10_000
    job_budget: int = 1_000_000_000
    progress_seconds: float = 0.2
    checkpoint_seconds: float = 2.0
    checkpoint_epochs: int = 0
    max_attempts: int = 3
    visibility_timeout: int = 30
    worker_concurrency: int = field(default_factory=lambda: os.cpu_count() or 1)
    api_workers: int = 2
    events_max_seconds: float = 600.0
    log_level: str = "INFO"
    metrics_dir: Path = field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "nnservice-metrics"
    )

    @property
    def store_database_url(self) -> str:
        """NNSERVICE_DATABASE_URL, or the SQLite database in the store directory."""
        return self.database_url or f"sqlite:///{self.store_path}/nnservice.db"

    @property
    def store_objects(self) -> str:
        """NNSERVICE_OBJECT_STORE, or the `objects` directory in the store directory."""
        return self.object_store or str(self.store_path / "objects")

    def open_store(self) -> ModelStore:
        """The store these settings name (a new engine: one per process is enough)."""
        from model_store import ModelStore

        return ModelStore(self.store_database_url, self.store_objects)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `environ` (default `os.environ`); unset variables keep defaults."""
        env = os.environ if environ is None else environ
        defaults = cls()

        def get(name: str, convert, default):
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                return default
            try:
                return convert(raw)
            except ValueError as exc:
                raise ValueError(f"invalid value for {name}: {raw!r} ({exc})") from exc

        return cls(
            redis_url=get("REDIS_URL", str.strip, None),
            store_path=get(STORE_VARIABLE, Path, defaults.store_path),
            database_url=get("NNSERVICE_DATABASE_URL", str.strip, None),
            object_store=get("NNSERVICE_OBJECT_STORE", str.strip, None),
            api_keys=get("NNSERVICE_API_KEYS", _keys, ()),
            public_reads=get("NNSERVICE_PUBLIC_READS", _bool, defaults.public_reads),
            max_body_bytes=get("NNSERVICE_MAX_BODY_BYTES", int, defaults.max_body_bytes),
            max_predict_rows=get("NNSERVICE_MAX_PREDICT_ROWS", int, defaults.max_predict_rows),
            job_budget=get("NNSERVICE_JOB_BUDGET", int, defaults.job_budget),
            progress_seconds=get("NNSERVICE_PROGRESS_SECONDS", float, defaults.progress_seconds),
            checkpoint_seconds=get(
                "NNSERVICE_CHECKPOINT_SECONDS", float, defaults.checkpoint_seconds
            ),
            checkpoint_epochs=get("NNSERVICE_CHECKPOINT_EPOCHS", int, defaults.checkpoint_epochs),
            max_attempts=get("NNSERVICE_MAX_ATTEMPTS", int, defaults.max_attempts),
            visibility_timeout=get(
                "NNSERVICE_VISIBILITY_TIMEOUT", int, defaults.visibility_timeout
            ),
            worker_concurrency=get(
                "NNSERVICE_WORKER_CONCURRENCY", int, defaults.worker_concurrency
            ),
            api_workers=get("NNSERVICE_API_WORKERS", int, defaults.api_workers),
            events_max_seconds=get(
                "NNSERVICE_EVENTS_MAX_SECONDS", float, defaults.events_max_seconds
            ),
            log_level=get("NNSERVICE_LOG_LEVEL", str.strip, defaults.log_level).upper(),
            metrics_dir=get("NNSERVICE_METRICS_DIR", Path, defaults.metrics_dir),
        )


#: The variables `Settings.from_env` reads (checked against docker-compose.yml in tests).
ENVIRONMENT_VARIABLES: frozenset[str] = frozenset(
    {
        "REDIS_URL",
        STORE_VARIABLE,
        "NNSERVICE_DATABASE_URL",
        "NNSERVICE_OBJECT_STORE",
        "NNSERVICE_API_KEYS",
        "NNSERVICE_PUBLIC_READS",
        "NNSERVICE_MAX_BODY_BYTES",
        "NNSERVICE_MAX_PREDICT_ROWS",
        "NNSERVICE_JOB_BUDGET",
        "NNSERVICE_PROGRESS_SECONDS",
        "NNSERVICE_CHECKPOINT_SECONDS",
        "NNSERVICE_CHECKPOINT_EPOCHS",
        "NNSERVICE_MAX_ATTEMPTS",
        "NNSERVICE_VISIBILITY_TIMEOUT",
        "NNSERVICE_WORKER_CONCURRENCY",
        "NNSERVICE_API_WORKERS",
        "NNSERVICE_EVENTS_MAX_SECONDS",
        "NNSERVICE_LOG_LEVEL",
        "NNSERVICE_METRICS_DIR",
    }
)
