"""Schemathesis over every operation of /openapi.json (issue 4, item 6).

The API under test is the real app (`create_app`, called in process through WSGI) on a private
store, with a private valkey-server and a real `nnservice worker`, so the jobs and models the
fuzzer creates never reach the session stack. Every operation gets schema-valid (positive) and
schema-invalid (negative) requests, derandomized and bounded so that the test is repeatable and
fast. Each response must: not be a 5xx; have a status listed explicitly for the operation (not only
through `default`); match the documented content type, headers and schema; and a schema-invalid
request must be refused. A second pass replays known-good requests against a store with a
dataset, a good and a corrupt model and finished jobs, so the 2xx and 409 bodies are checked too.
"""

from __future__ import annotations

import collections
import json
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from stack import Stack
from stores import snapshot_object_path

from foundation.settings import Settings
from service import create_app

from .conftest import SEED_ROWS, SNAPSHOT

pytestmark = pytest.mark.timeout(240)

EXAMPLES_PER_MODE = 40
MIN_GENERATED_REQUESTS = 500


def status_is_documented(ctx, response, case) -> None:
    """The status is one the operation lists itself; `default` may only stand in for a 500."""
    listed = {str(code) for code in case.operation.definition.raw["responses"]} - {"default"}
    status = response.status_code
    assert status == 500 or str(status) in listed, (
        f"{case.operation.label} answered {status}, which it does not document ({sorted(listed)})"
    )


CHECKS = [
    st_checks.not_a_server_error,
    status_is_documented,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
    st_checks.negative_data_rejection,
    st_checks.unsupported_method,
    st_checks.allow_header_conformance,
]


@dataclass
class Known:
    """Ids of things seeded in the fuzzed store: every state the responses can describe."""

    dataset_id: str
    model_id: str
    corrupt_model_id: str
    finished_job_id: str


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A private valkey-server and worker (no HTTP API: the app runs in this process)."""
    private = Stack(
        tmp_path_factory.mktemp("fuzz"),
        {"NNSERVICE_WORKER_CONCURRENCY": "1", "NNSERVICE_JOB_BUDGET": "100000"},
    )
    try:
        private.start_redis()
        private.start_worker()
        yield private
    finally:
        private.close()


@pytest.fixture(scope="module")
def app(fuzz_stack: Stack) -> Flask:
    # A registry event stream never ends by itself: each one here ends after 0.2 s.
    return create_app(
        Settings.from_env({**fuzz_stack.env(), "NNSERVICE_EVENTS_MAX_SECONDS": "0.2"})
    )


@pytest.fixture(scope="module")
def known(fuzz_stack: Stack, app: Flask) -> Known:
    """Seed the store through the API: a dataset, a finished job and its model, a corrupt model,
    (a queued job is made by the test that cancels it: the reaper would send a task nobody sent
    once it has waited for a lease)."""
    client, store = app.test_client(), fuzz_stack.store
    dataset_id = client.post("/datasets", json={"rows": SEED_ROWS}).get_json()["id"]
    body = {"dataset_id": dataset_id, "hyperparameters": {"epochs": 50, "seed": 1}}
    job_id = client.post("/train", json=body).get_json()["job_id"]
    record = fuzz_stack.wait_for_record(job_id)
    assert record.state == "succeeded", record
    corrupt = store.models.save(SNAPSHOT)["id"]
    path = snapshot_object_path(store, corrupt)
    path.write_bytes(path.read_bytes()[:-40])
    return Known(dataset_id, record.model_id, corrupt, job_id)


def _has_inputs(operation) -> bool:
    return bool(operation.path_parameters or operation.query or operation.headers or operation.body)


def _fuzz(operation, mode: GenerationMode, sent: collections.Counter) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_MODE,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        sent[operation.label] += 1
        case.call_and_validate(checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        # Only an operation without any input has nothing to make invalid.
        assert mode is GenerationMode.NEGATIVE and not _has_inputs(operation), operation.label


def test_generated_requests_over_every_operation(app: Flask, known: Known) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    sent: collections.Counter = collections.Counter()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, sent)
    assert {operation.label for operation in operations} == set(sent)
    assert sum(sent.values()) >= MIN_GENERATED_REQUESTS, sent


def _known_requests(known: Known, queued: tuple[str, str], unused: str) -> list[tuple[str, dict]]:
    """(operation label, Case arguments) of requests with real ids and valid bodies; two queued
    jobs on the known dataset, and a dataset no job uses (`unused`), for the deletes."""
    exported = {**SNAPSHOT, "id": "m-imported-by-fuzz-test"}
    ids = {
        "dataset": {"dataset_id": known.dataset_id},
        "job": {"job_id": known.finished_job_id},
        "model": {"model_id": known.model_id},
        "corrupt": {"model_id": known.corrupt_model_id},
        "queued": [{"job_id": job_id} for job_id in queued],
    }
    purge = {"purge": "true"}
    csv = "weight,height,gender\n133,65,F\n160,72,M\n"
    return [
        ("GET /healthz", {}),
        ("GET /readyz", {}),
        ("POST /datasets", {"body": {"rows": SEED_ROWS[:3]}, "media_type": "application/json"}),
        ("POST /datasets", {"body": csv, "media_type": "text/csv"}),
        (
            "POST /datasets",
            {"body": csv.replace(",", "\t"), "media_type": "text/tab-separated-values"},
        ),
        ("GET /datasets", {}),
        ("GET /datasets/{dataset_id}", {"path_parameters": ids["dataset"]}),
        ("DELETE /datasets/{dataset_id}", {"path_parameters": ids["dataset"]}),  # queued jobs
        ("DELETE /datasets/{dataset_id}", {"path_parameters": {"dataset_id": unused}}),
        ("POST /train", {"body": {"dataset_id": "ds-none"}, "media_type": "application/json"}),
        (
            "POST /train",
            {
                "body": {"rows": SEED_ROWS, "initial_model_id": known.corrupt_model_id},
                "media_type": "application/json",
            },
        ),
        ("GET /jobs", {"query": {"limit": 5}}),
        ("GET /jobs/{job_id}", {"path_parameters": ids["job"]}),
        ("GET /jobs/{job_id}/events", {"path_parameters": ids["job"]}),
        ("DELETE /jobs/{job_id}", {"path_parameters": ids["job"]}),
        ("DELETE /jobs/{job_id}", {"path_parameters": ids["queued"][0], "query": purge}),
        ("DELETE /jobs/{job_id}", {"path_parameters": ids["queued"][0]}),
        ("POST /jobs/{job_id}/cancel", {"path_parameters": ids["queued"][1]}),
        ("POST /jobs/{job_id}/cancel", {"path_parameters": ids["job"]}),
        ("DELETE /jobs/{job_id}", {"path_parameters": ids["queued"][0], "query": purge}),
        ("GET /models", {}),
        ("POST /models", {"body": exported, "media_type": "application/json"}),
        (
            "POST /models",
            {"body": {**exported, "loss": "log_loss"}, "media_type": "application/json"},
        ),
        ("GET /models/{model_id}", {"path_parameters": ids["model"]}),
        ("GET /models/{model_id}", {"path_parameters": ids["corrupt"]}),
        ("POST /models/{model_id}/promote", {"path_parameters": ids["corrupt"]}),
        ("POST /models/{model_id}/promote", {"path_parameters": ids["model"]}),
        ("DELETE /models/{model_id}", {"path_parameters": ids["model"]}),  # latest: refused
        ("DELETE /models/{model_id}", {"path_parameters": {"model_id": exported["id"]}}),
        ("GET /models/latest", {}),
        (
            "POST /predict",
            {"body": {"weight": 128, "height": 63}, "media_type": "application/json"},
        ),
        ("POST /predict", {"body": {"instances": [{"weight": 128, "height": 63}] * 3}}),
        (
            "POST /predict",
            {"body": {"weight": 128, "height": 63, "model_id": known.corrupt_model_id}},
        ),
        ("POST /predict", {"body": {"weight": 128, "height": 63, "model_id": "m-none"}}),
        *_alias_requests(known),
        *_protocol_requests(known),
    ]


def _experiment_requests(known: Known, batch_id: str, sweep_id: str) -> list[tuple[str, dict]]:
    """Batch predictions, sweeps, pictures and the registry's event stream."""
    model, corrupt = {"model_id": known.model_id}, {"model_id": known.corrupt_model_id}
    batch, sweep = {"batch_id": batch_id}, {"sweep_id": sweep_id}
    grid = {"dataset_id": known.dataset_id, "grid": {"learning_rate": [0.1, 0.3]}}
    return [
        ("POST /batch-predictions", {"body": {"dataset_id": known.dataset_id, **model}}),
        ("POST /batch-predictions", {"body": {"dataset_id": known.dataset_id, **corrupt}}),
        ("GET /batch-predictions", {}),
        ("GET /batch-predictions/{batch_id}", {"path_parameters": batch}),
        ("GET /batch-predictions/{batch_id}/result", {"path_parameters": batch}),
        ("POST /batch-predictions/{batch_id}/cancel", {"path_parameters": batch}),
        ("DELETE /batch-predictions/{batch_id}", {"path_parameters": batch}),  # ended: gone
        ("DELETE /batch-predictions/{batch_id}", {"path_parameters": batch}),  # 404
        ("POST /sweeps", {"body": {**grid, "hyperparameters": {"epochs": 5}}}),
        ("GET /sweeps", {}),
        ("GET /sweeps/{sweep_id}", {"path_parameters": sweep}),
        ("POST /sweeps/{sweep_id}/cancel", {"path_parameters": sweep}),
        ("GET /models/{model_id}/decision-grid", {"path_parameters": model, "query": {"steps": 5}}),
        ("GET /models/{model_id}/decision-grid", {"path_parameters": corrupt}),
        ("GET /datasets/{dataset_id}/rows", {"path_parameters": {"dataset_id": known.dataset_id}}),
        ("GET /events", {"query": {"last_event_id": 0}}),
    ]


def _alias_requests(known: Known) -> list[tuple[str, dict]]:
    """Set, read, use, move to a corrupt model, and remove an alias."""
    name = {"name": "fuzz-champion"}
    json_body = "application/json"
    return [
        ("PUT /aliases/{name}", {"path_parameters": name, "body": {"model_id": known.model_id}}),
        (
            "PUT /aliases/{name}",
            {
                "path_parameters": name,
                "body": {"split": [{"model_id": known.model_id, "weight": 2}]},
                "media_type": json_body,
            },
        ),
        ("PUT /aliases/{name}", {"path_parameters": name, "body": {"model_id": "m-none"}}),
        (
            "PUT /aliases/{name}",
            {"path_parameters": name, "body": {"model_id": known.corrupt_model_id}},
        ),
        ("GET /aliases", {}),
        ("GET /aliases/{name}", {"path_parameters": name}),
        ("GET /aliases/{name}/history", {"path_parameters": name}),
        ("POST /predict", {"body": {"weight": 128, "height": 63, "alias": "fuzz-champion"}}),
        ("POST /predict", {"body": {"weight": 128, "height": 63, "alias": "nobody"}}),
        ("DELETE /aliases/{name}", {"path_parameters": name}),
        ("DELETE /aliases/{name}", {"path_parameters": {"name": "latest"}}),
        ("GET /aliases/{name}", {"path_parameters": name}),
    ]


def _protocol_requests(known: Known) -> list[tuple[str, dict]]:
    """The MLflow and Open Inference Protocol operations, and GET /metrics (tests/protocols)."""
    model = {"name": "nnservice"}
    version = {**model, "version": known.model_id}
    tensor = {"name": "features", "shape": [1, 2], "datatype": "FP64", "data": [128, 63]}
    infer = {"body": {"inputs": [tensor]}, "media_type": "application/json"}
    data = struct.pack("<2d", 128, 63)  # the binary form: the JSON, then the input's bytes
    shape = {key: tensor[key] for key in ("name", "shape", "datatype")}
    head = json.dumps({"inputs": [{**shape, "parameters": {"binary_data_size": len(data)}}]})
    binary = {
        "body": head.encode() + data,
        "media_type": "application/octet-stream",
        "headers": {"Inference-Header-Content-Length": str(len(head))},
    }
    return [
        ("GET /metrics", {}),
        ("GET /ping", {}),
        ("GET /health", {}),
        ("POST /invocations", {"body": {"inputs": [[128, 63]]}, "media_type": "application/json"}),
        ("POST /invocations", {"body": "weight,height\n128,63\n", "media_type": "text/csv"}),
        ("GET /v2", {}),
        ("GET /v2/health/live", {}),
        ("GET /v2/health/ready", {}),
        ("GET /v2/models/{name}", {"path_parameters": model}),
        ("GET /v2/models/{name}/ready", {"path_parameters": model}),
        ("POST /v2/models/{name}/infer", {"path_parameters": model, **infer}),
        ("GET /v2/models/{name}/versions/{version}", {"path_parameters": version}),
        ("GET /v2/models/{name}/versions/{version}/ready", {"path_parameters": version}),
        ("POST /v2/models/{name}/versions/{version}/infer", {"path_parameters": version, **infer}),
        ("POST /v2/models/{name}/infer/binary", {"path_parameters": model, **binary}),
        (
            "POST /v2/models/{name}/versions/{version}/infer/binary",
            {"path_parameters": version, **binary},
        ),
        ("GET /version", {}),
        ("GET /v2/models/{name}/config", {"path_parameters": model}),
        ("GET /v2/models/{name}/versions/{version}/config", {"path_parameters": version}),
        ("GET /v2/models/stats", {}),
        ("GET /v2/models/{name}/stats", {"path_parameters": model}),
        ("GET /v2/models/{name}/versions/{version}/stats", {"path_parameters": version}),
        ("POST /v2/repository/index", {"body": {"ready": True}, "media_type": "application/json"}),
    ]


def test_known_requests_get_documented_answers(app: Flask, known: Known, fuzz_stack) -> None:
    """2xx and the documented 404/409s, checked against the document like the generated ones."""
    store = fuzz_stack.store
    queued = [
        store.jobs.create({"id": uuid.uuid4().hex, "dataset_id": known.dataset_id}).id
        for _ in range(2)
    ]
    unused, _ = store.datasets.save("unused", [100.0, 200.0], [60.0, 70.0], [1, 0])
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = {result.ok().label: result.ok() for result in schema.get_all_operations()}
    statuses = collections.defaultdict(set)
    client = app.test_client()
    batch = client.post(
        "/batch-predictions", json={"dataset_id": known.dataset_id, "model_id": known.model_id}
    )
    assert batch.status_code == 202, batch.get_json()
    body = {"dataset_id": known.dataset_id, "hyperparameters": {"epochs": 5}}
    sweep = client.post("/sweeps", json={**body, "grid": {"learning_rate": [0.1]}})
    assert sweep.status_code == 202, sweep.get_json()
    requests = [
        *_known_requests(known, (queued[0], queued[1]), unused.id),
        *_experiment_requests(
            known, batch.get_json()["batch_prediction_id"], sweep.get_json()["sweep_id"]
        ),
    ]
    for label, arguments in requests:
        arguments.setdefault("media_type", "application/json" if "body" in arguments else None)
        case = operations[label].Case(**arguments)
        response = case.call_and_validate(checks=CHECKS)
        statuses[label].add(response.status_code)
    assert set(operations) == set(statuses), set(operations) - set(statuses)
    assert statuses["POST /datasets"] == {200, 201}
    assert statuses["DELETE /jobs/{job_id}"] == {200, 204, 409}
    assert statuses["POST /jobs/{job_id}/cancel"] == {200, 409}
    assert statuses["DELETE /models/{model_id}"] == {204, 409}
    assert statuses["DELETE /datasets/{dataset_id}"] == {204, 409}
    assert statuses["POST /models"] == {201, 409}
    assert statuses["PUT /aliases/{name}"] == {200, 404, 409}
    assert statuses["DELETE /aliases/{name}"] == {204, 409}
    assert statuses["GET /aliases/{name}"] == {200, 404}
    assert statuses["GET /models/{model_id}"] == statuses["POST /models/{model_id}/promote"]
    assert statuses["GET /models/{model_id}"] == {200, 409}
    assert statuses["POST /predict"] == {200, 404, 409}
    assert statuses["POST /train"] == {404, 409}
    assert statuses["GET /models/{model_id}/decision-grid"] == {200, 409}
    assert statuses["GET /events"] == {200}
    assert statuses["DELETE /batch-predictions/{batch_id}"] == {204, 404}
    assert statuses["GET /readyz"] == {200}
