"""Hostile or broken input, case by case (issue 4, item 7): each is a 4xx naming the field.

tests/service covers the common cases (single-row predict values, batch rows, dataset rows,
hyperparameters, the budget with a small cap, ragged and non-UTF-8 CSV, ids in GET paths); this
file adds the rest: every bad value for both measurements in every place a measurement arrives,
wrong types and extra fields per endpoint, JSON that cannot be parsed safely, the default job
budget, hostile ids in bodies and in every path (over real HTTP, with a check that no file inside
or outside the store changed), and bodies over the size limit, with and without Content-Length.
"""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from stores import migrated

from foundation.settings import Settings
from nnservice.embedded_redis import free_port
from service import create_app

from .conftest import EMILY, SEED_ROWS, SNAPSHOT


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    """The app on a store in tmp_path; REDIS_URL names a port nobody listens on."""
    settings = Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0", store_path=tmp_path)
    return create_app(migrated(settings))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def errors_of(response, status: int = 422) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"} and body["message"]
    return body["errors"]


def post_text(client: FlaskClient, path: str, text: str | bytes, content_type: str):
    return client.post(path, data=text, content_type=content_type)


#: JSON literals for a measurement that must be refused (NaN/Infinity are what Python's json
#: module accepts and strict JSON does not; 1e999 parses as infinity).
BAD_NUMBERS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1",
    "0",
    "0.0001",
    "1e6",
    "1.7e308",
    '"63"',
    "true",
    "null",
    "[]",
    "{}",
]


@pytest.mark.parametrize("field", ["weight", "height"])
@pytest.mark.parametrize("literal", BAD_NUMBERS)
def test_bad_measurements_in_a_single_predict(
    client: FlaskClient, field: str, literal: str
) -> None:
    values = {"weight": "128", "height": "63", field: literal}
    text = f'{{"weight": {values["weight"]}, "height": {values["height"]}}}'
    assert list(errors_of(post_text(client, "/predict", text, "application/json"))) == [field]


@pytest.mark.parametrize("units", ["imperial", "metric"])
@pytest.mark.parametrize("field", ["weight", "height"])
@pytest.mark.parametrize("literal", BAD_NUMBERS)
def test_bad_measurements_in_rows_name_the_row_and_field(
    client: FlaskClient, field: str, literal: str, units: str
) -> None:
    metric = {"weight": "58", "height": "160"}
    good = metric if units == "metric" else {"weight": "128", "height": "63"}
    row = {**good, field: literal}
    bad_row = f'{{"weight": {row["weight"]}, "height": {row["height"]}'
    instances = f'[{{"weight": {good["weight"]}, "height": {good["height"]}}}, {bad_row}}}]'
    text = f'{{"units": "{units}", "instances": {instances}}}'
    errors = errors_of(post_text(client, "/predict", text, "application/json"))
    assert list(errors) == ["instances"] and list(errors["instances"]) == ["1"]
    assert list(errors["instances"]["1"]) == [field]
    people = f'[{{"weight": 133, "height": 65, "gender": "F"}}, {bad_row}, "gender": "M"}}]'
    text = f'{{"units": "{units}", "rows": {people}}}'
    errors = errors_of(post_text(client, "/datasets", text, "application/json"))
    assert list(errors["rows"]["1"]) == [field]


@pytest.mark.parametrize("field", ["weight", "height"])
@pytest.mark.parametrize("cell", ["nan", "inf", "-Infinity", "-5", "0", "1e9", "abc", "", "0x10"])
def test_bad_measurements_in_a_csv_name_the_line_and_field(
    client: FlaskClient, field: str, cell: str
) -> None:
    row = {"weight": "160", "height": "72", field: cell}
    data = f"weight,height,gender\n133,65,F\n{row['weight']},{row['height']},M\n"
    errors = errors_of(post_text(client, "/datasets", data, "text/csv"))
    assert list(errors) == ["file"] and list(errors["file"]["line 3"]) == [field]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/predict", {**EMILY, "model_id": 7}, "model_id"),
        ("/predict", {**EMILY, "units": ["metric"]}, "units"),
        ("/predict", {"instances": {"weight": 1}}, "instances"),
        ("/predict", {"instances": "many"}, "instances"),
        ("/predict", {**EMILY, "gender": "F"}, "gender"),
        ("/datasets", {"rows": SEED_ROWS, "name": 5}, "name"),
        ("/datasets", {"rows": SEED_ROWS, "name": "x" * 201}, "name"),
        ("/datasets", {"rows": "a,b,c"}, "rows"),
        ("/datasets", {"rows": SEED_ROWS, "units": "stone"}, "units"),
        ("/train", {"dataset_id": 5}, "dataset_id"),
        ("/train", {"rows": SEED_ROWS, "promote": "yes"}, "promote"),
        ("/train", {"rows": SEED_ROWS, "hyperparameters": [1000]}, "hyperparameters"),
        ("/train", {"rows": SEED_ROWS, "initial_model_id": 3}, "initial_model_id"),
        ("/train", {"rows": SEED_ROWS, "owner": "root"}, "owner"),
        ("/train", {"rows": SEED_ROWS, "hyperparameters": {"epochs": 10**30}}, "hyperparameters"),
        ("/train", {"rows": SEED_ROWS, "hyperparameters": {"seed": 2**64}}, "hyperparameters"),
        ("/models", {**SNAPSHOT, "layer_sizes": "2,2,1"}, "layer_sizes"),
        ("/models", {**SNAPSHOT, "weights": [[["1", "2"]]]}, "weights"),
        (
            "/models",
            {**SNAPSHOT, "normalization": {"mean": [0, 0], "scale": [0, 1]}},
            "normalization",
        ),
        ("/models", {**SNAPSHOT, "layer_sizes": [2, 3, 1]}, "weights"),
        ("/models", {**SNAPSHOT, "activation": "relu"}, "activation"),
        ("/models", {**SNAPSHOT, "format_version": 2}, "format_version"),
        ("/models", {**SNAPSHOT, "secret": 1}, "secret"),
    ],
)
def test_wrong_types_and_extra_fields_name_the_field(
    client: FlaskClient, path: str, body: dict, field: str
) -> None:
    assert list(errors_of(client.post(path, json=body))) == [field]


@pytest.mark.parametrize("path", ["/predict", "/datasets", "/train", "/models"])
@pytest.mark.parametrize("text", ["[]", '"a string"', "null", "42"])
def test_a_body_that_is_not_an_object(client: FlaskClient, path: str, text: str) -> None:
    assert list(errors_of(post_text(client, path, text, "application/json"))) == ["_schema"]


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # deeper than Python's recursion limit
        '{"weight": ' + "[" * 5_000 + "]" * 5_000 + ', "height": 63}',
        '{"weight": ' + "9" * 5_000 + ', "height": 63}',  # over Python's 4300-digit int limit
        '{"weight": 128, "height": 63',
        b'{"weight": 128, "height": \xff}',  # not UTF-8
    ],
    ids=["deep", "deep-field", "long-integer", "cut-short", "not-utf8"],
)
def test_json_that_cannot_be_read_is_a_400_naming_the_body(client: FlaskClient, text) -> None:
    for path in ("/predict", "/train", "/models", "/datasets"):
        assert list(errors_of(post_text(client, path, text, "application/json"), 400)) == ["body"]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"weight,height,gender\n", "no rows"),
        (b"", "Missing header row"),
        (b"weight,height,gender\n133,65,F\n120,60,female\n", "both F and M"),
        (b"weight,height\n133,65\n", "Missing column 'gender'"),
        (b"weight,height,gender,age\n133,65,F,30\n", "Unknown column"),
        (b"weight,height,gender\n133,65,F\n160,72,M,extra\n", "Expected 3 fields"),
        (b"weight,height,gender\n133,65,F\n160,\x0072,M\n", "line 3"),
        ("weight,height,gender\n133,65,F\n160,72,M\xe4nnlich\n".encode("latin-1"), "UTF-8"),
        ("weight,height,gender\n".encode("utf-16"), "UTF-8"),
    ],
    ids=["header-only", "empty", "one-class", "missing-column", "extra-column", "ragged", "nul",
         "latin-1", "utf-16"],
)  # fmt: skip
def test_broken_csv_uploads(client: FlaskClient, data: bytes, problem: str) -> None:
    response = post_text(client, "/datasets", data, "text/csv")
    errors = errors_of(response)
    assert list(errors) in (["file"], ["rows"])
    assert problem in json.dumps(errors) + response.get_json()["message"]
    assert client.get("/datasets").get_json() == []


def test_the_default_job_budget_is_ten_to_the_ninth_sample_steps(client: FlaskClient) -> None:
    """10,001 rows x 100,000 epochs (both within their own limits) is just over 10^9."""
    rows = [SEED_ROWS[i % 4] | {"weight": 100 + i % 150} for i in range(10_001)]
    body = {"rows": rows, "hyperparameters": {"epochs": 100_000}}
    (message,) = errors_of(client.post("/train", json=body))["hyperparameters"]["epochs"]
    assert "1000100000 exceeds the job budget of 1000000000" in message
    assert "at most 99990 epochs" in message
    assert client.get("/jobs").get_json() == []


HOSTILE_IDS = [
    "../../victim",
    "..%2f..%2fvictim",
    "%2e%2e%2f%2e%2e%2fvictim",
    "%252e%252e%252fvictim",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "m-1%00x",
    "m-1\x00x",
    "..",
    ".",
    "~root",
    "m-1/../../victim",
]


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """path -> (size, mtime_ns) of every file and directory below `root`."""
    found = {}
    for directory, names, files in os.walk(root):
        for name in names + files:
            stat = os.stat(os.path.join(directory, name))
            found[os.path.join(directory, name)] = (stat.st_size, stat.st_mtime_ns)
    return found


def test_hostile_ids_touch_no_file(api_process, tmp_path: Path) -> None:
    """Over real HTTP (gunicorn parses the paths): every id in every place is refused."""
    store = tmp_path / "deep" / "store"
    api = api_process("api-hostile.log", NNSERVICE_STORE=str(store))
    (tmp_path / "victim.json").write_text('{"id": "victim"}')
    (tmp_path / "deep" / "victim.json").write_text('{"id": "victim"}')
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)

    def send(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        payload = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    status, _ = send("GET", "/models")  # the store's directories exist from here on
    assert status == 200
    before = _tree(tmp_path)
    for hostile in HOSTILE_IDS:
        raw = hostile.replace("\x00", "%00")
        for method, template in [
            ("GET", "/datasets/{}"),
            ("GET", "/jobs/{}"),
            ("DELETE", "/jobs/{}"),
            ("GET", "/jobs/{}/events"),
            ("GET", "/models/{}"),
            ("POST", "/models/{}/promote"),
        ]:
            status, _ = send(method, template.format(raw))
            assert status == 404, (method, template, hostile, status)
        for path, body, field in [
            ("/train", {"dataset_id": hostile}, "dataset_id"),
            ("/train", {"rows": SEED_ROWS, "initial_model_id": hostile}, "initial_model_id"),
            ("/predict", {**EMILY, "model_id": hostile}, "model_id"),
            ("/models", {**SNAPSHOT, "id": hostile}, "id"),
            ("/models", {**SNAPSHOT, "training": {"job_id": hostile}}, "training"),
        ]:
            status, answer = send("POST", path, body)
            assert status == 422 and list(answer["errors"]) == [field], (path, hostile, answer)
    connection.close()
    assert _tree(tmp_path) == before


def test_bodies_over_the_limit_are_413_with_or_without_a_length(api_process, tmp_path) -> None:
    """Over real HTTP: a declared Content-Length over the limit, and a chunked body that grows
    past it, for JSON and CSV."""
    api = api_process("api-413.log", NNSERVICE_STORE=str(tmp_path), NNSERVICE_MAX_BODY_BYTES="4096")
    csv_body = b"weight,height,gender\n" + b"133,65,F\n160,72,M\n" * 400
    json_body = json.dumps({"instances": [EMILY] * 200}).encode()
    for path, content_type, body in [
        ("/datasets", "text/csv", csv_body),
        ("/predict", "application/json", json_body),
    ]:
        for chunked in (False, True):
            connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
            chunks = (body[i : i + 1000] for i in range(0, len(body), 1000))
            connection.request(
                "POST",
                path,
                body=chunks if chunked else body,
                headers={"Content-Type": content_type},
                encode_chunked=chunked,
            )
            response = connection.getresponse()
            answer = json.loads(response.read())
            connection.close()
            assert response.status == 413, (path, chunked, answer)
            assert list(answer["errors"]) == ["body"] and "4096" in answer["message"]
    assert not list((tmp_path / "datasets").glob("*.json"))
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    small = csv_body[:200].rsplit(b"\n", 1)[0] + b"\n"  # under the limit, chunked: accepted
    headers = {"Content-Type": "text/csv"}
    chunks = iter([small[:50], small[50:]])
    connection.request("POST", "/datasets", body=chunks, headers=headers, encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 201, response.read()
    connection.close()
