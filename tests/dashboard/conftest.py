"""Helpers for the dashboard tests: reading Server-Sent Events, a headless Chromium, the API
in process."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from stores import migrated
from werkzeug.serving import make_server

from foundation.settings import Settings
from model_store import ModelStore
from service import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
#: Screenshots and other files a run leaves for people to look at (git-ignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def sse_messages(lines: Iterable[str]) -> Iterator[tuple[str, dict]]:
    """(event, data as JSON) of each message in the lines of an event stream, as they come;
    comments (heartbeats) and the retry field are skipped."""
    event, data = "message", None
    for line in lines:
        if line == "":
            if data is not None:
                yield event, json.loads(data)
            event, data = "message", None
        elif line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")


@pytest.fixture
def read_sse() -> Callable[[Iterable[str]], Iterator[tuple[str, dict]]]:
    """`read_sse(lines)`: the messages of an event stream given line by line."""
    return sse_messages


@pytest.fixture
def browser(tmp_path: Path):
    """Debian's headless Chromium through chromedriver (selenium), with a fresh profile.

    Fails (never skips) when Chromium is missing: scripts/test.sh installs it when run as root.
    """
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"the dashboard browser test needs Debian's chromium and chromium-driver; missing "
            f"{', '.join(missing)}. Install them with `apt-get install -y chromium "
            "chromium-driver` (scripts/test.sh does so when run as root)."
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def artifacts() -> Path:
    """The directory for test artifacts (created)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def serve_app() -> Iterator[Callable[[Settings], tuple[str, ModelStore]]]:
    """`serve_app(settings)`: the API of a migrated store in process, behind werkzeug's server on
    127.0.0.1 and a free port; (base URL, a store handle to fill it as a worker would).

    No broker is needed for what the dashboard reads, so tests that train nothing use this.
    """
    started: list[tuple[object, threading.Thread, ModelStore]] = []

    def serve(settings: Settings) -> tuple[str, ModelStore]:
        server = make_server("127.0.0.1", 0, create_app(migrated(settings)), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        store = ModelStore.from_settings(settings)
        started.append((server, thread, store))
        return f"http://127.0.0.1:{server.server_port}", store

    yield serve
    for server, thread, store in started:
        server.shutdown()
        thread.join(10)
        server.server_close()
        store.close()
