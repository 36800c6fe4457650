"""A starting worker compiles the training kernels before it takes any work.

`nnservice worker` warms up on Celery's `worker_init`, in the main process before the pool forks
and before it consumes: with an empty numba cache, by the time it answers its first ping the
cache already holds the kernel for every network depth the API accepts (1-4 hidden layers).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stores import migrated

from foundation.settings import Settings
from worker.celery_app import WARM_UP_DEPTHS
from worker.celery_config import make_celery

pytestmark = pytest.mark.timeout(180)


def test_the_kernels_are_compiled_before_the_first_ping(stack, tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"
    broker = stack.redis_url.rsplit("/", 1)[0] + "/14"  # a database of its own: no stack jobs
    env = {key: value for key, value in os.environ.items() if not key.startswith("NNSERVICE_")}
    env.update(
        REDIS_URL=broker,
        NNSERVICE_STORE=str(tmp_path / "store"),
        NNSERVICE_LOG_LEVEL="WARNING",
        NUMBA_CACHE_DIR=str(cache),
    )
    migrated(Settings.from_env(env))  # the worker refuses a database that is behind
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "nnservice.cli", "worker", "--concurrency=1"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    app = make_celery(Settings(redis_url=broker))
    try:
        deadline = time.monotonic() + 120
        while not app.control.ping(timeout=0.5):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker never answered a ping"
        kernels = sorted(path.name for path in cache.rglob("*_sgd_epoch*.nbc"))
        assert len(kernels) >= len(WARM_UP_DEPTHS), kernels
    finally:
        app.close()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(60)
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
