"""The promotion gate against the real stack: a degenerate model is kept out whatever the job
asked, "if_better" promotes a better model and keeps a worse one out, promote_alias moves that
alias and leaves latest alone."""

from __future__ import annotations

import uuid

from people_data import example_people_tsv  # tests/people_data.py

from .test_integration_jobs import train, upload_tsv

#: A few epochs on 10,000 people, holding out a fifth (validation accuracy about 0.8).
STRONG = {"epochs": 3, "validation_fraction": 0.2, "seed": 1}
#: The same start, far too small a step: better than a coin, worse than STRONG.
WEAK = {**STRONG, "epochs": 1, "learning_rate": 0.01}


def finished(stack, **body: object) -> dict:
    job = stack.wait_for_job(train(stack, **body), timeout=120)
    assert job["state"] == "succeeded", job
    return job


def test_a_degenerate_model_is_not_promoted_and_the_job_says_why(stack) -> None:
    dataset = upload_tsv(stack, "people-gate", example_people_tsv())
    before = stack.store.models.latest_id()
    job = finished(
        stack,
        dataset_id=dataset["id"],
        hyperparameters={"epochs": 1, "learning_rate": 1e-300, "seed": 1},
        promote=True,
    )
    assert job["metrics"]["train_accuracy"] <= 0.5
    assert job["promotion"]["promoted"] is False
    assert "majority class" in job["promotion"]["reason"]
    assert stack.store.models.latest_id() == before
    # By hand it still can be promoted; then the previous latest comes back.
    assert stack.post(f"/models/{job['model_id']}/promote").status_code == 200
    assert stack.store.models.latest_id() == job["model_id"]
    if before is not None:
        assert stack.post(f"/models/{before}/promote").status_code == 200


def test_if_better_promotes_a_better_model_and_keeps_a_worse_one_out(stack) -> None:
    dataset = upload_tsv(stack, "people-gate", example_people_tsv())
    alias = f"gate-{uuid.uuid4().hex[:8]}"
    latest = stack.store.models.latest_id()
    on_alias = {"dataset_id": dataset["id"], "promote_alias": alias}

    weak = finished(stack, **on_alias, hyperparameters=WEAK)
    assert weak["promotion"] == {"promoted": True, "alias": alias}, weak
    assert weak["promote_alias"] == alias
    assert stack.store.models.latest_id(alias) == weak["model_id"]
    assert stack.store.models.latest_id() == latest  # promote_alias leaves latest alone

    strong = finished(stack, **on_alias, hyperparameters=STRONG, promote="if_better")
    assert strong["promote"] == "if_better"
    weak_score = weak["metrics"]["validation_accuracy"]
    assert strong["metrics"]["validation_accuracy"] > weak_score > 0.5
    assert strong["promotion"] == {"promoted": True, "alias": alias}, strong
    assert stack.store.models.latest_id(alias) == strong["model_id"]

    worse = finished(stack, **on_alias, hyperparameters=WEAK, promote="if_better")
    assert worse["metrics"]["validation_accuracy"] == weak_score
    assert worse["promotion"]["promoted"] is False
    assert strong["model_id"] in worse["promotion"]["reason"]
    assert stack.store.models.latest_id(alias) == strong["model_id"]
    assert stack.store.models.latest_id() == latest


def test_promote_and_promote_alias_are_checked(stack) -> None:
    for body, field in (
        ({"promote": "sometimes"}, "promote"),
        ({"promote": 1}, "promote"),
        ({"promote_alias": "Champion"}, "promote_alias"),
        ({"promote_alias": "9lives"}, "promote_alias"),
    ):
        response = stack.post("/train", json={"dataset_id": "d-none", **body})
        assert response.status_code == 422, response.text
        assert field in response.json()["errors"], response.text
