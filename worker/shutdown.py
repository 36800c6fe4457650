"""Graceful shutdown of training: SIGTERM asks a running job to checkpoint and go back on the queue.

Celery's warm shutdown (SIGTERM or Ctrl-C to the worker) waits for running tasks to finish, which
for a long training job can outlast any container's stop grace period. Instead, the worker's main
process forwards SIGTERM to each pool child that is running a training task
(`forward_to_training_children`), and inside the task (`job_running`) the child's SIGTERM handler
only raises a flag. The training job checks the flag after every epoch, saves a checkpoint, puts
the job back to `queued`, and the task requeues its message, so another worker resumes it from the
checkpoint. A second SIGTERM, or one that arrives while no job runs, goes to the pool's own
handler (billiard's, which exits the child) as before.

The handler is installed when a task starts, not at process start: billiard replaces the
terminate handlers after Celery's `worker_process_init` hooks have run.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable, Iterator
from typing import Any

_in_job = False
_requested = False
_previous: Any = signal.SIG_DFL


def requested() -> bool:
    """True once this process has been asked to stop; the training job polls it between epochs."""
    return _requested


def _on_sigterm(signum: int, frame: Any) -> None:
    global _requested
    if _in_job and not _requested:
        _requested = True
        return
    if callable(_previous):
        _previous(signum, frame)
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


@contextlib.contextmanager
def job_running() -> Iterator[None]:
    """While the block runs, the first SIGTERM only sets `requested()`."""
    global _in_job, _previous
    current = signal.getsignal(signal.SIGTERM)
    if current is not _on_sigterm:
        _previous = current
        signal.signal(signal.SIGTERM, _on_sigterm)
    _in_job = True
    try:
        yield
    finally:
        _in_job = False


def forward_to_training_children(active_requests: Iterable[object], task_name: str) -> list[int]:
    """Send SIGTERM to the pool children running `task_name`; returns their pids."""
    pids = []
    for request in list(active_requests):
        pid = getattr(request, "worker_pid", None)
        if pid and getattr(request, "task_name", None) == task_name:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            pids.append(pid)
    return pids
