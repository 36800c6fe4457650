"""The dashboard's registry views in headless Chromium against a real stack with named keys:
aliases beside models with their split, an alias's history with the key names, the promotion
gate's decision on a real degenerate job, deletes refused with the API's reason and then done,
and lists that follow GET /events: a change made through the API shows without a reload and
without any list being fetched on a timer (counted in the API's access log).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

#: Two named keys: the page uses `ops`, the test's own API calls `deployer`.
KEYS = "ops:ops-secret,deployer:deployer-secret"
DEPLOYER = {"Authorization": "Bearer deployer-secret"}
#: How long the API keeps one /events stream open.
STREAM_SECONDS = 3
#: The listings the dashboard shows (their GETs are what polling would repeat).
LISTS = ("/models", "/aliases", "/datasets", "/jobs")
SNAPSHOT = {
    "layer_sizes": [2, 2, 1],
    "loss": "mse",
    "biases": [[0.0, 0.0], [0.0]],
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
    "training": {},
}
PEOPLE = [
    {"weight": 120 + 3 * i, "height": 60 + i % 7, "gender": "F" if i % 2 else "M"}
    for i in range(40)
]


#: The API's request counter, by URL rule, in GET /metrics.
REQUESTS = re.compile(
    r'^nnservice_http_request_duration_seconds_count\{endpoint="([^"]*)",method="GET",'
    r'status="\d+"\} ([0-9.e+]+)$',
    re.M,
)


def gets(stack, endpoints: tuple[str, ...] = LISTS) -> Counter:
    """GET requests to each of `endpoints` so far, as the API counts them (when it starts
    answering, so a request the page has its answer to is counted)."""
    counts: Counter = Counter()
    for endpoint, count in REQUESTS.findall(stack.get("/metrics").text):
        if endpoint in endpoints:
            counts[endpoint] += int(float(count))
    return counts


def caught_up(driver, stack, opened: int) -> bool:
    """Whether the page's lists reflect every registry event so far (`opened`: the newest
    event when its stream opened, which it reflects by having loaded the lists then)."""
    newest = stack.store.events.newest_id()
    applied = driver.execute_script("return document.body.dataset.eventsApplied")
    return newest <= opened or int(applied or 0) >= newest


def confirm_click(wait: WebDriverWait, css: str) -> None:
    """Click a two-step (delete) button until its second click, "Sure?", went through."""

    def step(driver) -> bool:
        button = driver.find_element(By.CSS_SELECTOR, css)
        sure = button.text == "Sure?"
        button.click()
        return sure

    wait.until(step)


def click(wait: WebDriverWait, css: str) -> None:
    """Click the element, found again if a list was redrawn under the click."""
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)


def screenshot(driver, path: Path) -> None:
    """The whole page (the viewport made as tall as the content first)."""
    height = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]["height"]
    metrics = {"width": 1400, "height": int(height), "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    assert driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def texts(driver, css: str) -> list[str]:
    """The shown text of each element matching `css`, read in one go (a list redrawn meanwhile
    cannot leave a stale element behind)."""
    script = "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText)"
    return driver.execute_script(script, css)


def notice(driver) -> str:
    box = driver.find_element(By.ID, "notice")
    return box.text if box.is_displayed() else ""


def test_aliases_history_gate_deletes_and_live_refresh(
    stack_factory, browser, tmp_path: Path
) -> None:
    stack = stack_factory(
        NNSERVICE_API_KEYS=KEYS,
        NNSERVICE_API_WORKERS="1",
        NNSERVICE_WORKER_CONCURRENCY="1",
        # Streams end (`reconnect`) every few seconds: the page resumes them by Last-Event-ID
        # during the test, and the API's graceful stop waits no longer than that for one.
        NNSERVICE_EVENTS_MAX_SECONDS=str(STREAM_SECONDS),
    )
    put = lambda path, body: stack.request("PUT", path, json=body, headers=DEPLOYER)  # noqa: E731

    # A degenerate job, trained for real: it succeeds and the gate keeps its model out.
    dataset = stack.post("/datasets", json={"name": "registry", "rows": PEOPLE}, headers=DEPLOYER)
    assert dataset.status_code == 201, dataset.text
    body = {
        "dataset_id": dataset.json()["id"],
        "hyperparameters": {"epochs": 1, "learning_rate": 1e-300, "seed": 1},
    }
    degenerate = stack.post("/train", json=body, headers=DEPLOYER).json()["job_id"]
    gated = stack.wait_for_job(degenerate)
    assert gated["state"] == "succeeded" and gated["promotion"]["promoted"] is False, gated
    # Two models: `a` is latest and takes 90 % of `champion`, `b` the other 10 %.
    a, b = (
        stack.store.models.save({**SNAPSHOT, "weights": [[[-1.0, -1.0], [1.0, 1.0]], [out]]})["id"]
        for out in ([3.0, -3.0], [-3.0, 3.0])
    )
    assert stack.post(f"/models/{a}/promote", headers=DEPLOYER).status_code == 200
    split = [{"model_id": a, "weight": 90}, {"model_id": b, "weight": 10}]
    assert put("/aliases/champion", {"split": split}).status_code == 200
    # A job that stays queued (no worker) and so active for the whole session: a page that
    # polled would fetch the jobs list again and again while it is shown.
    stack.kill_worker()
    queued = stack.post("/train", json=body, headers=DEPLOYER).json()["job_id"]

    wait = WebDriverWait(
        browser, 30, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    )
    browser.get(stack.base_url + "/")
    browser.find_element(By.ID, "api-key").send_keys("ops-secret")
    browser.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    wait.until(lambda d: d.execute_script("return document.body.dataset.registryEvents") == "live")
    row_a, row_b = (f'#models-table tr[data-model-id="{m}"]' for m in (a, b))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"{row_a} .badge-alias"))
    opened = stack.store.events.newest_id()  # nothing changes the registry meanwhile

    # The gate's decision: in the jobs list, and in words on the job's card.
    job_row = f'#jobs-table tr[data-job-id="{degenerate}"]'
    wait.until(lambda d: "not promoted" in texts(d, job_row)[0])
    click(wait, job_row)
    shown = wait.until(lambda d: d.find_element(By.ID, "job-promotion").text)
    assert shown == f"Not promoted: {gated['promotion']['reason']}"
    assert "majority class" in shown
    screenshot(browser, tmp_path / "dashboard-gate-and-split.png")
    # Its record can go once it has ended (its model stays).
    confirm_click(wait, "#job-purge")
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, job_row))
    assert stack.get(f"/jobs/{degenerate}").status_code == 404
    assert stack.get(f"/models/{gated['model_id']}").status_code == 200

    wait.until(lambda d: caught_up(d, stack, opened))
    started, since = time.monotonic(), gets(stack)

    # Aliases beside models, with their share of the split; the alias list shows the split.
    assert texts(browser, f"{row_a} .badge-alias") == ["champion 90 %", "latest"]
    assert texts(browser, f"{row_b} .badge-alias") == ["champion 10 %"]
    champion = '#aliases-table tr[data-alias="champion"]'
    assert texts(browser, f"{champion} .member") == [f"{a[:12]}… 90 %", f"{b[:12]}… 10 %"]

    # Its history, newest first, with the names of the keys; the page moves it with its key.
    click(wait, f"{champion} td")
    wait.until(lambda d: d.find_element(By.ID, "alias-title").text == "champion")
    assert texts(browser, "#alias-history .changed-by") == ["deployer"]
    browser.find_element(By.ID, "alias-name").send_keys("champion")
    Select(browser.find_element(By.ID, "alias-model")).select_by_value(b)
    browser.find_element(By.ID, "alias-submit").click()
    wait.until(lambda d: texts(d, "#alias-history .changed-by") == ["ops", "deployer"])
    assert stack.get("/aliases/champion").json()["model_id"] == b
    wait.until(lambda d: texts(d, f"{row_b} .badge-alias") == ["champion"])

    # Deleting `b` while `champion` names it: refused, with the API's reason on the page.
    wait.until(lambda d: caught_up(d, stack, opened))
    confirm_click(wait, f"{row_b} button.delete")
    refused = wait.until(lambda d: "in use" in notice(d) and notice(d))
    reason = stack.delete(f"/models/{b}", headers=DEPLOYER)  # refused: changes nothing
    assert reason.status_code == 409 and refused == reason.json()["message"]
    assert "champion" in refused and b in refused
    assert texts(browser, row_b)
    # Remove the alias on the page; then the delete goes through and the list updates.
    confirm_click(wait, f"{champion} button.remove-alias")
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, champion))
    wait.until(lambda d: texts(d, "#alias-history .changed-by") == ["ops", "ops", "deployer"])
    assert "removed" in texts(browser, "#alias-history tbody tr")[0]
    confirm_click(wait, f"{row_b} button.delete")
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, row_b))
    assert notice(browser) == f"{b} deleted."
    assert stack.get(f"/models/{b}").status_code == 404

    # Live: an alias moved through the API (not the page) appears without a reload, fetching
    # only the lists its event changes.
    wait.until(lambda d: caught_up(d, stack, opened))
    before = gets(stack)
    assert put("/aliases/canary", {"model_id": a}).status_code == 200
    canary = '#aliases-table tr[data-alias="canary"]'
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, canary))
    wait.until(lambda d: "canary" in texts(d, f"{row_a} .badge-alias"))
    wait.until(lambda d: caught_up(d, stack, opened))
    after = gets(stack)
    assert (after - before) == Counter({"/aliases": 1, "/models": 1}), after - before
    # A stream ends every STREAM_SECONDS: the page resumes with Last-Event-ID, reloading nothing.
    opened_streams = "return Number(document.body.dataset.registryStreams)"
    streams = browser.execute_script(opened_streams)
    wait.until(lambda d: d.execute_script(opened_streams) > streams)
    # And over the whole session, with a queued job listed all along, nothing was fetched on a
    # timer: the jobs and the datasets lists were never fetched again.
    after = gets(stack)
    seconds = time.monotonic() - started
    assert after["/jobs"] == since["/jobs"], f"the jobs list was fetched in {seconds:.1f} s"
    assert after["/datasets"] == since["/datasets"]
    assert after["/aliases"] == before["/aliases"] + 1

    # Predict through the alias: its model answers, and the page names both.
    Select(browser.find_element(By.ID, "predict-model")).select_by_value("alias:canary")
    browser.find_element(By.ID, "predict-submit").click()
    wait.until(lambda d: texts(d, "#predict-alias") == ["canary"])
    assert texts(browser, "#predict-model-id") == [a]

    # The queued job can be cancelled from its card.
    click(wait, f'#jobs-table tr[data-job-id="{queued}"]')
    wait.until(lambda d: d.find_element(By.ID, "job-title").text == queued)
    browser.find_element(By.ID, "job-cancel").click()
    wait.until(
        lambda d: d.find_element(By.ID, "job-state").get_attribute("data-state") == "cancelled"
    )
    assert stack.get(f"/jobs/{queued}").json()["state"] == "cancelled"
    screenshot(browser, tmp_path / "dashboard-registry.png")
    assert "notice-error" not in browser.find_element(By.ID, "notice").get_attribute("class")
