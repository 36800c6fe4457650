"""GET /jobs/{id}/events against the real stack: a real worker's progress, live, to the end."""

from __future__ import annotations

import numpy as np

#: The seed's four people (Alice, Bob, Charlie, Diana).
SEED_ROWS = [
    {"weight": 133, "height": 65, "gender": "F"},
    {"weight": 160, "height": 72, "gender": "M"},
    {"weight": 152, "height": 70, "gender": "M"},
    {"weight": 120, "height": 60, "gender": "F"},
]


def people(n: int, seed: int = 0) -> list[dict]:
    """`n` plausible people, half F and half M (weights in lb, heights in in)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        female = i % 2 == 0
        weight = rng.normal(135 if female else 185, 15)
        height = rng.normal(64 if female else 70, 2.5)
        rows.append({"weight": round(weight, 1), "height": round(height, 1), "gender": "FM"[i % 2]})
    return rows


def start_job(stack, rows: list[dict], **hyperparameters: object) -> str:
    body = {"rows": rows, "hyperparameters": hyperparameters, "promote": False}
    response = stack.post("/train", json=body)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def test_events_follow_a_running_job_live_until_it_is_cancelled(stack, read_sse) -> None:
    job_id = start_job(stack, people(200), epochs=100_000, validation_fraction=0.25, seed=1)
    progress: list[dict] = []
    cancelled = False
    with stack.get(f"/jobs/{job_id}/events", stream=True) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for event, data in read_sse(response.iter_lines(decode_unicode=True)):
            if event != "progress":
                break
            progress.append(data)
            if not cancelled and data["state"] == "running" and data["epoch"] > 0:
                assert stack.delete(f"/jobs/{job_id}").status_code == 202
                cancelled = True

    assert cancelled, progress
    assert (event, data["state"]) == ("end", "cancelled")
    assert data["model_id"] is None and data["epochs"] == 100_000
    running = [p for p in progress if p["state"] == "running" and p["epoch"] > 0]
    assert all(0 < p["loss"] < 1 and 0 < p["validation_loss"] < 1 for p in running)
    epochs = [p["epoch"] for p in progress]
    assert epochs == sorted(epochs) and epochs[-1] < 100_000


def test_events_end_with_the_model_and_metrics_of_a_finished_job(stack, read_sse) -> None:
    job_id = start_job(stack, SEED_ROWS, epochs=1000, learning_rate=0.1, seed=937)
    with stack.get(f"/jobs/{job_id}/events", stream=True) as response:
        messages = list(read_sse(response.iter_lines(decode_unicode=True)))

    event, end = messages[-1]
    job = stack.get(f"/jobs/{job_id}").json()
    assert event == "end" and end["state"] == "succeeded" == job["state"]
    assert end["model_id"] == job["model_id"] and end["metrics"] == job["metrics"]
    assert end["epoch"] == end["epochs"] == 1000 and end["validation_loss"] is None
    assert end["loss"] == job["loss_history"][-1]
    assert {name for name, _ in messages[:-1]} == {"progress"}
