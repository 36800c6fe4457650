"""The Celery configuration shared by the API (to send tasks) and the worker (to run them).

`make_celery(settings)` builds an app and does nothing else: importing this module starts no
thread, connects no signal and loads neither the tasks nor the training code, so the API can send
a task by its name (`worker.names`) without carrying the worker's runtime.

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

from celery import Celery

from foundation.settings import Settings

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
