"""Concurrency (issue 4, item 4) on the session stack: 2 worker processes, 2 API processes.

20 training jobs sent at once all succeed with 20 distinct models. Then 8 clients send 5,000
predictions while the 20 models are promoted one after another; every answer is a 200, and the
model that answered was the latest at some moment while its request was in flight: promoted
before the answer came back, and not yet replaced by the next promotion when it was sent.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .conftest import EMILY, SEED_ROWS, SNAPSHOT

pytestmark = [pytest.mark.fault, pytest.mark.timeout(240)]

JOBS = 20
#: How long a promotion may take to reach every API process (issue 11: within 1 s).
PROMOTION_DELAY = 1.0
CLIENTS = 8
PREDICTIONS = 5_000


def _train_at_once(stack) -> list[str]:
    """POST /train JOBS times from JOBS threads released together; the job ids."""
    start = threading.Barrier(JOBS)

    def submit(seed: int) -> str:
        body = {
            "rows": SEED_ROWS,
            "hyperparameters": {"epochs": 300, "seed": seed},
            "promote": False,
        }
        start.wait()
        response = requests.post(stack.base_url + "/train", json=body, timeout=60)
        assert response.status_code == 202, response.text
        return response.json()["job_id"]

    with ThreadPoolExecutor(JOBS) as pool:
        return list(pool.map(submit, range(JOBS)))


def test_twenty_jobs_at_once_then_predictions_during_twenty_promotions(stack) -> None:
    job_ids = _train_at_once(stack)
    assert len(set(job_ids)) == JOBS
    jobs = [stack.wait_for_job(job_id, timeout=120) for job_id in job_ids]
    assert [job["state"] for job in jobs] == ["succeeded"] * JOBS, [j["error"] for j in jobs]
    models = [job["model_id"] for job in jobs]
    assert len(set(models)) == JOBS
    listed = {entry["id"]: entry for entry in stack.get("/models").json()}
    assert all(listed[model]["status"] == "ok" for model in models)

    first = stack.post("/models", json=SNAPSHOT)
    sequence = [first.json()["id"]]  # promoted before the clients start
    promoted_at = [(time.monotonic(), None)]
    assert stack.post(f"/models/{sequence[0]}/promote").status_code == 200
    promoted_at[0] = (promoted_at[0][0], time.monotonic())

    answers: list[tuple[float, float, int, str | None]] = []
    done = 0
    progress = threading.Condition()

    def client(count: int) -> None:
        nonlocal done
        with requests.Session() as http:
            for _ in range(count):
                sent = time.monotonic()
                response = http.post(stack.base_url + "/predict", json=EMILY, timeout=30)
                received = time.monotonic()
                model = response.json().get("model_id") if response.status_code == 200 else None
                with progress:
                    answers.append((sent, received, response.status_code, model))
                    done += 1
                    progress.notify_all()

    def promoter() -> None:
        """Promote model k once k/(JOBS+1) of the predictions are answered."""
        for k, model in enumerate(models, start=1):
            with progress:
                progress.wait_for(lambda k=k: done >= k * PREDICTIONS // (JOBS + 1), timeout=120)
            before = time.monotonic()
            response = requests.post(stack.base_url + f"/models/{model}/promote", timeout=30)
            assert response.status_code == 200, response.text
            sequence.append(model)
            promoted_at.append((before, time.monotonic()))

    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        work = [pool.submit(client, PREDICTIONS // CLIENTS) for _ in range(CLIENTS)]
        work.append(pool.submit(promoter))
        for future in work:
            future.result()

    assert len(answers) == PREDICTIONS
    assert {status for _, _, status, _ in answers} == {200}
    assert sequence[1:] == models
    position = {model: k for k, model in enumerate(sequence)}
    for sent, received, _, model in answers:
        assert model in position, model  # never promoted
        k = position[model]
        became_latest_from = promoted_at[k][0]
        replaced_by = promoted_at[k + 1][1] if k + 1 < len(sequence) else float("inf")
        # Never before its promotion; after the next one, only within the promotion delay.
        assert became_latest_from <= received, (model, k)
        assert sent <= replaced_by + PROMOTION_DELAY, (model, k)
    assert len({model for *_, model in answers}) > 1  # the promotions were seen
    # The bound under test: once PROMOTION_DELAY has passed since the last promotion, every
    # process answers with it (so the wait is the requirement itself, not a guess at a poll).
    time.sleep(max(0.0, promoted_at[-1][1] + PROMOTION_DELAY - time.monotonic()))
    final = {stack.post("/predict", json=EMILY).json()["model_id"] for _ in range(6)}
    assert final == {models[-1]}
