"""MLflow's own client (mlflow-skinny 3.17's `ScoringServerClient`) against the real stack.

Each request shape is also answered here the way MLflow's own scoring server answered it:
`mlflow models serve --env-manager local` (mlflow 3.17.2) serving a pyfunc whose signature is
`weight: double, height: double`, run once by hand for issue 13 (the table is in
docs/protocols.md, "MLflow's server and nnservice"). The status and `error_code` of each of its
replies are the expectations below; where nnservice differs on purpose, the test says so.
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
import requests

with warnings.catch_warnings():  # mlflow warns about its own type hints while importing
    warnings.filterwarnings("ignore", message=".*Any type hint", category=UserWarning)
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

from .conftest import EMILY, probability_female

WEIGHT, HEIGHT = EMILY


@pytest.fixture
def client(stack) -> ScoringServerClient:
    host, port = stack.base_url.removeprefix("http://").split(":")
    return ScoringServerClient(host, int(port))


def test_version_and_ping(client, latest_model_id: str) -> None:
    assert client.get_version() == "0.1.0"  # MLflow's: its own version, e.g. "3.17.2"
    client.ping()  # raises unless 200


def test_a_dataframe_with_an_extra_column_is_scored(client, latest_model_id: str) -> None:
    frame = pd.DataFrame({"weight": [float(WEIGHT)], "height": [float(HEIGHT)], "age": [30]})
    answer = client.invoke(frame)  # MLflow: 200, the extra column ignored
    assert answer["predictions"] == pytest.approx([probability_female(WEIGHT, HEIGHT)], abs=1e-12)


def test_numbers_as_strings_are_converted(client, latest_model_id: str) -> None:
    frame = pd.DataFrame({"weight": [str(WEIGHT)], "height": [f"{HEIGHT}.0"]})
    answer = client.invoke(frame)  # MLflow: 200, converted to double
    assert answer["predictions"] == pytest.approx([probability_female(WEIGHT, HEIGHT)], abs=1e-12)


def test_a_missing_column_is_refused_with_mlflows_code(client, stack, latest_model_id) -> None:
    with pytest.raises(Exception, match="error code 400") as raised:
        client.invoke(pd.DataFrame({"weight": [float(WEIGHT)]}))
    assert "INVALID_PARAMETER_VALUE" in str(raised.value)  # MLflow: 400 INVALID_PARAMETER_VALUE
    assert "Model is missing inputs ['height']" in str(raised.value)


# (body, MLflow's status and error_code, ours) for shapes the client cannot send as a DataFrame.
SHAPES = {
    "records with an extra field": (
        {"dataframe_records": [{"weight": WEIGHT, "height": HEIGHT, "age": 30}]},
        (200, None),
        (200, None),
    ),
    "columnar inputs with an extra column": (
        {"inputs": {"weight": [WEIGHT], "height": [HEIGHT], "age": [30]}},
        (200, None),
        (200, None),
    ),
    "instances with strings": (
        {"instances": [{"weight": str(WEIGHT), "height": str(HEIGHT)}]},
        (200, None),
        (200, None),
    ),
    "a string that is no number": (
        {"dataframe_split": {"columns": ["weight", "height"], "data": [["heavy", HEIGHT]]}},
        (400, "BAD_REQUEST"),
        (400, "BAD_REQUEST"),
    ),
    "two formats at once": (
        {"inputs": [EMILY], "instances": [EMILY]},
        (400, "BAD_REQUEST"),
        (400, "BAD_REQUEST"),
    ),
    # No records make a frame without columns: MLflow's server answers 400 (its message, as for
    # a missing column, names the inputs the model is missing).
    "no records": (
        {"dataframe_records": []},
        (400, "INVALID_PARAMETER_VALUE"),
        (400, "INVALID_PARAMETER_VALUE"),
    ),
    # Differences on purpose (docs/protocols.md): pairs are this model's rows; MLflow refuses them
    # for a column signature (400 INVALID_PARAMETER_VALUE). A null or a boolean is not a
    # measurement; MLflow scores them (NaN, and True as 1.0).
    "[weight, height] pairs": ({"inputs": [EMILY]}, (400, "INVALID_PARAMETER_VALUE"), (200, None)),
    "a null": (
        {"dataframe_split": {"columns": ["weight", "height"], "data": [[None, HEIGHT]]}},
        (200, None),
        (400, "BAD_REQUEST"),
    ),
    "a boolean": (
        {"dataframe_split": {"columns": ["weight", "height"], "data": [[True, HEIGHT]]}},
        (200, None),
        (400, "BAD_REQUEST"),
    ),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_request_shapes_against_mlflows_replies(stack, latest_model_id: str, shape: str) -> None:
    body, _mlflow, (status, code) = SHAPES[shape]
    response = requests.post(f"{stack.base_url}/invocations", json=body, timeout=30)
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error_code"] == code


def test_mlflow_1_content_type_parameters_are_415(stack, latest_model_id: str) -> None:
    """MLflow 1.x clients name the orient in the content type; MLflow 2 and later answer 415."""
    body = json.dumps([{"weight": WEIGHT, "height": HEIGHT}])
    for content_type in ("application/json; format=pandas-records", "text/csv; format=x"):
        response = requests.post(
            f"{stack.base_url}/invocations",
            data=body,
            headers={"Content-Type": content_type},
            timeout=30,
        )
        assert response.status_code == 415, response.text
        assert set(response.json()) == {"error_code", "message"}
        assert "Unrecognized content type parameters: format" in response.json()["message"]
