"""The worker's Celery application: the shared configuration (`worker.celery_config`) plus what
only a worker runs: the kernels' warm-up before the pool forks, the warm-shutdown hook, the reaper
and the JSON log lines. `celery -A worker.celery_app worker` and `nnservice worker` use `app`.
"""

from __future__ import annotations

import warnings

from celery import signals
from celery.exceptions import SecurityWarning

from foundation.hyperparameters import HIDDEN_LAYERS
from foundation.settings import Settings
from worker import logging_setup  # noqa: F401 - JSON log lines with job ids (Celery signals)
from worker.celery_config import make_celery
from worker.reaper import Reaper

#: Celery warns on every start as root (a container, a CI runner) because a root worker that
#: accepted pickle could be made to run code; this one accepts JSON only (`accept_content`), so
#: the warning is moot. Only that warning is silenced, through Python's warning filters.
warnings.filterwarnings(
    "ignore",
    message="You're running the worker with superuser privileges",
    category=SecurityWarning,
)


#: Hidden-layer counts the API accepts (`foundation.hyperparameters`): numba compiles the
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
