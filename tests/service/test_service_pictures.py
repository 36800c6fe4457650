"""What the dashboard's pictures are drawn from: GET /models/{id}/decision-grid (the same numbers
as /predict at its points; its axes, defaults and 422s) and GET /datasets/{id}/rows."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from foundation.limits import DEFAULT_GRID_STEPS, MAX_GRID_STEPS
from model_store import ModelStore
from model_store.datasets import dataset_columns, encode_columns
from model_store.tables import datasets
from service.measurements import BOUNDS

from .conftest import SEED_ROWS

AXES = {"weight_min": 100, "weight_max": 250, "height_min": 55, "height_max": 80}


def grid(client: FlaskClient, model: str, **query: object):
    return client.get(f"/models/{model}/decision-grid", query_string=query)


def predicted(client: FlaskClient, model_id: str, weight: float, height: float, units: str):
    body = {"weight": weight, "height": height, "units": units, "model_id": model_id}
    response = client.post("/predict", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["predictions"][0]["probability_female"]


@pytest.mark.parametrize(
    ("units", "axes"),
    [
        ("imperial", AXES),
        ("metric", {"weight_min": 45, "weight_max": 115, "height_min": 140, "height_max": 203}),
    ],
)
def test_the_grid_is_what_predict_answers_at_its_points(
    client: FlaskClient, saved_model, units: str, axes: dict
) -> None:
    model_id = saved_model()
    response = grid(client, model_id, steps=7, units=units, **axes)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["model_id"] == model_id and answer["threshold"] == 0.5
    imperial = units == "imperial"
    expected_units = (
        {"weight": "lb", "height": "in"} if imperial else {"weight": "kg", "height": "cm"}
    )
    assert answer["units"] == expected_units
    assert answer["weights"] == np.linspace(axes["weight_min"], axes["weight_max"], 7).tolist()
    assert answer["heights"] == np.linspace(axes["height_min"], axes["height_max"], 7).tolist()
    field = answer["probability_female"]
    assert len(field) == 7 and all(len(row) == 7 for row in field)
    for i, j in [(0, 0), (0, 6), (3, 2), (6, 0), (6, 6), (5, 1)]:
        weight, height = answer["weights"][j], answer["heights"][i]
        # the same forward pass; a batch's matrix product may round the last bit differently
        expected = predicted(client, model_id, weight, height, units)
        assert field[i][j] == pytest.approx(expected, rel=1e-12, abs=1e-15), (i, j)
    # Both genders occur on this grid: the boundary runs through it.
    values = np.array(field)
    assert values.max() >= 0.5 > values.min()


def test_latest_names_the_latest_model(client: FlaskClient, saved_model) -> None:
    assert grid(client, "latest", **AXES).status_code == 409  # none promoted yet
    saved_model(flip=True, promote=False)
    model_id = saved_model()
    answer = grid(client, "latest", steps=3, **AXES).get_json()
    assert answer["model_id"] == model_id
    assert answer == grid(client, model_id, steps=3, **AXES).get_json()


def test_the_axes_default_to_the_training_data_range(
    client: FlaskClient, store: ModelStore, snapshot_body
) -> None:
    recorded = {"weight": [97.5, 260.0], "height": [54.0, 79.25]}
    trained = store.models.save(snapshot_body(training={"input_range": recorded}))["id"]
    answer = grid(client, trained).get_json()
    assert len(answer["weights"]) == len(answer["heights"]) == DEFAULT_GRID_STEPS
    assert [answer["weights"][0], answer["weights"][-1]] == recorded["weight"]
    assert [answer["heights"][0], answer["heights"][-1]] == recorded["height"]
    metric = grid(client, trained, units="metric").get_json()
    assert metric["weights"][-1] == pytest.approx(260.0 * 0.45359237)
    assert metric["heights"][0] == pytest.approx(54.0 * 2.54)
    partly = grid(client, trained, weight_min=150, steps=2).get_json()
    assert partly["weights"] == [150.0, 260.0]

    unknown = store.models.save(snapshot_body(training={}))["id"]
    answer = grid(client, unknown, steps=2).get_json()
    assert answer["weights"] == list(BOUNDS["imperial"]["weight"])
    assert answer["heights"] == list(BOUNDS["imperial"]["height"])


def test_bad_grids_are_422_naming_the_parameter_and_the_rule(
    client: FlaskClient, saved_model
) -> None:
    model_id = saved_model()
    cases = [
        ({**AXES, "weight_min": 250}, {"weight_min", "weight_max"}, "must be less than"),
        ({**AXES, "height_max": 50}, {"height_min", "height_max"}, "must be less than"),
        ({**AXES, "weight_max": 2000}, {"weight_max"}, "Must be between 1 and 1500 lb."),
        ({**AXES, "height_min": 5}, {"height_min"}, "Must be between 10 and 120 in."),
        ({**AXES, "units": "metric", "weight_max": 1000}, {"weight_max"}, "680 kg"),
        ({**AXES, "steps": 1}, {"steps"}, "greater than or equal to 2"),
        (
            {**AXES, "steps": MAX_GRID_STEPS + 1},
            {"steps"},
            f"less than or equal to {MAX_GRID_STEPS}",
        ),
        ({**AXES, "weight_min": "nan"}, {"weight_min"}, "Special numeric values"),
        ({**AXES, "height_max": "tall"}, {"height_max"}, "Not a valid number."),
        ({**AXES, "units": "furlongs"}, {"units"}, "Must be one of"),
    ]
    for query, fields, rule in cases:
        response = grid(client, model_id, **query)
        assert response.status_code == 422, (query, response.get_json())
        errors = response.get_json()["errors"]
        assert set(errors) == fields, (query, errors)
        assert all(rule in " ".join(errors[field]) for field in fields), (query, errors)
    assert grid(client, model_id, steps=MAX_GRID_STEPS, **AXES).status_code == 200
    assert grid(client, "m-nope", **AXES).status_code == 404
    assert grid(client, model_id, colour="red").status_code == 400


def test_a_dataset_s_rows_evenly_picked_as_columns(client: FlaskClient, store) -> None:
    info = client.post("/datasets", json={"name": "seed", "rows": SEED_ROWS}).get_json()
    rows = f"/datasets/{info['id']}/rows"
    everyone = client.get(rows).get_json()
    assert everyone == {
        "dataset_id": info["id"],
        "rows": 4,
        "returned": 4,
        "units": {"weight": "lb", "height": "in"},
        "weight": [row["weight"] for row in SEED_ROWS],
        "height": [row["height"] for row in SEED_ROWS],
        "gender": [row["gender"] for row in SEED_ROWS],
    }
    two = client.get(rows, query_string={"limit": 2}).get_json()
    assert (two["rows"], two["returned"], two["weight"]) == (4, 2, [133.0, 152.0])
    metric = client.get(rows, query_string={"units": "metric", "limit": 1}).get_json()
    assert metric["units"] == {"weight": "kg", "height": "cm"}
    assert metric["weight"] == [133 * 0.45359237] and metric["height"] == [65 * 2.54]
    for limit in (0, 10_001):
        response = client.get(rows, query_string={"limit": limit})
        assert response.status_code == 422 and set(response.get_json()["errors"]) == {"limit"}
    assert client.get("/datasets/ds-nope/rows").status_code == 404

    columns = dataset_columns(*(everyone[name] for name in ("weight", "height")), [1, 0, 0, 1])
    with store.engine.connect() as connection:
        key = connection.execute(
            sa.select(datasets.c.object_key).where(datasets.c.id == info["id"])
        ).scalar_one()
    store.objects.delete(key)  # lost behind the service's back
    lost = client.get(rows)
    assert lost.status_code == 409
    assert "upload the same rows again" in lost.get_json()["errors"]["dataset_id"][0]
    for garbage in (b"not a .npy file", encode_columns(columns)[:-8]):  # (the last row cut short)
        store.objects.delete(key)
        store.objects.create(key, garbage)
        unreadable = client.get(rows)
        assert unreadable.status_code == 409
        assert "unreadable" in unreadable.get_json()["errors"]["dataset_id"][0]
