"""POST /predict against snapshots written into the store, as a worker would write them."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from stores import snapshot_object_path

from model_store import ModelStore
from service import create_app

EMILY = {"weight": 128, "height": 63}
FRANK = {"weight": 155, "height": 68}


def predict_when(
    client: FlaskClient, accept: Callable[[dict], bool], timeout: float = 5.0, **person: float
) -> dict:
    """POST /predict until `accept(body)` (a promotion elsewhere takes up to one poll)."""
    deadline = time.monotonic() + timeout
    while True:
        body = predict(client, **person)
        if accept(body) or time.monotonic() > deadline:
            assert accept(body), body
            return body
        time.sleep(0.05)


def predict(client: FlaskClient, **body: object) -> dict:
    response = client.post("/predict", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_409_before_any_model(client: FlaskClient) -> None:
    response = client.post("/predict", json=EMILY)
    assert response.status_code == 409
    assert "model_id" in response.get_json()["errors"]


def test_single_and_batch(client: FlaskClient, saved_model) -> None:
    model_id = saved_model()
    single = predict(client, **EMILY)
    assert single["model_id"] == model_id
    (emily,) = single["predictions"]
    assert emily["gender"] == "F"
    assert emily["probability_female"] == pytest.approx(0.9526, abs=1e-4)
    batch = predict(client, instances=[EMILY, FRANK])
    assert [p["gender"] for p in batch["predictions"]] == ["F", "M"]
    assert batch["predictions"][1]["probability_female"] == pytest.approx(0.0474, abs=1e-4)


def test_metric_input_is_converted(client: FlaskClient, saved_model) -> None:
    saved_model()
    imperial = predict(client, **EMILY)["predictions"][0]["probability_female"]
    metric = predict(client, weight=128 * 0.45359237, height=63 * 2.54, units="metric")
    assert metric["predictions"][0]["probability_female"] == pytest.approx(imperial)


def test_a_newly_promoted_model_is_used_without_restart(
    client: FlaskClient, store: ModelStore, saved_model
) -> None:
    """Promotions made by another process (here: another handle on the store) are seen within
    the cache's poll interval (POLL_SECONDS)."""
    first = saved_model()
    assert predict(client, **EMILY)["predictions"][0]["gender"] == "F"
    second = saved_model(flip=True)
    answer = predict_when(client, lambda body: body["model_id"] == second, **EMILY)
    assert answer["predictions"][0]["gender"] == "M"
    store.models.promote(first)
    assert predict_when(client, lambda body: body["model_id"] == first, **EMILY)


def test_a_pinned_model_by_id(client: FlaskClient, saved_model) -> None:
    flipped = saved_model(flip=True, promote=False)
    latest = saved_model()
    pinned = predict(client, model_id=flipped, **EMILY)
    assert pinned["model_id"] == flipped
    assert pinned["predictions"][0]["gender"] == "M"
    assert predict(client, **EMILY)["model_id"] == latest
    missing = client.post("/predict", json={"model_id": "m-nope", **EMILY})
    assert missing.status_code == 404
    assert list(missing.get_json()["errors"]) == ["model_id"]


def test_a_corrupt_latest_keeps_the_last_good_model_serving(
    client: FlaskClient, store: ModelStore, saved_model
) -> None:
    good = saved_model()
    assert predict(client, **EMILY)["model_id"] == good
    bad = saved_model(flip=True)
    path = snapshot_object_path(store, bad)
    path.write_bytes(path.read_bytes()[:-20])  # truncated after it was promoted

    def damage_found(body: dict) -> bool:
        """The cache's next poll found the new promotion, failed to load it (which records the
        damage in the store) and answered with the last good model."""
        return body["model_id"] == good and store.models.get(bad).status == "corrupt"

    predict_when(client, damage_found, **EMILY)
    assert predict(client, **EMILY)["model_id"] == good
    response = client.post("/predict", json={"model_id": bad, **EMILY})
    assert response.status_code == 409
    assert bad in response.get_json()["message"]
    listing = {m["id"]: m for m in client.get("/models").get_json()}
    assert listing[bad]["status"] == "corrupt"


def test_a_fresh_process_with_a_corrupt_latest_serves_the_last_good_promoted_model(
    app: Flask, store: ModelStore, saved_model
) -> None:
    """No model in memory yet (a restart): fall back through the promotion history."""
    older = saved_model()
    good = saved_model(flip=True)
    saved_model(promote=False)  # never promoted: never a fallback
    bad = saved_model()
    snapshot_object_path(store, bad).write_text("not json")
    assert store.models.promoted_ids() == [bad, good, older]
    assert predict(app.test_client(), **EMILY)["model_id"] == good  # this app served nothing yet

    snapshot_object_path(store, good).write_text("{}")
    restarted = create_app(app.config["NNSERVICE_SETTINGS"])  # another cold process
    assert predict(restarted.test_client(), **EMILY)["model_id"] == older


def test_ten_thousand_rows_match_the_network(
    client: FlaskClient, store: ModelStore, saved_model
) -> None:
    model_id = saved_model()
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(90, 250, 10_000), rng.uniform(55, 80, 10_000)])
    instances = [{"weight": w, "height": h} for w, h in X.tolist()]
    answer = predict(client, instances=instances)
    got = np.array([p["probability_female"] for p in answer["predictions"]])
    np.testing.assert_allclose(got, store.models.load(model_id).predict_proba(X))
    genders = np.array([p["gender"] for p in answer["predictions"]])
    np.testing.assert_array_equal(genders == "F", got >= 0.5)
