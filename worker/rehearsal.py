"""A pool child's rehearsal: one whole seed-sized job on a throwaway store, before real jobs.

A forked pool child shares its parent's memory pages until it writes to them, and running Python
code writes to what it touches (reference counts), so the first job a child runs pays those
copy-on-write page faults and cold caches: about 5-8 ms on a seed job, twice the tenth job's time
in the worker (bench/bench_worker_start.py). Running the same path once when the child starts
(`worker.celery_app`'s `worker_process_init`), on a store in a temporary directory that is deleted
afterwards, moves that cost to the child's start. Nothing of it reaches the real store.

The rehearsal runs the `nnservice.train` task itself, through Celery's task tracer (`apply`: in
this process, no broker), not just `run_training_job`: rehearsing only the job function left the
task layer cold, and the first real job still took 1.5-2x the tenth in the worker. The task finds
its store in the environment (`NNSERVICE_STORE`), which points at the temporary store while the
rehearsal runs; the child has no other thread then.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from model_store import ModelStore
from nnservice.config import STORE_VARIABLE
from worker.training_setup import DEFAULT_HYPERPARAMETERS

log = logging.getLogger(__name__)

#: The seed's four people: weight (lb), height (in), label (1.0 = F).
PEOPLE = ((133.0, 65.0, 1.0), (160.0, 72.0, 0.0), (152.0, 70.0, 0.0), (120.0, 60.0, 1.0))
#: The service's defaults (one hidden layer of 2, 1000 epochs), as POST /train of the seed has them.
HYPERPARAMETERS = {**DEFAULT_HYPERPARAMETERS, "seed": 0}
JOB_ID = "rehearsal"


def rehearse_job() -> bool:
    """Run one seed job end to end through the train task (claim, training, snapshot, promotion,
    final record) on a temporary store; True if it succeeded. The task reads the worker's settings
    from the environment, as for a real job; only the store differs. Never raises: a failed
    rehearsal only means the first real job is slower."""
    from worker.tasks import train  # the task module imports the Celery app: import it late

    try:
        with tempfile.TemporaryDirectory(prefix="nnservice-rehearsal-") as root:
            store = ModelStore(root)
            weights, heights, labels = zip(*PEOPLE, strict=True)
            dataset, _ = store.save_dataset("rehearsal", weights, heights, labels)
            store.create_job(
                {
                    "id": JOB_ID,
                    "dataset_id": dataset["id"],
                    "hyperparameters": dict(HYPERPARAMETERS),
                    "promote": True,
                }
            )
            with _store_in_environment(root):
                # throw: a failure raises here (and is logged below); `.get()` would refuse to
                # run in a worker process
                result = train.apply(kwargs={"job_id": JOB_ID}, task_id=JOB_ID, throw=True)
            return result.result == "succeeded"
    except Exception:  # noqa: BLE001 - never keep a worker from starting
        log.warning("the start-up rehearsal job failed; the first job may be slower", exc_info=True)
        return False


@contextmanager
def _store_in_environment(root: str) -> Iterator[None]:
    """NNSERVICE_STORE pointing at `root` inside the block, as it was after it."""
    before = os.environ.get(STORE_VARIABLE)
    os.environ[STORE_VARIABLE] = root
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(STORE_VARIABLE, None)
        else:
            os.environ[STORE_VARIABLE] = before
