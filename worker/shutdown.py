"""Graceful shutdown of training: SIGTERM asks a running job to checkpoint and go back on the queue.

Celery's warm shutdown (SIGTERM or Ctrl-C to the worker) waits for running tasks to finish, which
for a long training job can outlast any container's stop grace period. Instead, the worker's main
process forwards SIGTERM to its pool children (`signal_pool_children`, from Celery's
`worker_shutting_down` signal); inside a training task (`job_running`) a child's SIGTERM handler
only raises a flag, and an idle child exits as on any SIGTERM. The training job checks the flag
after every epoch, saves a checkpoint, puts the job back to `queued`, and the task requeues its
message, so another worker resumes it from the checkpoint. A second SIGTERM, or one that arrives
while no job runs, goes to the pool's own handler (billiard's, which exits the child) as before.

The handler is installed when a task starts, not at process start: billiard replaces the
terminate handlers after Celery's `worker_process_init` hooks have run.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from typing import Any

import billiard

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


def signal_pool_children() -> list[int]:
    """Send SIGTERM to this process's pool children (billiard's processes); returns their pids."""
    pids = []
    for child in billiard.active_children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGTERM)
            pids.append(child.pid)
    return pids
