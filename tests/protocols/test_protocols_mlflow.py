"""The MLflow scoring protocol against the real stack, with the request shapes of MLflow's own
documentation (`mlflow models serve --help`, "Deploy MLflow Model as a Local Inference Server"),
columns renamed to this model's weight and height.
"""

from __future__ import annotations

import pytest
from stores import migrated

from foundation.limits import DEFAULT_MAX_PREDICT_ROWS
from foundation.settings import Settings
from service import create_app

from .conftest import EMILY, FRANK, probability_female

EXPECTED = [probability_female(*EMILY), probability_female(*FRANK)]
#: The stack's row cap (NNSERVICE_MAX_PREDICT_ROWS left at its default), and the answer past it.
MAX_ROWS = DEFAULT_MAX_PREDICT_ROWS
TOO_MANY = f"At most {MAX_ROWS} rows per request; got {MAX_ROWS + 1}."

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
        ({"inputs": [EMILY] * (MAX_ROWS + 1)}, {}, 400, "BAD_REQUEST", TOO_MANY),
        (
            "weight,height\n" + "128,63\n" * (MAX_ROWS + 1),
            {"Content-Type": "text/csv"},
            400,
            "BAD_REQUEST",
            TOO_MANY,
        ),
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


#: Text that Python's float() reads but is no plain decimal, as dataset uploads refuse it.
NOT_PLAIN = ["1_50", "0x10", "inf", "nan"]
PLAIN = {"150": 150.0, "150.5": 150.5, "1.5e2": 150.0, " 150 ": 150.0}


def _scored_as_text(stack, shape: str, weight: str):
    """/invocations with Emily, then a person whose weight is `weight` as text, in `shape`."""
    rows = [[str(EMILY[0]), str(EMILY[1])], [weight, "65"]]
    if shape == "csv":
        body = "weight,height\n" + "".join(f"{w},{h}\n" for w, h in rows)
        return stack.post("/invocations", data=body, headers={"Content-Type": "text/csv"})
    if shape == "dataframe_split":
        body = {"dataframe_split": {"columns": ["weight", "height"], "data": rows}}
    elif shape == "dataframe_records":
        body = {"dataframe_records": [{"weight": w, "height": h} for w, h in rows]}
    else:
        body = {shape: rows}
    return stack.post("/invocations", json=body)


TEXT_SHAPES = ["csv", "dataframe_split", "dataframe_records", "inputs", "instances"]


@pytest.mark.parametrize("shape", TEXT_SHAPES)
@pytest.mark.parametrize("weight", NOT_PLAIN)
def test_text_that_is_no_plain_decimal_is_refused_naming_row_and_column(
    stack, latest_model_id: str, shape: str, weight: str
) -> None:
    response = _scored_as_text(stack, shape, weight)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error_code"] == "BAD_REQUEST"
    assert "Failed to convert column weight to type 'float64'" in error["message"]
    assert "row 1, weight" in error["message"] and repr(weight) in error["message"]


@pytest.mark.parametrize("shape", TEXT_SHAPES)
def test_plain_decimals_as_text_are_converted(stack, latest_model_id: str, shape: str) -> None:
    for weight, number in PLAIN.items():
        if shape != "csv" and weight != weight.strip():
            continue  # CSV cells are stripped, as in uploads; a JSON string is taken as it is
        response = _scored_as_text(stack, shape, weight)
        assert response.status_code == 200, (weight, response.text)
        expected = [probability_female(*EMILY), probability_female(number, 65)]
        assert response.json()["predictions"] == pytest.approx(expected, abs=1e-12)


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
