"""The dashboard's batch predictions card in headless Chromium, against a real stack whose reads
need a key: a CSV with genders uploaded through the card is scored by the worker, the card shows
its rows done of all, accuracy and confusion matrix as the API records them, and the CSV it saves
(fetched with the key) is the API's result byte for byte; a queued batch is cancelled, then
deleted, from the card.
A small grid sweep started from the card's form (refused first, the field named, for a value out of
range) opens in the card, its trials ranked by its metric as the API ranks them, with the best and
the loss curves; a job trained with early stopping shows where it stopped and which epoch it kept.
A running sweep is shown without a timer, and its end reaches the card by its `sweep_state` event.
"""

from __future__ import annotations

import re
from pathlib import Path

from browser_pages import click, notice, screenshot, texts
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import Select, WebDriverWait

from foundation.states import SweepState

KEY = {"Authorization": "Bearer ops-secret"}
#: A small model, stored as a worker stores one (no training needed to score with it).
SNAPSHOT = {
    "layer_sizes": [2, 2, 1],
    "loss": "mse",
    "weights": [[[-1.0, -1.0], [1.0, 1.0]], [[3.0, -3.0]]],
    "biases": [[0.0, 0.0], [0.0]],
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
    "training": {},
}
#: Whether the batches list will be fetched again on its timer ("on") or not ("off").
POLLING = "return document.getElementById('batches-table').dataset.polling"
SWEEPS_POLLING = "return document.getElementById('sweeps-table').dataset.polling"
#: What the sweep form says once the API accepted the sweep.
STARTED = re.compile(r"Sweep (?P<sweep>\S+) started, 4 trials queued\.")
#: The training form's fields for a job that stops early (30 people: 9 held out).
EARLY_STOPPING = {
    "train-epochs": "3000",
    "train-validation": "0.3",
    "train-seed": "3",
    "train-patience": "10",
    "train-min-delta": "0.01",
}
#: 30 people: weight (lb), height (in), gender; the model below tells some of them apart.
PEOPLE = [(110 + 4 * i, 60 + i % 9, "F" if i % 3 else "M") for i in range(30)]


def fill(driver, field: str, value: str, css: bool = False) -> None:
    """Type `value` into the input of id `field` (or CSS selector, `css`), replacing its text."""
    element = driver.find_element("css selector" if css else "id", field)
    element.clear()
    element.send_keys(value)


def percent(share: float) -> str:
    """As the page's format.percent writes a share."""
    return f"{100 * share:.1f} %"


def test_batch_prediction_card(stack_factory, browser, tmp_path: Path, artifacts: Path) -> None:
    stack = stack_factory(NNSERVICE_API_KEYS="ops:ops-secret", NNSERVICE_PUBLIC_READS="false")
    model = stack.store.models.save(SNAPSHOT)["id"]
    assert stack.post(f"/models/{model}/promote", headers=KEY).status_code == 200
    upload = tmp_path / "people.csv"
    upload.write_text("Weight,Height,Gender\n" + "".join(f"{w},{h},{g}\n" for w, h, g in PEOPLE))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )

    wait = WebDriverWait(
        browser, 30, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    )
    browser.get(stack.base_url + "/")
    browser.find_element("id", "api-key").send_keys("ops-secret")
    browser.find_element("css selector", "#key-form button[type=submit]").click()
    wait.until(lambda d: d.execute_script("return document.body.dataset.registryEvents") == "live")
    wait.until(lambda d: texts(d, "#batches-table p") == ["No batch predictions yet."])

    # Upload through the card, with the latest model: the worker scores it; the card polls.
    browser.find_element("id", "batch-file").send_keys(str(upload))
    browser.find_element("id", "batch-submit").click()
    row = '#batches-table tr[data-state="succeeded"]'
    wait.until(lambda d: texts(d, row))
    batch_id = browser.find_element("css selector", row).get_attribute("data-batch-id")
    record = stack.get(f"/batch-predictions/{batch_id}", headers=KEY).json()
    assert record["state"] == "succeeded" and record["model_id"] == model
    assert record["rows_done"] == record["rows_total"] == len(PEOPLE)
    assert texts(browser, f"{row} .batch-rows-text") == [f"{len(PEOPLE)} / {len(PEOPLE)}"]
    wait.until(lambda d: d.execute_script(POLLING) == "off")  # nothing active: no more fetches

    # The batch the card submitted is the one in detail: accuracy and confusion as recorded.
    shown = f'#batch-shown[data-batch-id="{batch_id}"][data-state="succeeded"]'
    wait.until(lambda d: texts(d, shown))
    matrix = record["confusion_matrix"]
    assert 0 < record["accuracy"] < 1, record  # both right and wrong rows: the matrix says which
    assert texts(browser, "#batch-accuracy") == [percent(record["accuracy"])]
    cells = browser.execute_script(
        "return [...document.querySelectorAll('#batch-confusion td')]"
        ".map((c) => [c.dataset.truth, c.dataset.predicted, Number(c.innerText)])"
    )
    assert cells == [[t, p, matrix[t][p]] for t in "FM" for p in "FM"]
    assert sum(matrix["F"].values()) == sum(g == "F" for _, _, g in PEOPLE)

    # Download: the page fetches the result with its key and saves it; it is the API's CSV.
    click(wait, "#batch-detail .batch-download")
    saved = downloads / f"{batch_id}.csv"
    wait.until(lambda _: saved.is_file() and saved.stat().st_size > 0)
    result = stack.get(f"/batch-predictions/{batch_id}/result", headers=KEY)
    assert result.status_code == 200
    wait.until(lambda _: saved.read_bytes() == result.content)
    assert result.text.splitlines()[0] == "weight,height,probability_female,gender,true_gender"
    screenshot(browser, tmp_path / "dashboard-batch-predictions.png")

    # A small grid sweep started from the Sweeps card's form; a value out of the hyperparameter's
    # range first: the API's 422 is shown beside the form, naming the field, which is marked.
    rows = [{"weight": w, "height": h, "gender": g} for w, h, g in PEOPLE]
    dataset = stack.post("/datasets", json={"name": "sweep", "rows": rows}, headers=KEY).json()
    option = f'#sweep-dataset option[value="{dataset["id"]}"]'
    wait.until(lambda d: texts(d, option))  # its registry event refreshed the datasets
    click(wait, "#sweep-form-box summary")
    wait.until(lambda d: texts(d, '#sweep-form[data-described="true"]'))  # its rows are drawn
    Select(browser.find_element("id", "sweep-dataset")).select_by_value(dataset["id"])
    fill(browser, "sweep-epochs", "4")
    fill(browser, "sweep-seed", "3")
    grid = '#sweep-grid-table tr[data-name="{}"] input'
    fill(browser, grid.format("learning_rate"), "0.3, 20", css=True)
    fill(browser, grid.format("hidden_layers"), "2; 3", css=True)
    sweeps_before = len(stack.get("/sweeps", headers=KEY).json())
    browser.find_element("id", "sweep-submit").click()
    wait.until(lambda d: texts(d, "#sweep-form-status.error"))
    refusal = texts(browser, "#sweep-form-status")[0]
    assert "grid.learning_rate" in refusal, refusal
    marked = browser.find_elements("css selector", '#sweep-form [aria-invalid="true"]')
    assert [field.get_attribute("data-field") for field in marked] == ["grid.learning_rate"]
    assert len(stack.get("/sweeps", headers=KEY).json()) == sweeps_before
    screenshot(browser, artifacts / "dashboard-sweep-refused.png")
    # A search's range is checked alike: a learning rate's low of 0 is refused, and named.
    click(wait, "#sweep-kind-search")
    fill(browser, "sweep-trials", "2")
    bounds = '#sweep-space-table tr[data-name="learning_rate"] input.bound'
    low, high = browser.find_elements("css selector", bounds)
    for bound, value in ((low, "0"), (high, "0.5")):
        bound.send_keys(value)
    browser.find_element("id", "sweep-submit").click()
    wait.until(lambda d: "search.space.learning_rate.low" in texts(d, "#sweep-form-status")[0])
    marked = browser.find_elements("css selector", '#sweep-form [aria-invalid="true"]')
    assert [field.get_attribute("data-field") for field in marked] == [
        "search.space.learning_rate.low"
    ]
    assert len(stack.get("/sweeps", headers=KEY).json()) == sweeps_before
    click(wait, "#sweep-kind-grid")

    # Corrected, it starts; the new sweep opens in the card: its trials shown ranked as the API
    # ranks them, the best one named, and their loss curves overlaid.
    fill(browser, grid.format("learning_rate"), "0.3, 0.01", css=True)
    browser.find_element("id", "sweep-submit").click()
    started = wait.until(lambda d: STARTED.match(texts(d, "#sweep-form-status")[0]))
    sweep_id = started["sweep"]
    wait.until(
        lambda d: texts(d, f'#sweep-shown[data-sweep-id="{sweep_id}"][data-state="succeeded"]')
    )
    assert not browser.find_elements("css selector", '#sweep-form [aria-invalid="true"]')
    sweep = stack.get(f"/sweeps/{sweep_id}", headers=KEY).json()
    assert sweep["grid"] == {"learning_rate": [0.3, 0.01], "hidden_layers": [[2], [3]]}
    assert (sweep["dataset_id"], sweep["kind"], sweep["promote"]) == (dataset["id"], "grid", "none")
    assert sweep["hyperparameters"]["epochs"] == 4 and sweep["hyperparameters"]["seed"] == 3
    wait.until(lambda d: texts(d, f'#sweeps-table tr[data-sweep-id="{sweep_id}"]'))
    trials = sweep["trials"]
    assert len(trials) == 4 and all(t["state"] == "succeeded" for t in trials), sweep
    shown_order = browser.execute_script(
        "return [...document.querySelectorAll('#sweep-trials tbody tr')]"
        ".map((row) => row.dataset.jobId)"
    )
    assert shown_order == [t["job_id"] for t in trials]
    assert [t["rank"] for t in trials] == [1, 2, 3, 4]
    values = [t["value"] for t in trials]
    assert values == sorted(values)  # validation loss: lowest first
    assert texts(browser, "#sweep-best")[0].startswith(f"#{sweep['best']['trial_number']}:")
    assert sweep["best"]["job_id"] == trials[0]["job_id"]
    wait.until(lambda d: d.find_element("id", "sweep-chart").get_attribute("data-series") == "4")
    wait.until(lambda d: d.execute_script(SWEEPS_POLLING) == "off")
    screenshot(browser, artifacts / "dashboard-sweep.png")

    # A job with early stopping, from the training form: its card says where it stopped and
    # which epoch it kept, as the job's record does.
    Select(browser.find_element("id", "train-dataset")).select_by_value(dataset["id"])
    for field, value in EARLY_STOPPING.items():
        fill(browser, field, value)
    browser.find_element("id", "train-promote").click()  # (checked: make it the latest)
    browser.find_element("id", "train-submit").click()
    wait.until(lambda d: texts(d, '#job-state[data-state="succeeded"]'))
    job_id = browser.find_element("id", "job-title").text
    job = stack.get(f"/jobs/{job_id}", headers=KEY).json()
    hyperparameters = job["hyperparameters"]
    assert hyperparameters["early_stopping_patience"] == int(EARLY_STOPPING["train-patience"])
    epochs = hyperparameters["epochs"]
    assert job["best_epoch"] < job["stopped_epoch"] < epochs, job
    shown = wait.until(lambda d: d.find_element("id", "job-early-stopping"))
    assert shown.text == (
        f"Early stopping: stopped at epoch {job['stopped_epoch']} of {epochs}, "
        f"kept epoch {job['best_epoch']}."
    )
    assert shown.get_attribute("data-stopped-epoch") == str(job["stopped_epoch"])
    assert shown.get_attribute("data-best-epoch") == str(job["best_epoch"])
    screenshot(browser, artifacts / "dashboard-early-stopping.png")

    # A batch that stays queued (no worker) is listed as such, and cancelled from its row.
    stack.kill_worker()
    headers = {**KEY, "Content-Type": "text/csv"}
    submitted = stack.post("/batch-predictions", headers=headers, data=upload.read_bytes())
    queued = submitted.json()["batch_prediction_id"]
    # Submitted elsewhere (no event tells the page): it shows once the list is refreshed.
    click(wait, "#batches-refresh")
    queued_row = f'#batches-table tr[data-batch-id="{queued}"]'
    wait.until(lambda d: texts(d, f'{queued_row}[data-state="queued"]'))
    assert browser.execute_script(POLLING) == "on"  # no event will say when it ends
    assert texts(browser, f"{queued_row} .batch-rows-text") == [f"0 / {len(PEOPLE)}"]
    click(wait, f"{queued_row} .batch-cancel")
    wait.until(lambda d: texts(d, f'{queued_row}[data-state="cancelled"]'))
    assert stack.get(f"/batch-predictions/{queued}", headers=KEY).json()["state"] == "cancelled"
    wait.until(lambda d: d.execute_script(POLLING) == "off")  # every shown batch has ended

    # A sweep whose trials stay queued (no worker) is shown running, with no timer to fetch it
    # again. It then ends as a worker's last pass ends one, with no trial changing: only its
    # sweep_state event can tell the page, which shows the end once it has applied that event.
    sweep_request = {
        "dataset_id": dataset["id"],
        "hyperparameters": {"epochs": 4, "seed": 3},
        "grid": sweep["grid"],
    }
    waiting = stack.post("/sweeps", json=sweep_request, headers=KEY)
    assert waiting.status_code == 202, waiting.text
    waiting_id = waiting.json()["sweep_id"]
    click(wait, f'#sweeps-table tr[data-sweep-id="{waiting_id}"] td')
    shown = f'#sweep-shown[data-sweep-id="{waiting_id}"]'
    wait.until(lambda d: texts(d, f'{shown}[data-state="running"]'))
    assert browser.execute_script(SWEEPS_POLLING) == "off"  # the stream is live: no 2 s timer
    assert stack.store.sweeps.end(waiting_id, SweepState.CANCELLED, None, None) is not None
    ended_event = stack.store.events.newest_id()
    wait.until(lambda d: texts(d, f'{shown}[data-state="cancelled"]'))
    wait.until(
        lambda d: texts(
            d, f'#sweeps-table tr[data-sweep-id="{waiting_id}"][data-state="cancelled"]'
        )
    )
    applied = "return Number(document.body.dataset.eventsApplied)"
    wait.until(lambda d: d.execute_script(applied) >= ended_event)
    assert browser.execute_script(SWEEPS_POLLING) == "off"
    assert notice(browser) == ""

    # Deleted from its row (Delete, then "Sure?"): gone from the list and from the API.
    click(wait, f"{queued_row} .batch-delete")
    wait.until(lambda d: texts(d, f"{queued_row} .batch-delete") == ["Sure?"])
    click(wait, f"{queued_row} .batch-delete")
    wait.until(lambda d: not texts(d, queued_row))
    assert f"Batch {queued} deleted." in notice(browser)
    assert stack.get(f"/batch-predictions/{queued}", headers=KEY).status_code == 404
