"""Each hyperparameter is defined once, and that one definition reaches every edge.

The test copies the `foundation` package, changes two definitions in the copy's source (epochs'
maximum, learning_rate's default) and nothing else, then starts an API server and runs the
command line in processes that import the copy. All four edges must show the change: the API's
validation, /openapi.json, `nnservice train --help` (and its own checks), and the dashboard's forms
(training, and the sweep form's base and search ranges) in a headless Chromium. A copy of either
fact anywhere else (a literal in the page or in its scripts, a help string, a hand-written schema)
would make it fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from stores import migrated

from foundation.hyperparameters import BY_NAME
from foundation.settings import Settings
from service import create_app

REPO = Path(__file__).resolve().parents[2]
#: The changed facts: epochs' maximum (still above its default) and learning_rate's default.
NEW_EPOCHS_MAXIMUM = 5000
NEW_LEARNING_RATE = 0.25
#: Epochs the unchanged definition accepts and the changed one refuses.
TOO_MANY_EPOCHS = NEW_EPOCHS_MAXIMUM + 1000

#: The API in a process of its own: a store in argv[1], no broker (validation needs none).
SERVE = """
import sys
from pathlib import Path
from werkzeug.serving import make_server
from foundation.settings import Settings
from model_store.schema import upgrade
from service import create_app

settings = Settings(redis_url="redis://127.0.0.1:9/0", store_path=Path(sys.argv[1]))
upgrade(settings.store_database_url)
server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""
CLI = "from nnservice.cli import main; main()"
ROWS = [
    {"weight": 133, "height": 65, "gender": "F"},
    {"weight": 160, "height": 72, "gender": "M"},
]


def change_definition(source: str, name: str, field: str, value: str) -> str:
    """`source` with `field=...` set to `value` in the definition of `name`, and only there."""
    block = re.compile(rf'(Hyperparameter\(\s*"{name}",.*?\n    \),)', re.S)
    (definition,) = block.findall(source)
    changed, count = re.subn(rf"\b{field}=[^,\n]+,", f"{field}={value},", definition)
    assert count == 1, f"{name} states {field} {count} times"
    return source.replace(definition, changed)


@pytest.fixture(scope="module")
def changed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding a copy of `foundation` with the two definitions changed."""
    assert BY_NAME["epochs"].maximum > TOO_MANY_EPOCHS > BY_NAME["epochs"].default
    assert BY_NAME["learning_rate"].default != NEW_LEARNING_RATE
    root = tmp_path_factory.mktemp("changed")
    copy = shutil.copytree(
        REPO / "foundation", root / "foundation", ignore=shutil.ignore_patterns("__pycache__")
    )
    path = copy / "hyperparameters.py"
    source = change_definition(path.read_text(), "epochs", "maximum", str(NEW_EPOCHS_MAXIMUM))
    source = change_definition(source, "learning_rate", "default", str(NEW_LEARNING_RATE))
    path.write_text(source)
    return root


def environment(root: Path) -> dict[str, str]:
    """This process's environment, with the changed `foundation` first on the path (and the
    command line pointed at a port where nothing listens: nothing may be sent)."""
    return {**os.environ, "PYTHONPATH": str(root), "NNSERVICE_URL": "http://127.0.0.1:9"}


@pytest.fixture(scope="module")
def changed_api(changed_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of an API server started with the changed definitions."""
    store = tmp_path_factory.mktemp("store")
    log = store / "server.log"
    with log.open("w") as errors:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(store)],
            cwd=changed_root,
            env=environment(changed_root),
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    try:
        port = server.stdout.readline().strip()
        assert port, f"the API server did not start: {log.read_text()}"
        yield f"http://127.0.0.1:{int(port)}"
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()


def cli_changed(root: Path, *args: str) -> subprocess.CompletedProcess:
    """`nnservice ARGS` in a process that imports the changed definitions."""
    command = [sys.executable, "-c", CLI, *args]
    return subprocess.run(
        command, cwd=root, env=environment(root), capture_output=True, text=True, timeout=60
    )


def words(text: str) -> str:
    """`text` with every run of white space made one space (help text wraps anywhere)."""
    return " ".join(text.split())


def test_the_api_validates_and_documents_the_changed_definition(
    changed_api: str, tmp_path: Path
) -> None:
    body = {"rows": ROWS, "hyperparameters": {"epochs": TOO_MANY_EPOCHS}}
    # The unchanged definition accepts the epochs (the request fails later: no broker).
    settings = Settings(redis_url="redis://127.0.0.1:9/0", store_path=tmp_path / "store")
    unchanged = create_app(migrated(settings)).test_client()
    assert unchanged.post("/train", json=body).status_code == 503
    refused = requests.post(f"{changed_api}/train", json=body, timeout=30)
    assert refused.status_code == 422
    assert list(refused.json()["errors"]["hyperparameters"]) == ["epochs"]

    schema = requests.get(f"{changed_api}/openapi.json", timeout=30).json()
    properties = schema["components"]["schemas"]["Hyperparameters"]["properties"]
    assert properties["epochs"]["maximum"] == NEW_EPOCHS_MAXIMUM
    assert f"1-{NEW_EPOCHS_MAXIMUM}" in properties["epochs"]["description"]
    assert properties["learning_rate"]["default"] == NEW_LEARNING_RATE
    assert properties["learning_rate"]["exclusiveMinimum"] is True


def test_the_command_line_shows_and_checks_the_changed_definition(
    changed_root: Path, tmp_path: Path
) -> None:
    from nnservice.cli import main

    before = words(CliRunner().invoke(main, ["train", "--help"]).output)
    assert f"1<=x<={BY_NAME['epochs'].maximum}" in before
    assert f"[server default: {BY_NAME['learning_rate'].default}]" in before

    after = cli_changed(changed_root, "train", "--help")
    assert after.returncode == 0, after.stderr
    assert f"1<=x<={NEW_EPOCHS_MAXIMUM}]" in words(after.stdout)
    assert f"SGD step size. [server default: {NEW_LEARNING_RATE}]" in words(after.stdout)

    data = tmp_path / "people.csv"
    data.write_text("weight,height,gender\n133,65,F\n160,72,M\n")
    refused = cli_changed(changed_root, "train", "--epochs", str(TOO_MANY_EPOCHS), str(data))
    assert refused.returncode == 2
    assert f"1<=x<={NEW_EPOCHS_MAXIMUM}" in refused.stderr


def test_the_dashboard_form_takes_the_changed_definition(changed_api: str, browser) -> None:
    wait = WebDriverWait(
        browser, 30, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    )
    browser.get(changed_api + "/")
    epochs = wait.until(lambda d: d.find_element(By.ID, "train-epochs"))
    wait.until(lambda d: epochs.get_attribute("max"))
    assert epochs.get_attribute("max") == str(NEW_EPOCHS_MAXIMUM)
    assert epochs.get_attribute("value") == str(BY_NAME["epochs"].default)
    rate = browser.find_element(By.ID, "train-learning-rate")
    assert float(rate.get_attribute("value")) == NEW_LEARNING_RATE
    assert float(rate.get_attribute("min")) == BY_NAME["learning_rate"].minimum
    # The sweep form: its base fields, and the bounds of a search's range, alike.
    epochs = wait.until(lambda d: d.find_element(By.ID, "sweep-epochs"))
    wait.until(lambda d: epochs.get_attribute("max"))
    assert epochs.get_attribute("max") == str(NEW_EPOCHS_MAXIMUM)
    rate = browser.find_element(By.ID, "sweep-learning-rate")
    assert float(rate.get_attribute("value")) == NEW_LEARNING_RATE
    bounds = '#sweep-space-table tr[data-name="epochs"] input.bound'
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, bounds))
    highs = [each.get_attribute("max") for each in browser.find_elements(By.CSS_SELECTOR, bounds)]
    assert highs == [str(NEW_EPOCHS_MAXIMUM)] * 2
