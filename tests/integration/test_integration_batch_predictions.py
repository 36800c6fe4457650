"""Batch predictions against the real stack (real worker processes): the probabilities are, row
for row, exactly /predict's for the same model (compared as floats, exactly: the CSV and the JSON
both write a float's shortest round-tripping text); genders give an accuracy and a confusion
matrix, checked against counts made here; the result streams in input order; a whole worker
SIGKILLed while it scores a chunk loses nothing and writes no chunk twice; cancelling; deleting
(refused while running; every object gone after); /metrics counts the rows batches scored; and
bad requests answer 4xx naming the field."""

from __future__ import annotations

import csv
import io
import os
import signal
import time

import pytest
from people_data import example_people_tsv, real_data_tsv  # tests/people_data.py
from prometheus_client.parser import text_string_to_metric_families
from stores import object_keys

from model_store.batches import input_key, result_key

from .test_integration_jobs import upload_tsv

pytestmark = pytest.mark.timeout(180)

TSV = {"Content-Type": "text/tab-separated-values"}
CSV = {"Content-Type": "text/csv"}
#: One model per stack, trained once (5 epochs on 10,000 example people, not promoted).
_MODELS: dict[str, str] = {}


def _model(stack) -> str:
    if stack.base_url not in _MODELS:
        dataset = upload_tsv(stack, "people-10k", example_people_tsv())
        body = {
            "dataset_id": dataset["id"],
            "hyperparameters": {"epochs": 5, "seed": 3},
            "promote": False,
        }
        response = stack.post("/train", json=body)
        assert response.status_code == 202, response.text
        job = stack.wait_for_job(response.json()["job_id"], timeout=120)
        assert job["state"] == "succeeded", job
        _MODELS[stack.base_url] = job["model_id"]
    return _MODELS[stack.base_url]


def _people(tsv: bytes) -> list[dict]:
    """The file's rows as /predict's instances, with the true gender aside."""
    rows = csv.DictReader(io.StringIO(tsv.decode()), delimiter="\t")
    return [
        {
            "weight": float(row["Weight"]),
            "height": float(row["Height"]),
            "gender": "F" if row["Gender"] == "Female" else "M",
        }
        for row in rows
    ]


def _predict(stack, model_id: str, people: list[dict]) -> list[dict]:
    """/predict's answers for `people`, 10,000 rows per request."""
    answers = []
    for start in range(0, len(people), 10_000):
        instances = [
            {"weight": p["weight"], "height": p["height"]} for p in people[start:][:10_000]
        ]
        response = stack.post("/predict", json={"model_id": model_id, "instances": instances})
        assert response.status_code == 200, response.text
        answers += response.json()["predictions"]
    return answers


def _submit(stack, data: bytes, headers: dict, **query: object) -> dict:
    response = stack.post("/batch-predictions", params=query, data=data, headers=headers)
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == response.json()["status_url"]
    return response.json()


def _wait(stack, batch_id: str, states=("succeeded", "failed", "cancelled"), timeout=90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = stack.get(f"/batch-predictions/{batch_id}").json()
        if batch["state"] in states:
            return batch
        time.sleep(0.05)
    raise TimeoutError(f"batch {batch_id} not in {states}: {batch}")


def _result(stack, batch_id: str) -> list[dict]:
    response = stack.get(f"/batch-predictions/{batch_id}/result", stream=True)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "Content-Length" not in response.headers  # streamed, not built whole
    text = b"".join(response.iter_content(65536)).decode()
    return list(csv.DictReader(io.StringIO(text)))


def _assert_like_predict(stack, model_id: str, people: list[dict], rows: list[dict]) -> None:
    """Row for row: the input's weight and height in order, /predict's probability (exactly)
    and gender, and the true gender."""
    answers = _predict(stack, model_id, people)
    assert len(rows) == len(people) == len(answers)
    for person, row, answer in zip(people, rows, answers, strict=True):
        assert (float(row["weight"]), float(row["height"])) == (person["weight"], person["height"])
        assert float(row["probability_female"]) == answer["probability_female"]
        assert row["gender"] == answer["gender"]
        assert row["true_gender"] == person["gender"]


def _check_figures(batch: dict, people: list[dict], rows: list[dict]) -> None:
    """The accuracy and confusion matrix, counted here from the input and the predictions."""
    counts = {true: {"F": 0, "M": 0} for true in "FM"}
    for person, row in zip(people, rows, strict=True):
        counts[person["gender"]][row["gender"]] += 1
    assert batch["confusion_matrix"] == counts
    right = counts["F"]["F"] + counts["M"]["M"]
    assert batch["accuracy"] == pytest.approx(right / len(people), abs=1e-12)


def test_a_batch_scores_every_row_as_predict_does(stack) -> None:
    model_id = _model(stack)
    tsv = example_people_tsv()
    people = _people(tsv)
    accepted = _submit(stack, tsv, TSV, model_id=model_id, chunk_rows=3000)
    assert accepted["model_id"] == model_id and accepted["rows_total"] == 10_000

    batch = _wait(stack, accepted["batch_prediction_id"])
    assert batch["state"] == "succeeded", batch
    assert batch["rows_done"] == batch["rows_total"] == 10_000
    assert (batch["chunks_done"], batch["chunks_total"]) == (4, 4)
    assert batch["model_id"] == model_id and batch["alias"] is None and batch["has_gender"]
    rows = _result(stack, batch["batch_prediction_id"])
    _assert_like_predict(stack, model_id, people, rows)
    _check_figures(batch, people, rows)

    # The same rows as a stored dataset give the same result.
    dataset = upload_tsv(stack, "people-10k", tsv)
    response = stack.post(
        "/batch-predictions", json={"dataset_id": dataset["id"], "model_id": model_id}
    )
    assert response.status_code == 202, response.text
    from_dataset = _wait(stack, response.json()["batch_prediction_id"])
    assert from_dataset["state"] == "succeeded" and from_dataset["dataset_id"] == dataset["id"]
    assert _result(stack, from_dataset["batch_prediction_id"]) == rows
    assert from_dataset["confusion_matrix"] == batch["confusion_matrix"]

    listed = stack.get("/batch-predictions", params={"state": "succeeded", "limit": 1})
    assert listed.status_code == 200 and "X-Next-Page-Token" in listed.headers
    assert [b["batch_prediction_id"] for b in listed.json()] == [
        response.json()["batch_prediction_id"]
    ]


def test_the_real_ten_thousand_people_score_as_predict_does(stack) -> None:
    tsv = real_data_tsv()
    model_id = _model(stack)
    people = _people(tsv)
    batch = _wait(stack, _submit(stack, tsv, TSV, model_id=model_id)["batch_prediction_id"])
    assert batch["state"] == "succeeded", batch
    rows = _result(stack, batch["batch_prediction_id"])
    _assert_like_predict(stack, model_id, people, rows)
    _check_figures(batch, people, rows)


def test_a_file_without_genders_by_alias(stack) -> None:
    model_id = _model(stack)
    stack.request("PUT", "/aliases/batch-test", json={"model_id": model_id}).raise_for_status()
    data = b"height,weight\n63,128\n68,155\n"
    accepted = _submit(stack, data, CSV, alias="batch-test")
    batch = _wait(stack, accepted["batch_prediction_id"])
    assert batch["state"] == "succeeded" and batch["alias"] == "batch-test"
    assert batch["model_id"] == model_id
    assert not batch["has_gender"] and batch["accuracy"] is None
    assert batch["confusion_matrix"] is None
    rows = _result(stack, batch["batch_prediction_id"])
    assert list(rows[0]) == ["weight", "height", "probability_female", "gender"]
    people = [{"weight": 128.0, "height": 63.0}, {"weight": 155.0, "height": 68.0}]
    for row, answer in zip(rows, _predict(stack, model_id, people), strict=True):
        assert float(row["probability_female"]) == answer["probability_female"]


@pytest.mark.parametrize(
    ("request_args", "status", "field"),
    [
        ({"json": {}}, 422, "dataset_id"),
        ({"json": {"dataset_id": "ds-nothing"}}, 404, "dataset_id"),
        ({"json": {"dataset_id": "ds-x", "model_id": "m-nothing"}}, 404, "model_id"),
        ({"json": {"dataset_id": "ds-x", "alias": "no-such-alias"}}, 404, "alias"),
        ({"json": {"dataset_id": "ds-x", "model_id": "m-x", "alias": "latest"}}, 422, "model_id"),
        ({"json": {"dataset_id": "ds-x", "chunk_rows": 0}}, 422, "chunk_rows"),
        ({"data": b"weight,height\n128,63\n1e9,68\n", "headers": CSV}, 422, "file"),
        ({"data": b"weight,gender\n128,F\n", "headers": CSV}, 422, "file"),
        ({"data": b"weight,height\n", "headers": CSV}, 422, "file"),
        (
            {"data": b"weight,height\n1,2\n", "headers": CSV, "params": {"chunk_rows": "x"}},
            422,
            "chunk_rows",
        ),
        ({"data": b"128,63", "headers": {"Content-Type": "text/plain"}}, 415, "Content-Type"),
    ],
)
def test_bad_requests_name_the_field(stack, request_args: dict, status: int, field: str) -> None:
    """A dataset named "ds-x" is a stored one; an upload names a trained model."""
    model_id = _model(stack)
    if request_args.get("json", {}).get("dataset_id") == "ds-x":
        dataset_id = upload_tsv(stack, "people-10k", example_people_tsv())["id"]
        request_args = {"json": {**request_args["json"], "dataset_id": dataset_id}}
    if "data" in request_args:
        params = {"model_id": model_id, **request_args.get("params", {})}
        request_args = {**request_args, "params": params}
    response = stack.post("/batch-predictions", **request_args)
    assert response.status_code == status, response.text
    assert field in response.json()["errors"], response.json()


def test_a_bad_cell_names_its_line(stack) -> None:
    """In the fourth chunk of two rows, after three were stored (and removed again)."""
    query = {"chunk_rows": 2, "model_id": _model(stack)}
    data = b"weight,height\n" + b"128,63\n" * 5 + b"128,abc\n"
    response = stack.post("/batch-predictions", params=query, data=data, headers=CSV)
    assert response.status_code == 422
    (message,) = response.json()["errors"]["file"]["line 7"]["height"]
    assert "plain decimals" in message
    assert stack.get("/batch-predictions/bp-unknown").json()["errors"] == {
        "batch_prediction_id": ["batch_prediction 'bp-unknown' not found"]
    }


def test_cancelling_a_batch(stack) -> None:
    model_id = _model(stack)
    data = b"weight,height\n" + b"128,63\n155,68\n" * 100
    batch_id = _submit(stack, data, CSV, model_id=model_id, chunk_rows=1)["batch_prediction_id"]

    refused = stack.delete(f"/batch-predictions/{batch_id}")
    assert refused.status_code == 409 and "cancel it first" in refused.json()["message"]
    assert refused.json()["errors"]["state"][0].endswith(("queued.", "running."))
    response = stack.post(f"/batch-predictions/{batch_id}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    # The chunks being scored end; no other starts.
    deadline = time.monotonic() + 30
    while any(c.state == "running" for c in stack.store.batches.chunks(batch_id)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    batch = stack.get(f"/batch-predictions/{batch_id}").json()
    assert batch["state"] == "cancelled" and batch["rows_done"] < batch["rows_total"]
    assert stack.get(f"/batch-predictions/{batch_id}/result").status_code == 409
    again = stack.post(f"/batch-predictions/{batch_id}/cancel")
    assert again.status_code == 409 and "state" in again.json()["errors"]

    # Once cancelled (and no chunk is being scored), it can be deleted with every object.
    assert object_keys(stack.store, f"batch/{batch_id}/")
    assert stack.delete(f"/batch-predictions/{batch_id}").status_code == 204
    assert object_keys(stack.store, f"batch/{batch_id}/") == []
    assert stack.get(f"/batch-predictions/{batch_id}").status_code == 404


def _metric(stack, name: str) -> float:
    """The sum of the samples `name` over their labels, as /metrics shows them now."""
    families = text_string_to_metric_families(stack.get("/metrics").text)
    values = [s.value for family in families for s in family.samples if s.name == name]
    assert values, f"no {name} in /metrics"
    return sum(values)


def _rows_scored(stack) -> float:
    return _metric(stack, "nnservice_batch_rows_scored_total")


def test_a_finished_batch_is_counted_then_deleted_with_every_object(stack) -> None:
    model_id = _model(stack)
    before = _rows_scored(stack)
    predicted = _metric(stack, "nnservice_predictions_total")  # rows of /predict: not batches'
    data = b"weight,height\n128,63\n155,68\n140,66\n"
    accepted = _submit(stack, data, CSV, model_id=model_id, chunk_rows=2)
    batch_id = accepted["batch_prediction_id"]
    assert _wait(stack, batch_id)["state"] == "succeeded"
    assert _rows_scored(stack) == before + 3
    assert _metric(stack, "nnservice_predictions_total") == predicted
    keys = [input_key(batch_id, n) for n in (0, 1)] + [result_key(batch_id, n) for n in (0, 1)]
    assert object_keys(stack.store, f"batch/{batch_id}/") == sorted(keys)

    response = stack.delete(f"/batch-predictions/{batch_id}")
    assert response.status_code == 204, response.text
    assert object_keys(stack.store, f"batch/{batch_id}/") == []
    for path in (f"/batch-predictions/{batch_id}", f"/batch-predictions/{batch_id}/result"):
        missing = stack.get(path)
        assert missing.status_code == 404 and "batch_prediction_id" in missing.json()["errors"]
    assert stack.delete(f"/batch-predictions/{batch_id}").status_code == 404
    listed = stack.get("/batch-predictions", params={"limit": 100}).json()
    assert batch_id not in {b["batch_prediction_id"] for b in listed}
    assert _rows_scored(stack) == before + 3  # a counter: deleting a batch keeps its rows


def _catch_a_chunk_being_scored(stack, batch_id: str) -> list[int]:
    """Freeze the whole worker (SIGSTOP) until it is caught holding a chunk; those chunks."""
    group = stack.worker.pid
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        os.killpg(group, signal.SIGSTOP)
        chunks = stack.store.batches.chunks(batch_id)
        running = [c.chunk for c in chunks if c.state == "running"]
        if running:
            return running
        assert not all(c.state == "succeeded" for c in chunks), "the batch ended uncaught"
        os.killpg(group, signal.SIGCONT)
        time.sleep(0.005)
    raise TimeoutError("never caught the worker scoring a chunk")


def test_sigkill_of_the_worker_mid_batch_scores_every_chunk_once(_session_stack) -> None:
    stack = _session_stack
    stack.ensure_running()
    model_id = _model(stack)
    tsv = example_people_tsv(40_000, 1)
    people = _people(tsv)
    batch_id = _submit(stack, tsv, TSV, model_id=model_id, chunk_rows=500)["batch_prediction_id"]

    lost = _catch_a_chunk_being_scored(stack, batch_id)
    stack.kill_worker(signal.SIGKILL)
    stack.start_worker()

    batch = _wait(stack, batch_id, timeout=120)
    assert batch["state"] == "succeeded", batch
    assert batch["rows_done"] == 40_000 and batch["chunks_done"] == batch["chunks_total"] == 80
    chunks = stack.store.batches.chunks(batch_id)
    assert all(c.state == "succeeded" for c in chunks)
    assert {c.chunk for c in chunks if c.attempts > 1} == set(lost)
    assert all(stack.store.objects.exists(result_key(batch_id, c.chunk)) for c in chunks)
    rows = _result(stack, batch_id)
    _assert_like_predict(stack, model_id, people, rows)
    _check_figures(batch, people, rows)
