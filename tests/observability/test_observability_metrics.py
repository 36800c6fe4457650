"""GET /metrics on the real stack: counts move with requests, whichever gunicorn process served
them (prometheus-client's multiprocess mode), and the store's jobs and served model are there."""

from __future__ import annotations

import collections
import time

import requests

from .conftest import EMILY, FRANK, Samples, scrape, value

#: The latency histogram's count is the request count, by endpoint, method and status.
REQUESTS = "nnservice_http_request_duration_seconds_count"
LATENCY_SUM = "nnservice_http_request_duration_seconds_sum"
PREDICTIONS = "nnservice_predictions_total"


def test_requests_and_predictions_are_counted_across_api_processes(stack, promoted: str) -> None:
    before = scrape(stack.base_url)
    for _ in range(8):  # a new connection each: both gunicorn workers get some
        answer = requests.post(
            stack.base_url + "/predict", json={"instances": [EMILY, FRANK, EMILY]}, timeout=30
        )
        assert [p["gender"] for p in answer.json()["predictions"]] == ["F", "M", "F"]
    for _ in range(3):
        assert requests.get(f"{stack.base_url}/models/{promoted}", timeout=30).status_code == 200
    for _ in range(2):
        assert requests.get(stack.base_url + "/no/such/page", timeout=30).status_code == 404

    predict = {"endpoint": "/predict", "method": "POST", "status": "200"}
    model = {"endpoint": "/models/<id:model_id>", "method": "GET", "status": "200"}
    unmatched = {"endpoint": "unmatched", "method": "GET", "status": "404"}
    bucket = {**predict, "le": "30.0"}
    expected = [  # (sample name, labels, how much it must have grown)
        (REQUESTS, predict, 8),
        ("nnservice_http_request_duration_seconds_bucket", bucket, 8),
        (PREDICTIONS, {"gender": "F"}, 16),
        (PREDICTIONS, {"gender": "M"}, 8),
        (REQUESTS, model, 3),
        (REQUESTS, unmatched, 2),
    ]

    def growth(after: Samples) -> list[tuple[str, dict, float]]:
        return [
            (name, labels, value(after, name, **labels) - value(before, name, **labels))
            for name, labels, _ in expected
        ]

    # every process writes its values at once: any scrape, served by either process, has them
    scrapes = [scrape(stack.base_url) for _ in range(4)]
    for after in scrapes:
        assert growth(after) == expected
        assert value(after, LATENCY_SUM, **predict) > value(before, LATENCY_SUM, **predict)
    endpoints = {dict(labels).get("endpoint") for name, labels in scrapes[-1] if name == REQUESTS}
    assert not any(promoted in endpoint for endpoint in endpoints), "a raw path became a label"
    assert value(scrapes[-1], REQUESTS, endpoint="/metrics", method="GET", status="200") >= 4


def test_training_jobs_durations_and_the_served_model(stack, promoted: str) -> None:
    rows = [
        {"weight": 133, "height": 65, "gender": "F"},
        {"weight": 160, "height": 72, "gender": "M"},
        {"weight": 152, "height": 70, "gender": "M"},
        {"weight": 120, "height": 60, "gender": "F"},
    ]
    body = {"rows": rows, "hyperparameters": {"epochs": 200, "seed": 3}, "promote": False}
    job_id = stack.post("/train", json=body).json()["job_id"]
    assert stack.wait_for_job(job_id)["state"] == "succeeded"

    for _ in range(50):  # other tests' jobs may still be finishing: wait for a quiet moment
        records = stack.store.jobs.list(limit=1000).items
        samples = scrape(stack.base_url)
        if records == stack.store.jobs.list(limit=1000).items:
            break
        time.sleep(0.2)
    by_state = collections.Counter(record.state for record in records)
    for state in ("queued", "running", "succeeded", "failed", "cancelled"):
        assert value(samples, "nnservice_training_jobs", state=state) == by_state[state], state
    ran = [r for r in records if r.state == "succeeded" and r.started_at and r.finished_at]
    durations = value(samples, "nnservice_training_duration_seconds_count", state="succeeded")
    assert durations == len(ran) >= 1
    assert value(samples, "nnservice_training_duration_seconds_sum", state="succeeded") > 0
    assert value(samples, "nnservice_served_model_info", model_id=promoted) == 1
    served = [labels for name, labels in samples if name == "nnservice_served_model_info"]
    assert len(served) == 1
