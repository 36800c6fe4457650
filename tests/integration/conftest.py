"""The integration tests: the seed's people (docs/seed_walkthrough.json), and the stack on each
store backend (SQLite + a directory; PostgreSQL + S3 where `./scripts/test.sh --with-backends`
starts them)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
Stack = sys.modules["stack"].Stack
stores = sys.modules["stores"]
WALKTHROUGH = json.loads((REPO_ROOT / "docs/seed_walkthrough.json").read_text())
#: Alice, Bob, Charlie and Diana.
SEED_ROWS: list[dict] = WALKTHROUGH["upload"]["rows"]
EMILY, FRANK = WALKTHROUGH["predict"]["instances"]


@pytest.fixture(scope="session")
def _server_backend_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A second session stack whose store is PostgreSQL + S3 (skipped, saying why, without)."""
    root = tmp_path_factory.mktemp("stack-postgresql-s3")
    with stores.fresh_locations("postgresql-s3", root / "store") as (database_url, objects):
        started = Stack(
            root, {"NNSERVICE_DATABASE_URL": database_url, "NNSERVICE_OBJECT_STORE": objects}
        )
        try:
            started.start()
            yield started
        finally:
            started.close()


@pytest.fixture(params=stores.BACKENDS)
def stack(request: pytest.FixtureRequest) -> Stack:
    """The integration tests run on each store backend: SQLite + a directory, and PostgreSQL +
    S3 (where `./scripts/test.sh --with-backends` starts both servers, as in CI)."""
    if request.param == "sqlite-local":
        running = request.getfixturevalue("_session_stack")
    else:
        running = request.getfixturevalue("_server_backend_stack")
    running.ensure_running()
    return running
