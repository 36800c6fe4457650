"""The dashboard's jobs, models and datasets lists in headless Chromium, a page at a time: the
newest page, then "Show more" while the API has a next page, which appends it, until the end.

The API runs in process on a fresh store filled directly, so the counts are known: a little
more than two pages of each list (the pages are the dashboard's own sizes: whatever it shows
first is one page).
"""

from __future__ import annotations

from pathlib import Path

import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from foundation.settings import Settings

#: Items of each list; the dashboard's pages are 20 jobs, 100 models, 100 datasets.
JOBS, MODELS, DATASETS = 45, 205, 205
SNAPSHOT = {
    "layer_sizes": [2, 2, 1],
    "loss": "mse",
    "weights": [[[-1.0, -1.0], [1.0, 1.0]], [[3.0, -3.0]]],
    "biases": [[0.0, 0.0], [0.0]],
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
}
LISTS = (  # (path, table, row attribute, button)
    ("/jobs", "jobs-table", "data-job-id", "jobs-more"),
    ("/models", "models-table", "data-model-id", "models-more"),
    ("/datasets", "datasets-table", "data-dataset-id", "datasets-more"),
)


def shown(driver, table: str, attribute: str) -> list[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")
    return [row.get_attribute(attribute) for row in rows]


def buttons(driver, button: str) -> list:
    return driver.find_elements(By.ID, button)


def test_show_more_appends_the_next_pages_until_the_last(
    serve_app, browser, tmp_path: Path
) -> None:
    settings = Settings(redis_url="redis://127.0.0.1:9/0", store_path=tmp_path / "store")
    base_url, store = serve_app(settings)
    for index in range(DATASETS):
        store.datasets.save(f"people {index}", [100.0 + index, 180.0], [63.0, 70.0], [1.0, 0.0])
    for index in range(MODELS):
        store.models.save({**SNAPSHOT, "training": {"seed": index}})
    for index in range(JOBS):
        store.jobs.create({"id": f"job-{index:03}", "dataset_id": "ds-paging"})
    newest_first = {
        path: [item["id"] for item in requests.get(base_url + path, params={"limit": 1000}).json()]
        for path, *_ in LISTS
    }
    wait = WebDriverWait(
        browser, 30, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    )
    browser.get(base_url + "/")

    for path, table, attribute, button in LISTS:
        expected = newest_first[path]
        first = wait.until(lambda d, t=table, a=attribute: shown(d, t, a))
        assert first == expected[: len(first)] and len(first) < len(expected) / 2
        while buttons(browser, button):
            before = len(shown(browser, table, attribute))
            buttons(browser, button)[0].click()
            wait.until(lambda d, t=table, a=attribute, n=before: len(shown(d, t, a)) > n)
        assert shown(browser, table, attribute) == expected, path  # no gap, no repeat, in order
        assert "notice-error" not in browser.find_element(By.ID, "notice").get_attribute("class")

    # The jobs are queued (active), so the list is fetched again every few seconds: all that is
    # shown, not just the first page. A job only the last page showed ends, and the list says so.
    oldest = newest_first["/jobs"][-1]
    store.jobs.transition(oldest, ["queued"], state="failed", error="paging test")
    row = f'#jobs-table tr[data-job-id="{oldest}"]'
    wait.until(lambda d: "failed" in d.find_element(By.CSS_SELECTOR, row).text)
    assert shown(browser, "jobs-table", "data-job-id") == newest_first["/jobs"]
    assert not buttons(browser, "jobs-more")

    # Models shown after "Show more" can be chosen for a prediction too.
    options = browser.find_elements(By.CSS_SELECTOR, "#predict-model option")
    assert len(options) == 1 + MODELS
