"""Graceful shutdown of training: SIGTERM asks a running job to checkpoint and go back on the
queue.

Celery's warm shutdown (SIGTERM or Ctrl-C to the worker) waits for running tasks to finish,
which for a long training job can outlast any container's stop grace period. Instead, the
worker's main process forwards SIGTERM to each pool child that is running a training task
(`forward_to_training_children`), and the child's handler (`install_child_handler`) only raises
a flag. The training job checks the flag after every epoch, saves a checkpoint, puts the job
back to `queued` and the task requeues its message, so another worker resumes it from the
checkpoint. A second SIGTERM, or one that arrives while the child is idle, ends the child at
once as usual.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

_in_job = False
_requested = False


def requested() -> bool:
    """True once this process has been asked to stop; the training job polls it between epochs."""
    return _requested


def mark_job_running(running: bool) -> None:
    """Tell the SIGTERM handler whether a job runs now (graceful) or not (exit at once)."""
    global _in_job
    _in_job = running


def _on_sigterm(signum: int, frame: object) -> None:
    global _requested
    if _in_job and not _requested:
        _requested = True
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def install_child_handler() -> None:
    """Install the flag-raising SIGTERM handler in a pool child (call from worker_process_init)."""
    global _requested
    _requested = False
    signal.signal(signal.SIGTERM, _on_sigterm)


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
