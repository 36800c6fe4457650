"""The dashboard in headless Chromium against an API with keys and private reads: it asks for a
key, keeps it for the tab and sends it as a bearer token; data shows as text, never as HTML.

No broker is needed (nothing here trains), so the app runs in process behind werkzeug's server
on a free port; the store is filled directly, as a worker would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from foundation.settings import Settings
from model_store import ModelStore

KEY = "dashboard-test-key"
HOSTILE_NAME = '<img src=x onerror="document.title=1">people'
SNAPSHOT = {
    "layer_sizes": [2, 2, 1],
    "loss": "mse",
    "biases": [[0.0, 0.0], [0.0]],
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
}


@pytest.fixture
def keyed_api(tmp_path: Path, serve_app) -> tuple[str, ModelStore]:
    """(base URL, store) of the API with one key and private reads, on 127.0.0.1."""
    settings = Settings(
        redis_url="redis://127.0.0.1:9/0",
        store_path=tmp_path / "store",
        api_keys=(KEY,),
        public_reads=False,
    )
    return serve_app(settings)


def save_model(store: ModelStore, output: list[float]) -> str:
    weights = [[[-1.0, -1.0], [1.0, 1.0]], [output]]
    return store.models.save({**SNAPSHOT, "weights": weights, "training": {}})["id"]


def test_the_pasted_key_reads_and_promotes_and_names_stay_text(keyed_api, browser) -> None:
    base_url, store = keyed_api
    store.datasets.save(HOSTILE_NAME, [133.0, 160.0], [65.0, 72.0], [1.0, 0.0])
    first, second = save_model(store, [3.0, -3.0]), save_model(store, [-3.0, 3.0])
    store.models.promote(first)
    wait = WebDriverWait(
        browser, 30, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    )

    browser.get(base_url + "/")
    notice = wait.until(lambda d: d.find_element(By.ID, "notice").text)
    assert "a valid API key is required" in notice
    assert browser.find_element(By.ID, "key-status").text == "no key: reads only"

    browser.find_element(By.ID, "api-key").send_keys(KEY)
    browser.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    row = f'#models-table tr[data-model-id="{second}"]'
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row))
    assert browser.execute_script("return sessionStorage.getItem('nnservice.apiKey')") == KEY
    assert browser.find_element(By.ID, "api-key").get_attribute("value") == ""
    wait.until(lambda d: not d.find_element(By.ID, "notice").is_displayed())

    datasets = browser.find_element(By.ID, "datasets-table")
    assert HOSTILE_NAME in datasets.text
    assert not datasets.find_elements(By.TAG_NAME, "img")
    assert browser.title == "nnservice dashboard"

    browser.find_element(By.CSS_SELECTOR, f"{row} button.promote").click()
    wait.until(
        lambda d: d.find_element(By.CSS_SELECTOR, row).get_attribute("data-latest") == "true"
    )
    assert store.models.latest_id() == second

    browser.find_element(By.ID, "key-forget").click()
    assert browser.execute_script("return sessionStorage.getItem('nnservice.apiKey')") is None
    wait.until(lambda d: "a valid API key is required" in d.find_element(By.ID, "notice").text)
