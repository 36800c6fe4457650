"""The Celery application: broker, JSON-only serialization, late acks, and the pool-child hooks.

`make_celery(settings)` builds an app for any settings (the API uses it to send tasks); the
module-level `app` reads the environment so that `celery -A worker.celery_app worker` works.

Delivery guarantees (see docs/architecture.md, "Celery"): a task is acknowledged only after it
returns (`task_acks_late`), a pool child that dies puts its message back
(`task_reject_on_worker_lost`), and each pool process reserves one message at a time
(`worker_prefetch_multiplier=1`). With the Redis transport a message that stays unacknowledged
for `visibility_timeout` seconds (its worker died as a whole) is delivered again; the training
job is idempotent and resumes from its checkpoint, so redelivery is safe. No task time limit is
set: the job budget (epochs x rows) bounds training, and a time-limit kill would look like a
lost worker and be retried.
"""

from __future__ import annotations

import warnings

from celery import Celery, signals
from celery.exceptions import SecurityWarning

from neural.hyperparameters import HIDDEN_LAYERS
from nnservice.config import Settings
from worker import logging_setup  # noqa: F401 - JSON log lines with job ids (Celery signals)
from worker.reaper import Reaper

#: Broker used when REDIS_URL is unset (`nnservice up` always sets it for its children).
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"

#: Seconds allowed to connect to the broker: the API must answer 503 quickly when Redis is down.
CONNECT_TIMEOUT_SECONDS = 1.0


def make_celery(settings: Settings) -> Celery:
    """Build the Celery app for `settings`: Redis broker, no result backend, JSON only."""
    app = Celery("nnservice", broker=settings.redis_url or DEFAULT_BROKER_URL)
    app.conf.update(
        include=["worker.tasks"],
        # Job state lives in the store, not in a result backend.
        result_backend=None,
        task_ignore_result=True,
        # JSON only: a pickled message is refused by the worker and never executed.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=settings.worker_concurrency,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=CONNECT_TIMEOUT_SECONDS,
        # The worker waits for Redis forever; the API's publish gives up after one quick retry
        # (the retry reconnects a pooled connection that a Redis restart broke).
        broker_connection_max_retries=None,
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 1,
            "interval_start": 0.0,
            "interval_step": 0.2,
            "interval_max": 0.2,
        },
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "socket_timeout": 5.0,
            # Look for messages of dead workers every few seconds (kombu's default: 100 s).
            "unacked_restore_interval": max(1, min(10, settings.visibility_timeout // 3)),
            "unacked_restore_throttle": 1,
            # A worker killed holding the restore lock blocks restores this long (kombu: 300 s).
            "unacked_mutex_expire": 10,
        },
        # A running job whose broker connection drops keeps training; its record is in the store.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=True,
        worker_redirect_stdouts_level="INFO",
    )
    return app


#: Celery warns on every start as root (a container, a CI runner) because a root worker that
#: accepted pickle could be made to run code; this one accepts JSON only (`accept_content`), so
#: the warning is moot. Only that warning is silenced, through Python's warning filters.
warnings.filterwarnings(
    "ignore",
    message="You're running the worker with superuser privileges",
    category=SecurityWarning,
)


#: Hidden-layer counts the API accepts (`neural.hyperparameters`): numba compiles the
#: training kernel once per network depth, so every depth is prepared before any job runs.
WARM_UP_DEPTHS = tuple(range(HIDDEN_LAYERS[0], HIDDEN_LAYERS[1] + 1))


@signals.worker_init.connect
def _warm_up_before_the_pool(**_: object) -> None:
    """In the worker's main process, before the pool forks and before it consumes any message:
    compile the kernels (or load them from numba's cache), so the pool children inherit them
    and no job waits for a compile. The worker answers pings only after this."""
    import neural

    neural.warm_up(hidden_layers=WARM_UP_DEPTHS)


@signals.worker_shutting_down.connect
def _interrupt_training(how: str = "Warm", **_: object) -> None:
    """On a warm shutdown, running training jobs checkpoint and requeue instead of finishing."""
    from worker import shutdown

    if how == "Warm":
        shutdown.signal_pool_children()


app = make_celery(Settings.from_env())
app.steps["worker"].add(Reaper)
