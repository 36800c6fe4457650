"""Fixtures shared by every test directory: the real stack (`stack`, `stack_factory`).

`stack` is one session-wide stack (valkey-server, `nnservice worker`, `nnservice api`; see
tests/stack.py). Each test that asks for it gets it running: whatever an earlier fault test
stopped or killed is started again first.

Every process the tests start gets a temporary directory of the session's own (TMPDIR), and the
session fails if nnservice left anything in it (an API's metrics directory, by default there).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _load_module(name: str):
    """Import tests/<name>.py as `name` (tests are not a package; --import-mode=importlib)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


Stack = _load_module("stack").Stack
stores = _load_module("stores")
_load_module("backends")  # real PostgreSQL and S3 servers (tests/backends.py)
_load_module("netns")  # hosts as network namespaces (tests/netns.py)
_load_module("people_data")  # example people, and the real data set where found
_load_module("browser_pages")  # the dashboard browser tests' helpers (tests/browser_pages.py)


#: What nnservice keeps in the temporary directory while it runs (an API's metrics, by default).
NNSERVICE_TEMP_ENTRIES = ("nnservice-metrics",)


@pytest.fixture(scope="session", autouse=True)
def _nothing_left_in_the_temp_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point the temporary directory of every process the tests start at one of this session's;
    at the end (after every stack has stopped), fail if nnservice left anything there."""
    temp = tmp_path_factory.mktemp("tmpdir")
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(temp)
    yield
    if previous is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = previous
    left = [str(path) for name in NNSERVICE_TEMP_ENTRIES for path in temp.glob(f"{name}/**")]
    assert not left, f"the tests left these behind in the temporary directory: {left}"


@pytest.fixture(params=stores.BACKENDS)
def store_locations(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(database URL, object store) of an empty migrated store, on each backend in turn."""
    with stores.fresh_locations(request.param, tmp_path / "store") as locations:
        yield locations


@pytest.fixture(scope="session")
def stack_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Stack]]:
    """Start extra stacks with other settings: `stack_factory(NNSERVICE_MAX_ATTEMPTS="1")`.

    Each is started at once and closed at the end of the session (or earlier with `close()`).
    """
    started: list[Stack] = []

    def make(**env: str) -> Stack:
        new = Stack(tmp_path_factory.mktemp("stack"), env)
        started.append(new)
        new.start()
        return new

    yield make
    for each in started:
        each.close()


@pytest.fixture(scope="session")
def _session_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    started = Stack(tmp_path_factory.mktemp("stack"))
    try:
        started.start()
        yield started
    finally:
        started.close()


@pytest.fixture
def stack(_session_stack: Stack) -> Stack:
    """The session's stack, running: base_url, redis_url, store_path, store, HTTP helpers."""
    _session_stack.ensure_running()
    return _session_stack
