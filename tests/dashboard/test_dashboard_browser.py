"""The dashboard in a real headless Chromium against the real stack: upload a CSV, train and
watch the loss curve grow from live progress events, promote the model, predict, screenshot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

EPOCHS = 60_000
#: People in the upload: with EPOCHS, a job of a few seconds, so the browser follows it while it
#: runs (40 people made it well under a second once the compiled kernel got faster: a race).
PEOPLE = 1_000


def write_people_csv(path: Path, n: int = 40, seed: int = 7) -> Path:
    """`n` plausible people, half F and half M, as a CSV upload (lb, in)."""
    rng = np.random.default_rng(seed)
    lines = ["weight,height,gender"]
    for i in range(n):
        female = i % 2 == 0
        weight = rng.normal(135 if female else 185, 15)
        height = rng.normal(64 if female else 70, 2.5)
        lines.append(f"{weight:.1f},{height:.1f},{'F' if female else 'M'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def fill(driver, element_id: str, value: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def points(driver, chart_id: str) -> int:
    return int(driver.find_element(By.ID, chart_id).get_attribute("data-points") or 0)


#: The followed job as the page shows it, read in one go (the page cannot change in between).
JOB_AS_SHOWN = """
const row = document.querySelector(`#jobs-table tr[data-job-id="${arguments[0]}"]`);
return row && {
  row_state: row.dataset.state,
  row_epoch: row.cells[2].textContent,
  card_state: document.getElementById("job-state").dataset.state,
  card_epoch: document.getElementById("job-epoch").textContent,
  status: document.getElementById("train-status").textContent,
};
"""


def job_as_shown(driver, job_id: str) -> dict | None:
    """The job's list row, card and the training form's status; None while it is not listed."""
    return driver.execute_script(JOB_AS_SHOWN, job_id)


def save_full_page_screenshot(driver, path: Path, width: int = 1400) -> None:
    """Screenshot of the whole page: the viewport is made as tall as the content first."""
    height = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]["height"]
    metrics = {"width": width, "height": int(height), "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.execute_script("window.scrollTo(0, 0)")
    assert driver.save_screenshot(str(path))


def test_upload_train_watch_promote_predict_in_a_browser(
    stack, browser, tmp_path: Path, artifacts: Path
) -> None:
    previous = stack.get("/models/latest")
    previous_latest = previous.json()["id"] if previous.status_code == 200 else None
    wait = WebDriverWait(
        browser, 60, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    )
    browser.get(stack.base_url + "/")
    wait.until(lambda d: d.find_element(By.ID, "models-table").text != "")

    # Upload and train, without promoting: the Promote button does that below.
    csv = write_people_csv(tmp_path / "people.csv", n=PEOPLE)
    browser.find_element(By.ID, "train-file").send_keys(str(csv))
    fill(browser, "train-name", "browser test people")
    fill(browser, "train-epochs", str(EPOCHS))
    fill(browser, "train-validation", "0.25")
    fill(browser, "train-seed", "11")
    browser.find_element(By.ID, "train-promote").click()
    browser.find_element(By.ID, "train-submit").click()

    # The curve grows while the job runs (live progress events), then the job succeeds.
    wait.until(
        lambda d: (
            d.find_element(By.ID, "job-state").get_attribute("data-state") == "running"
            and points(d, "job-chart") >= 2
        )
    )
    live_points = points(browser, "job-chart")
    assert browser.find_elements(By.CSS_SELECTOR, "#job-chart canvas")
    # The jobs list follows the same events as the card: its row says what the card says.
    job_id = browser.find_element(By.ID, "job-title").text
    shown = wait.until(lambda d: job_as_shown(d, job_id))
    assert (shown["row_state"], shown["row_epoch"]) == (shown["card_state"], shown["card_epoch"])
    if shown["card_state"] == "running":  # (it may have ended already on a fast machine)
        assert shown["status"] == f"Job {job_id} running."
    wait.until(
        lambda d: d.find_element(By.ID, "job-state").get_attribute("data-state") == "succeeded"
    )
    done = job_as_shown(browser, job_id)
    assert done["row_state"] == "succeeded" and done["row_epoch"] == f"{EPOCHS} / {EPOCHS}"
    assert done["status"] == "", "the form still speaks of the job after it ended"
    model_id = wait.until(lambda d: d.find_element(By.ID, "job-model-id").text)
    assert points(browser, "job-chart") >= live_points
    assert browser.find_element(By.ID, "job-epoch").text == f"{EPOCHS} / {EPOCHS}"
    assert browser.find_element(By.ID, "job-validation-loss").text != "–"
    job = stack.get("/jobs?limit=5").json()[0]
    assert job["model_id"] == model_id and job["state"] == "succeeded"

    # The uploaded dataset is listed; the new model is shown with its curve and record.
    datasets = browser.find_element(By.ID, "datasets-table").text
    assert "browser test people" in datasets and job["dataset_id"] in datasets
    wait.until(lambda d: d.find_element(By.ID, "model-title").text == model_id)
    wait.until(lambda d: points(d, "model-chart") == EPOCHS)
    detail = browser.find_element(By.ID, "model-detail").text
    assert job["dataset_id"] in detail and "Train accuracy" in detail

    # Promote it.
    row = f'#models-table tr[data-model-id="{model_id}"]'
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, row).get_attribute("data-latest"))
    assert browser.find_element(By.CSS_SELECTOR, row).get_attribute("data-latest") == "false"
    try:
        browser.find_element(By.CSS_SELECTOR, f"{row} button.promote").click()
        wait.until(
            lambda d: d.find_element(By.CSS_SELECTOR, row).get_attribute("data-latest") == "true"
        )
        assert stack.get("/models/latest").json()["id"] == model_id
        notice = browser.find_element(By.ID, "notice")
        assert notice.text == f"{model_id} is now the latest model."

        # Predict Emily (128 lb, 63 in) with the latest model, now this one.
        Select(browser.find_element(By.ID, "predict-model")).select_by_value("")
        fill(browser, "predict-weight", "128")
        fill(browser, "predict-height", "63")
        browser.find_element(By.ID, "predict-submit").click()
        wait.until(lambda d: d.find_elements(By.ID, "predict-gender"))
        assert browser.find_element(By.ID, "predict-model-id").text == model_id
        assert browser.find_element(By.ID, "predict-gender").text == "Female"
        assert "probability female" in browser.find_element(By.ID, "predict-probability").text

        # Emily is marked on this model's picture (test_dashboard_picture.py draws more).
        canvas = browser.find_element(By.ID, "picture-canvas")
        wait.until(lambda d: canvas.get_attribute("data-marked") == "1")
        save_full_page_screenshot(browser, artifacts / "dashboard.png")
        assert "notice-error" not in notice.get_attribute("class")
    finally:
        if previous_latest is not None:
            stack.post(f"/models/{previous_latest}/promote")
