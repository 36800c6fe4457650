"""422s name the field (and the row, for lists); nothing invalid is stored."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from model_store import ModelStore

from .conftest import SEED_ROWS


def errors_of(response, status: int = 422) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()["errors"]


def post_raw_json(client: FlaskClient, path: str, text: str):
    return client.post(path, data=text, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"weight": 128}, {"height": ["Missing data for required field."]}),
        ({"weight": "128", "height": 63}, {"weight": ["Not a valid number."]}),
        ({"weight": True, "height": 63}, {"weight": ["Not a valid number."]}),
        ({"weight": 0, "height": 63}, {"weight": ["Must be between 1 and 1500 lb."]}),
        ({"weight": -128, "height": 63}, {"weight": ["Must be between 1 and 1500 lb."]}),
        ({"weight": 128, "height": 5000}, {"height": ["Must be between 10 and 120 in."]}),
        ({"weight": 128, "height": 63, "age": 3}, {"age": ["Unknown field."]}),
        (
            {"weight": 128, "height": 63, "units": "stone"},
            {"units": ["Must be one of: imperial, metric."]},
        ),
    ],
)
def test_single_predict_validation(client: FlaskClient, body: dict, expected: dict) -> None:
    assert errors_of(client.post("/predict", json=body)) == expected


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_and_infinity_literals_are_refused(client: FlaskClient, literal: str) -> None:
    errors = errors_of(post_raw_json(client, "/predict", f'{{"weight": {literal}, "height": 63}}'))
    assert list(errors) == ["weight"]
    text = (
        f'{{"instances": [{{"weight": 120, "height": 60}}, {{"weight": 1, "height": {literal}}}]}}'
    )
    errors = errors_of(post_raw_json(client, "/predict", text))
    assert list(errors["instances"]["1"]) == ["height"]


def test_batch_errors_name_the_row_and_field(client: FlaskClient) -> None:
    instances = [{"weight": 150, "height": 65} for _ in range(30)]
    instances[17] = {"weight": "heavy", "height": 65}
    instances[23] = {"weight": 150}
    errors = errors_of(client.post("/predict", json={"instances": instances}))
    assert errors == {
        "instances": {
            "17": {"weight": ["Not a valid number."]},
            "23": {"height": ["Missing data for required field."]},
        }
    }


def test_too_many_instances(client: FlaskClient) -> None:
    instances = [{"weight": 150, "height": 65}] * 10_001
    errors = errors_of(client.post("/predict", json={"instances": instances}))
    assert errors == {"instances": ["At most 10000 rows per request; got 10001."]}


def test_instances_and_single_together_are_refused(client: FlaskClient) -> None:
    body = {"weight": 1, "height": 60, "instances": []}
    assert set(errors_of(client.post("/predict", json=body))) == {"weight", "height", "instances"}


def test_dataset_rows_are_validated_and_nothing_is_stored(
    client: FlaskClient, store: ModelStore
) -> None:
    rows = [dict(row) for row in SEED_ROWS]
    rows[2]["gender"] = "X"
    rows[3]["height"] = float("nan")
    response = post_raw_json(client, "/datasets", json.dumps({"rows": rows}))
    assert errors_of(response) == {
        "rows": {
            "2": {"gender": ["Must be one of F, M, female, male (any case)."]},
            "3": {"height": ["Special numeric values (nan or infinity) are not permitted."]},
        }
    }
    assert store.datasets.list().items == []


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "The dataset has no rows."),
        (SEED_ROWS[:1] + SEED_ROWS[3:], "The dataset needs both F and M rows; all 2 rows are F."),
    ],
)
def test_empty_or_one_class_datasets(client: FlaskClient, rows: list, message: str) -> None:
    assert errors_of(client.post("/datasets", json={"rows": rows})) == {"rows": [message]}


def test_dataset_needs_rows_and_refuses_extra_fields(client: FlaskClient) -> None:
    assert errors_of(client.post("/datasets", json={"name": "x"})) == {
        "rows": ["Missing data for required field."]
    }
    errors = errors_of(client.post("/datasets", json={"rows": SEED_ROWS, "owner": "me"}))
    assert errors == {"owner": ["Unknown field."]}


def test_csv_upload_errors_name_the_line(client: FlaskClient) -> None:
    data = b"weight,height,gender\n133,65,F\n160,72\n"
    errors = errors_of(client.post("/datasets", data=data, content_type="text/csv"))
    assert errors == {"file": {"line 3": ["Expected 3 fields like the header, got 2."]}}
    data = b"weight,height,gender\n133,65,F\n\xe9,72,M\n"
    errors = errors_of(client.post("/datasets", data=data, content_type="text/csv"))
    assert list(errors["file"]) == ["line 3"]


@pytest.mark.parametrize(
    ("hyperparameters", "field"),
    [
        ({"epochz": 10}, "epochz"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 1.5}, "epochs"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"hidden_layers": []}, "hidden_layers"),
        ({"hidden_layers": [2, 0]}, "hidden_layers"),
        ({"batch_size": 0}, "batch_size"),
        ({"loss": "hinge"}, "loss"),
        ({"shuffle": "yes"}, "shuffle"),
        ({"seed": -1}, "seed"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"normalization": "minmax"}, "normalization"),
        ({"early_stopping_patience": 0}, "early_stopping_patience"),
        ({"early_stopping_patience": 5}, "early_stopping_patience"),
        ({"early_stopping_patience": 5, "validation_fraction": 0.0}, "early_stopping_patience"),
        ({"early_stopping_min_delta": -0.1}, "early_stopping_min_delta"),
    ],
)
def test_train_hyperparameters_are_checked(
    client: FlaskClient, hyperparameters: dict, field: str
) -> None:
    body = {"rows": SEED_ROWS, "hyperparameters": hyperparameters}
    errors = errors_of(client.post("/train", json=body))
    assert list(errors) == ["hyperparameters"]
    assert list(errors["hyperparameters"]) == [field]


def test_early_stopping_without_a_validation_split_names_the_rule(
    client: FlaskClient, store: ModelStore
) -> None:
    body = {"rows": SEED_ROWS, "hyperparameters": {"early_stopping_patience": 5}}
    errors = errors_of(client.post("/train", json=body))
    assert errors["hyperparameters"] == {
        "early_stopping_patience": [
            "Early stopping watches the validation loss: it needs validation_fraction above 0."
        ]
    }
    assert store.jobs.list().items == [] and store.datasets.list().items == []


def test_train_within_the_job_budget_only(client: FlaskClient, store: ModelStore) -> None:
    rows = SEED_ROWS * 50  # 200 rows; the test budget is 10^6 sample-steps
    body = {"rows": rows, "hyperparameters": {"epochs": 5001}}
    errors = errors_of(client.post("/train", json=body))
    (message,) = errors["hyperparameters"]["epochs"]
    assert "1000200" in message and "at most 5000 epochs" in message
    assert store.jobs.list().items == []


def test_train_needs_exactly_one_data_source(client: FlaskClient) -> None:
    assert set(errors_of(client.post("/train", json={}))) == {"dataset_id", "rows"}
    body = {"rows": SEED_ROWS, "dataset_id": "ds-abc"}
    assert set(errors_of(client.post("/train", json=body))) == {"dataset_id", "rows"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"promote": "sometimes"}, {"promote": ['Must be true, false or "if_better".']}),
        ({"promote": 1}, {"promote": ['Must be true, false or "if_better".']}),
        ({"promote_alias": ""}, {"promote_alias": ["Must match ^[a-z][a-z0-9_-]{0,63}$."]}),
        ({"promote_alias": "Champion"}, {"promote_alias": ["Must match ^[a-z][a-z0-9_-]{0,63}$."]}),
        ({"promote_alias": "a" * 65}, {"promote_alias": ["Must match ^[a-z][a-z0-9_-]{0,63}$."]}),
    ],
)
def test_train_promote_and_promote_alias_are_checked(
    client: FlaskClient, body: dict, expected: dict
) -> None:
    assert errors_of(client.post("/train", json={"rows": SEED_ROWS, **body})) == expected


def test_train_references_must_exist(client: FlaskClient) -> None:
    errors = errors_of(client.post("/train", json={"dataset_id": "ds-nope"}), 404)
    assert list(errors) == ["dataset_id"]
    body = {"rows": SEED_ROWS, "initial_model_id": "m-nope"}
    assert list(errors_of(client.post("/train", json=body), 404)) == ["initial_model_id"]


def test_continuing_needs_the_same_architecture(client: FlaskClient, saved_model) -> None:
    model_id = saved_model()
    body = {
        "rows": SEED_ROWS,
        "initial_model_id": model_id,
        "hyperparameters": {"hidden_layers": [3]},
    }
    errors = errors_of(client.post("/train", json=body))
    assert errors == {
        "hyperparameters": {"hidden_layers": ["The initial model has hidden layers [2]."]}
    }


def test_train_with_the_broker_down_is_503_and_leaves_no_job(
    client: FlaskClient, store: ModelStore
) -> None:
    response = client.post("/train", json={"rows": SEED_ROWS})
    errors = errors_of(response, 503)
    assert "broker" in errors
    assert "Redis" in response.get_json()["message"]
    assert store.jobs.list().items == []
