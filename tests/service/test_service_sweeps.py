"""POST /sweeps validates the grid and the search space against each hyperparameter's own
definition, naming the field and the rule, before anything is stored or sent."""

from __future__ import annotations

from flask.testing import FlaskClient

from .conftest import SEED_ROWS


def _sweep(client: FlaskClient, **body: object):
    dataset_id = client.post("/datasets", json={"rows": SEED_ROWS}).get_json()["id"]
    return client.post("/sweeps", json={"dataset_id": dataset_id, **body})


def test_a_low_below_the_hyperparameters_minimum_is_named_with_the_rule(
    client: FlaskClient,
) -> None:
    space = {"learning_rate": {"low": 0, "high": 1, "log": True}}
    response = _sweep(client, search={"trials": 3, "space": space})
    assert response.status_code == 422
    body = response.get_json()
    messages = body["errors"]["search"]["space"]["learning_rate"]["low"]
    assert "greater than 0" in messages[0]
    assert "search.space.learning_rate.low" in body["message"]


def test_grid_values_and_choices_follow_the_definitions(client: FlaskClient) -> None:
    grid = _sweep(client, grid={"learning_rate": [0.1, 11], "hidden_layers": [[2], [0]]})
    assert grid.status_code == 422
    errors = grid.get_json()["errors"]["grid"]
    assert "less than or equal to 10" in errors["learning_rate"]["1"][0]
    assert errors["hidden_layers"]["1"]["0"]
    choices = _sweep(client, search={"trials": 2, "space": {"loss": {"choices": ["hinge"]}}})
    assert choices.get_json()["errors"]["search"]["space"]["loss"]["choices"]["0"]
    ranged = _sweep(client, search={"trials": 2, "space": {"loss": {"low": 1, "high": 2}}})
    assert ranged.get_json()["errors"]["search"]["space"]["loss"]["low"]  # no range for a choice


def test_the_shared_seed_and_split_and_unknown_names_cannot_be_swept(client: FlaskClient) -> None:
    for name in ("seed", "validation_fraction", "colour"):
        response = _sweep(client, grid={name: [1]})
        assert response.status_code == 422
        assert name in response.get_json()["errors"]["grid"]


def test_a_sweep_is_a_grid_or_a_search_and_its_ranges_are_ordered(client: FlaskClient) -> None:
    neither = _sweep(client)
    assert set(neither.get_json()["errors"]) == {"grid", "search"}
    both = _sweep(client, grid={"epochs": [1]}, search={"trials": 1, "space": {"epochs": {}}})
    assert both.status_code == 422
    backwards = _sweep(client, search={"trials": 2, "space": {"epochs": {"low": 50, "high": 5}}})
    assert backwards.get_json()["errors"]["search"]["space"]["epochs"]["low"]
    metric = _sweep(client, grid={"epochs": [1]}, metric="accuracy")
    assert metric.get_json()["errors"]["metric"]


def test_an_unknown_sweep_is_404_and_the_api_documents_the_sweeps(client: FlaskClient) -> None:
    assert client.get("/sweeps/sw-nothing").status_code == 404
    assert client.get("/sweeps").get_json() == []
    paths = client.get("/openapi.json").get_json()["paths"]
    assert {"/sweeps", "/sweeps/{sweep_id}", "/sweeps/{sweep_id}/cancel"} <= set(paths)
