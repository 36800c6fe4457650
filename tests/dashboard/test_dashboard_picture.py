"""The dashboard's Picture in a real headless Chromium against the real stack: a model trained on
10,000 people (`nnservice example-data`'s, and the real file where it is found) drawn over its
probability field with its decision boundary between the two clouds of people, then a
prediction marked on it. Screenshots go to NNSERVICE_SCREENSHOTS_DIR, else a temporary directory
(printed either way)."""

from __future__ import annotations

import os
from pathlib import Path

from people_data import example_people_tsv, real_data_path, real_data_tsv  # tests/people_data.py
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from .test_dashboard_browser import fill

#: A short training: 5 epochs of per-sample SGD on 10,000 people already draw a clear boundary.
HYPERPARAMETERS = {"epochs": 5, "validation_fraction": 0.2, "seed": 3}
#: Pixels of the boundary's colour (#111827; nothing else drawn is as dark) on the canvas.
DARK_PIXELS = """
const canvas = document.getElementById("picture-canvas");
const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
let dark = 0;
for (let k = 0; k < data.length; k += 4) {
  if (data[k] < 60 && data[k + 1] < 60 && data[k + 2] < 70) dark += 1;
}
return dark;
"""


#: Choose `value` in the <select> `id` if it offers it (in one go: the page may refill the
#: options meanwhile, leaving Selenium's option elements stale); whether it did.
CHOOSE = """
const select = document.getElementById(arguments[0]);
if (![...select.options].some((option) => option.value === arguments[1])) return false;
select.value = arguments[1];
return true;
"""


def choose(browser, wait, select_id: str, value: str) -> None:
    wait.until(lambda d: d.execute_script(CHOOSE, select_id, value))


def screenshots_dir(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("NNSERVICE_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    print(f"screenshots of the picture: {directory}")
    return directory


def trained_on(stack, name: str, tsv: bytes) -> dict:
    """Upload `tsv` as a dataset and train a model on it (not promoted); the job."""
    response = stack.post(
        f"/datasets?name={name}", data=tsv, headers={"Content-Type": "text/tab-separated-values"}
    )
    assert response.status_code in (200, 201), response.text
    body = {"dataset_id": response.json()["id"], "hyperparameters": HYPERPARAMETERS}
    response = stack.post("/train", json={**body, "promote": False})
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def drawn(browser, wait, model_id: str, marked: str = "0") -> dict:
    """Wait until the picture of `model_id` is drawn; what its canvas says it drew."""
    canvas = browser.find_element(By.ID, "picture-canvas")
    wait.until(
        lambda d: (
            canvas.get_attribute("data-state") == "drawn"
            and canvas.get_attribute("data-model-id") == model_id
            and canvas.get_attribute("data-marked") == marked
        )
    )
    data = browser.execute_script("return {...arguments[0].dataset}", canvas)
    data["dark_pixels"] = browser.execute_script(DARK_PIXELS)
    return data


def draw(browser, wait, model_id: str, marked: str = "0") -> dict:
    """Draw `model_id` over its training data from the picture's form (`marked`: whether a
    predicted person is shown too)."""
    choose(browser, wait, "picture-model", model_id)
    choose(browser, wait, "picture-dataset", "")
    browser.find_element(By.ID, "picture-submit").click()
    return drawn(browser, wait, model_id, marked)


def assert_boundary_between_the_clouds(picture: dict, dataset_rows: int) -> None:
    """The boundary is drawn, the people are drawn, and most of each gender lies on its side."""
    assert int(picture["segments"]) >= 20, picture
    assert picture["dark_pixels"] >= 100, picture
    assert int(picture["points"]) == min(dataset_rows, 2000), picture
    assert float(picture["femaleSide"]) >= 0.75 and float(picture["maleSide"]) >= 0.75, picture


def test_the_picture_of_a_model_and_of_a_prediction(stack, browser, tmp_path: Path) -> None:
    directory = screenshots_dir(tmp_path)
    real = real_data_path().is_file()
    jobs = {"example": trained_on(stack, "people-10k picture", example_people_tsv())}
    if real:
        jobs["real"] = trained_on(stack, "weight-height picture", real_data_tsv())
    models = {}
    for name, job_id in jobs.items():
        job = stack.wait_for_job(job_id, timeout=180)
        assert job["state"] == "succeeded", job
        models[name] = job["model_id"]
    # The snapshot records the range of its training data: the grid's default axes.
    snapshot = stack.get(f"/models/{models['example']}").json()
    grid = stack.get(f"/models/{models['example']}/decision-grid?steps=2").json()
    recorded = snapshot["training"]["input_range"]
    dataset = stack.get(f"/datasets/{snapshot['training']['dataset_id']}/rows?limit=10000").json()
    assert dataset["returned"] == 10_000
    assert recorded == {name: [min(dataset[name]), max(dataset[name])] for name in recorded}
    assert [grid["weights"], grid["heights"]] == [recorded["weight"], recorded["height"]]

    wait = WebDriverWait(
        browser, 60, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    )
    # A viewport as tall as the page, so that the card's screenshots are whole.
    metrics = {"width": 1400, "height": 2600, "deviceScaleFactor": 1, "mobile": False}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    browser.get(stack.base_url + "/")
    card = browser.find_element(By.ID, "picture-card")

    picture = draw(browser, wait, models["example"])
    assert_boundary_between_the_clouds(picture, 10_000)
    assert models["example"] in browser.find_element(By.ID, "picture-status").text
    card.screenshot(str(directory / "picture-example-10k.png"))

    # A prediction with this model marks its person on the same picture.
    choose(browser, wait, "predict-model", models["example"])
    fill(browser, "predict-weight", "128")
    fill(browser, "predict-height", "63")
    browser.find_element(By.ID, "predict-submit").click()
    marked = drawn(browser, wait, models["example"], marked="1")
    assert marked["segments"] == picture["segments"] and marked["points"] == picture["points"]
    gender = browser.find_element(By.ID, "predict-gender").text
    assert gender in ("Female", "Male")
    card.screenshot(str(directory / "picture-example-10k-prediction.png"))
    # In kg and cm, the picture follows the prediction's units.
    choose(browser, wait, "predict-units", "metric")
    fill(browser, "predict-weight", "90")
    fill(browser, "predict-height", "185")
    browser.find_element(By.ID, "predict-submit").click()
    canvas = browser.find_element(By.ID, "picture-canvas")
    wait.until(lambda d: canvas.get_attribute("data-weight-unit") == "kg")
    metric = drawn(browser, wait, models["example"], marked="1")
    assert metric["points"] == picture["points"] and int(metric["segments"]) >= 20
    assert browser.find_element(By.ID, "predict-gender").text == "Male"

    if real:
        picture = draw(browser, wait, models["real"])  # the person is the other model's
        assert_boundary_between_the_clouds(picture, 10_000)
        card.screenshot(str(directory / "picture-real-10k.png"))
    notice = browser.find_element(By.ID, "notice")
    assert not notice.is_displayed() or "notice-error" not in notice.get_attribute("class")
