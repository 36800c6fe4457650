"""The MLflow scoring protocol against the real stack, with the request shapes of MLflow's own
documentation (`mlflow models serve --help`, "Deploy MLflow Model as a Local Inference Server"),
columns renamed to this model's weight and height.
"""

from __future__ import annotations

import pytest
from stores import migrated

from nnservice.config import Settings
from service import create_app

from .conftest import EMILY, FRANK, probability_female

EXPECTED = [probability_female(*EMILY), probability_female(*FRANK)]

# From `mlflow models serve --help`:
#   # split orientation input format for serializing a pandas DataFrame
#   -d '{"dataframe_split": {"columns": ["a", "b"], "index": [0, 1, 2],
#                            "data": [[1, 2], [3, 4], [5, 6]]}}'
#   # records orientation input format for serializing a pandas DataFrame
#   -d '{"dataframe_records": [{"a":1, "b":2}, {"a":3, "b":4}, {"a":5, "b":6}]}'
#   # inputs format for List submission of array, tensor, or DataFrame data
#   -d '{"inputs": [[1, 2], [3, 4], [5, 6]]}'
#   # instances format for submission of Tensor data
#   -d '{"instances": [{"a": "t1", "b": [1, 2, 3]}, {"a": "t2", "b": [4, 5, 6]}, ...]}'
DOCUMENTED_BODIES = {
    "dataframe_split": {
        "dataframe_split": {
            "columns": ["weight", "height"],
            "index": [0, 1],
            "data": [EMILY, FRANK],
        }
    },
    "dataframe_records": {
        "dataframe_records": [
            {"weight": EMILY[0], "height": EMILY[1]},
            {"weight": FRANK[0], "height": FRANK[1]},
        ]
    },
    "inputs": {"inputs": [EMILY, FRANK]},
    "instances": {
        "instances": [
            {"weight": EMILY[0], "height": EMILY[1]},
            {"weight": FRANK[0], "height": FRANK[1]},
        ]
    },
    # TF serving's columnar "inputs": {"a": [...], "b": [...]}
    "inputs columns": {"inputs": {"weight": [EMILY[0], FRANK[0]], "height": [EMILY[1], FRANK[1]]}},
    "instances pairs": {"instances": [EMILY, FRANK]},
}


@pytest.mark.parametrize("shape", list(DOCUMENTED_BODIES))
def test_each_documented_json_shape(stack, latest_model_id: str, shape: str) -> None:
    response = stack.post("/invocations", json=DOCUMENTED_BODIES[shape])
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"predictions": pytest.approx(EXPECTED, abs=1e-12)}
    assert response.headers["X-Model-Id"] == latest_model_id


def test_csv_with_a_header_row_and_pandas_index(stack, latest_model_id: str) -> None:
    # `curl ... -H 'Content-Type: text/csv' --data-binary @people.csv`; to_csv() writes the index.
    for body in ("weight,height\n128,63\n155,68\n", ",weight,height\r\n0,128,63\r\n1,155,68\r\n"):
        response = stack.post("/invocations", data=body, headers={"Content-Type": "text/csv"})
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == pytest.approx(EXPECTED, abs=1e-12)


def test_ping_and_health(stack, latest_model_id: str) -> None:
    for path in ("/ping", "/health"):
        response = stack.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "model_id": latest_model_id}


@pytest.mark.parametrize(
    ("body", "headers", "status", "code", "words"),
    [
        ({"inputs": [EMILY], "instances": [EMILY]}, {}, 400, "BAD_REQUEST", "exactly one"),
        ([EMILY], {}, 400, "BAD_REQUEST", "exactly one"),
        ({"inputs": [[128, 6300]]}, {}, 400, "BAD_REQUEST", "row 0, height"),
        (
            {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}},
            {},
            400,
            "INVALID_PARAMETER_VALUE",
            "Model is missing inputs ['weight', 'height']",
        ),
        (
            {"dataframe_records": [{"weight": "heavy", "height": 63}]},
            {},
            400,
            "BAD_REQUEST",
            "Failed to convert column weight to type 'float64'",
        ),
        (
            "weight;height\n128;63\n",
            {"Content-Type": "text/csv"},
            400,
            "INVALID_PARAMETER_VALUE",
            "missing inputs",
        ),
        ("128 63", {"Content-Type": "text/plain"}, 415, "BAD_REQUEST", "content types"),
    ],
)
def test_errors_in_mlflow_shape(stack, latest_model_id, body, headers, status, code, words) -> None:
    if isinstance(body, str):
        response = stack.post("/invocations", data=body, headers=headers)
    else:
        response = stack.post("/invocations", json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"error_code", "message"}
    assert error["error_code"] == code
    assert words in error["message"]


def test_before_any_model(stack, tmp_path) -> None:
    """An empty store: /ping answers 404 as MLflow's does without a model, scoring 409."""
    client = create_app(
        migrated(Settings(store_path=tmp_path, redis_url=stack.redis_url))
    ).test_client()
    ping = client.get("/ping")
    assert ping.status_code == 404
    assert ping.get_json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    scored = client.post("/invocations", json={"inputs": [EMILY]})
    assert scored.status_code == 409
    assert "POST /train" in scored.get_json()["message"]
