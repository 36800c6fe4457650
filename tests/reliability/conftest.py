"""Shared by the reliability tests: the seed's people, a small snapshot, and a private API process.

`ApiProcess` runs one more `nnservice api` (gunicorn) next to a stack, with its own environment
(keys, store, log level), for tests that must signal or reconfigure the API without touching the
session stack's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
import requests

from foundation.settings import Settings
from model_store.schema import upgrade
from nnservice.embedded_redis import free_port
from nnservice.supervisor import stop_process

REPO_ROOT = Path(__file__).resolve().parents[2]
WALKTHROUGH = json.loads((REPO_ROOT / "docs/seed_walkthrough.json").read_text())
#: Alice, Bob, Charlie and Diana.
SEED_ROWS: list[dict] = WALKTHROUGH["upload"]["rows"]
EMILY, FRANK = WALKTHROUGH["predict"]["instances"]

#: A valid 2-2-1 snapshot body for POST /models (Emily F, Frank M).
SNAPSHOT: dict = {
    "layer_sizes": [2, 2, 1],
    "activation": "sigmoid",
    "loss": "mse",
    "weights": [[[-1.0, -1.0], [1.0, 1.0]], [[3.0, -3.0]]],
    "biases": [[0.0, 0.0], [0.0]],
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
    "training": {},
}


class ApiProcess:
    """`nnservice api` on 127.0.0.1 and a free port; output in `log`. `wrapper` runs it through
    another command (`setpriv ...`); `migrate=False` starts it without migrating the database
    first."""

    def __init__(
        self,
        env: Mapping[str, str],
        log: Path,
        wrapper: Sequence[str] = (),
        migrate: bool = True,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        if migrate:  # as `nnservice db upgrade` would (not when the database is down on purpose)
            upgrade(Settings.from_env(env).store_database_url)
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [*wrapper, sys.executable, "-m", "nnservice.cli", "api"]
                + ["--host", "127.0.0.1", "--port", str(self.port)],
                env=dict(env),
                cwd=log.parent,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()  # never leave a server behind that no fixture knows about
            raise

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Poll GET /healthz until it answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API exited with {self.process.returncode}; see {self.log}")
            try:
                if requests.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or no worker process has started
            time.sleep(0.1)
        raise TimeoutError(f"the API did not answer within {timeout} s; see {self.log}")

    def url(self, path: str) -> str:
        return self.base_url + path

    def worker_pids(self) -> list[int]:
        """Pids of the gunicorn workers (children of the master)."""
        from stack import child_pids

        return child_pids(self.process.pid)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process, 30.0)


@pytest.fixture
def api_process(stack) -> Iterator:
    """Start private APIs with `api_process(log_name, **env)`: the stack's environment (its Redis
    and store) plus `env`; each is stopped at the end of the test."""
    started: list[ApiProcess] = []

    def start(log_name: str, **env: str) -> ApiProcess:
        api = ApiProcess({**stack.env(), **env}, stack.root / log_name)
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()
