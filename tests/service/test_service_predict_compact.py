"""POST /predict's compact forms: `instances` as `[weight, height]` pairs (KServe v1's instances)
and `inputs` as columns (MLflow's and TF Serving's columnar inputs), answered in columns; checked
as strictly as row objects (errors name the row and the field, the row cap, units)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from flask.testing import FlaskClient

from model_store import ModelStore
from service.measurements import NOT_A_NUMBER, NOT_A_PAIR

EMILY, FRANK = [128, 63], [155, 68]


def post(client: FlaskClient, body: object):
    return client.post("/predict", json=body)


def answer(client: FlaskClient, body: object) -> dict:
    response = post(client, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def errors(client: FlaskClient, body: object) -> dict:
    response = post(client, body)
    assert response.status_code == 422, response.get_data(as_text=True)
    return response.get_json()["errors"]


def test_pairs_and_columns_give_the_objects_answer_in_columns(client, saved_model) -> None:
    model_id = saved_model()
    people = [{"weight": w, "height": h} for w, h in (EMILY, FRANK)]
    objects = answer(client, {"instances": people})
    expected = {
        "gender": [p["gender"] for p in objects["predictions"]],
        "probability_female": [p["probability_female"] for p in objects["predictions"]],
    }
    assert expected["gender"] == ["F", "M"]
    pairs = answer(client, {"instances": [EMILY, FRANK]})
    columns = answer(client, {"inputs": {"weight": [128, 155], "height": [63, 68]}})
    for compact in (pairs, columns):
        assert compact == {"model_id": model_id, "predictions": expected}


def test_metric_units_and_explanations_in_columns(client, saved_model) -> None:
    saved_model()
    imperial = answer(client, {"instances": [EMILY], "explain": True})["predictions"]
    metric = answer(
        client, {"inputs": {"weight": [58.0598], "height": [160.02]}, "units": "metric"}
    )
    assert metric["predictions"]["probability_female"] == pytest.approx(
        imperial["probability_female"], abs=1e-4
    )
    (explanation,) = imperial["explanation"]
    assert explanation["input"] == EMILY
    assert explanation["layers"][-1]["a"] == imperial["probability_female"]


def test_bad_pairs_name_the_row_and_the_field(client, saved_model) -> None:
    saved_model()
    body = {"instances": [EMILY, [128], {"weight": 1, "height": 60}, [True, "63"], [2000, 63]]}
    assert errors(client, body) == {
        "instances": {
            "1": {"_schema": [NOT_A_PAIR]},
            "2": {"_schema": [NOT_A_PAIR]},
            "3": {"weight": [NOT_A_NUMBER], "height": [NOT_A_NUMBER]},
            "4": {"weight": ["Must be between 1 and 1500 lb."]},
        }
    }
    metric = {"instances": [[100, 100]], "units": "metric"}  # 100 cm is fine, 100 kg too
    assert answer(client, metric)["predictions"]["gender"]
    assert errors(client, {"instances": [[100, 400]], "units": "metric"}) == {
        "instances": {"0": {"height": ["Must be between 25.4 and 304.8 cm."]}}
    }


def test_bad_columns_name_the_field_or_the_row(client, saved_model) -> None:
    saved_model()
    assert errors(client, {"inputs": {"weight": [128]}}) == {
        "inputs": {"height": ["Missing data for required field."]}
    }
    assert errors(client, {"inputs": {"weight": [128], "height": [63], "age": [30]}}) == {
        "inputs": {"age": ["Unknown field."]}
    }
    assert errors(client, {"inputs": {"weight": [128, 155], "height": [63]}}) == {
        "inputs": {"height": ["Must have as many values as weight (2); got 1."]}
    }
    assert errors(client, {"inputs": {"weight": 128, "height": [63]}}) == {
        "inputs": {"weight": ["Not a valid list."]}
    }
    assert errors(client, {"inputs": {"weight": [128, None], "height": [63, 0]}}) == {
        "inputs": {"1": {"weight": [NOT_A_NUMBER], "height": ["Must be between 10 and 120 in."]}}
    }
    assert set(errors(client, {"inputs": [EMILY], "instances": [EMILY]})) == {"inputs", "instances"}


def test_duplicate_keys_and_the_row_cap(client, saved_model) -> None:
    saved_model()
    duplicate = b'{"inputs": {"weight": [128], "height": [63], "weight": [400]}}'
    response = client.post("/predict", data=duplicate, content_type="application/json")
    assert response.status_code == 400 and "weight" in response.get_json()["errors"]
    over = 10_001
    too_many = ["At most 10000 rows per request; got 10001."]
    assert errors(client, {"instances": [EMILY] * over}) == {"instances": too_many}
    columns = {"weight": [128] * over, "height": [63] * over}
    assert errors(client, {"inputs": columns}) == {"inputs": too_many}


def test_a_thousand_pairs_match_the_network_and_cost_less_than_objects(
    client, store: ModelStore, saved_model
) -> None:
    model_id = saved_model()
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.uniform(90, 250, 1000), rng.uniform(55, 80, 1000)]).round(1)
    pairs = json.dumps({"instances": X.tolist()})
    objects = json.dumps({"instances": [{"weight": w, "height": h} for w, h in X.tolist()]})
    got = answer(client, json.loads(pairs))["predictions"]
    np.testing.assert_allclose(
        got["probability_female"], store.models.load(model_id).predict_proba(X)
    )
    assert got["gender"] == ["F" if p >= 0.5 else "M" for p in got["probability_female"]]

    def best_of(body: str, rounds: int = 15) -> float:
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            client.post("/predict", data=body, content_type="application/json")
            times.append(time.perf_counter() - started)
        return min(times)

    assert best_of(pairs) < best_of(objects)  # no object a row, in or out
