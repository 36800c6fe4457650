"""Aliases on the real stack, with API keys set: set, split, moved and removed; a 90/10 split
over 2,000 predictions; routing keys; the history with the key names; /metrics by model and
alias; the CLI."""

from __future__ import annotations

import re
import statistics
import time

import pytest
import requests
from click.testing import CliRunner

from nnservice.cli import main
from service.model_cache import POLL_SECONDS

pytestmark = pytest.mark.timeout(300)

KEYS = {"alice": "secret-alice-1f9c", "bob": "secret-bob-77ad"}
PERSON = {"weight": 128, "height": 63}
SNAPSHOT = {
    "layer_sizes": [2, 2, 1],
    "activation": "sigmoid",
    "loss": "mse",
    "weights": [[[0.2, -0.4], [-0.3, 0.5]], [[1.5, -2.0]]],
    "biases": [[0.1, -0.2], [0.3]],
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
    "training": {},
}


@pytest.fixture(scope="module")
def keyed(stack_factory):
    """A stack whose writes need a key: alice's or bob's."""
    started = stack_factory(
        NNSERVICE_API_KEYS=",".join(f"{name}:{secret}" for name, secret in KEYS.items())
    )
    yield started
    started.close()


def by(name: str) -> dict:
    return {"Authorization": f"Bearer {KEYS[name]}"}


@pytest.fixture(scope="module")
def models(keyed) -> list[str]:
    """Three stored models, the first one promoted as latest."""
    ids = [keyed.store.models.save(SNAPSHOT)["id"] for _ in range(3)]
    assert keyed.post(f"/models/{ids[0]}/promote", headers=by("alice")).status_code == 200
    return ids


def put_alias(stack, name: str, body: dict, key: str = "alice") -> dict:
    response = stack.request("PUT", f"/aliases/{name}", json=body, headers=by(key))
    assert response.status_code == 200, response.text
    return response.json()


def predict(stack, **fields) -> dict:
    response = stack.post("/predict", json={**PERSON, **fields})
    assert response.status_code == 200, response.text
    return response.json()


def wait_served(stack, alias: str, expected: set[str], timeout: float = 10.0) -> None:
    """Wait until every API process serves `alias` from `expected` (changed before the call):
    at least one poll interval, ending with a streak of answers within `expected`."""
    settled_at = time.monotonic() + POLL_SECONDS
    deadline = time.monotonic() + timeout
    streak = 0
    while streak < 5 or time.monotonic() < settled_at:
        response = stack.post("/predict", json={**PERSON, "alias": alias})
        served = response.json().get("model_id") if response.status_code == 200 else None
        streak = streak + 1 if served in expected else 0
        assert time.monotonic() < deadline, f"{alias} still serves {served}, not {expected}"
        time.sleep(0.02)


def test_set_move_split_remove_and_the_history_names_the_keys(keyed, models) -> None:
    a, b, c = models
    anonymous = keyed.request("PUT", "/aliases/champion", json={"model_id": a})
    assert anonymous.status_code == 401
    assert put_alias(keyed, "champion", {"model_id": a})["model_id"] == a
    answer = predict(keyed, alias="champion")
    assert answer["model_id"] == a and answer["alias"] == "champion"
    assert predict(keyed)["alias"] == "latest" and predict(keyed, model_id=b)["alias"] is None

    put_alias(keyed, "champion", {"model_id": b}, key="bob")
    wait_served(keyed, "champion", {b})
    split = [{"model_id": b, "weight": 3}, {"model_id": c, "weight": 1}]
    assert put_alias(keyed, "champion", {"split": split})["split"] == split
    wait_served(keyed, "champion", {b, c})
    assert {item["name"] for item in keyed.get("/aliases").json()} == {"latest", "champion"}
    gone = keyed.delete("/aliases/champion", headers=by("bob"))
    assert gone.status_code == 204, gone.text
    assert keyed.get("/aliases/champion").status_code == 404
    wait_missing(keyed, "champion")

    history = keyed.get("/aliases/champion/history").json()
    assert [(h["model_id"], h["split"], h["removed"], h["changed_by"]) for h in history] == [
        (None, None, True, "bob"),
        (b, split, False, "alice"),
        (b, None, False, "bob"),
        (a, None, False, "alice"),
    ]
    seqs = [h["seq"] for h in history]
    assert seqs == sorted(seqs, reverse=True)
    latest = keyed.get("/aliases/latest/history").json()
    assert latest[-1]["model_id"] == a and latest[-1]["changed_by"] == "alice"


def wait_missing(stack, alias: str, timeout: float = 10.0) -> None:
    """Wait until /predict answers 404 naming `alias` (a removal reaches every process)."""
    settled_at = time.monotonic() + POLL_SECONDS
    deadline = time.monotonic() + timeout
    streak = 0
    while streak < 5 or time.monotonic() < settled_at:
        response = stack.post("/predict", json={**PERSON, "alias": alias})
        streak = streak + 1 if response.status_code == 404 else 0
        assert time.monotonic() < deadline, f"{alias} still answers {response.status_code}"
        time.sleep(0.02)
    assert "alias" in response.json()["errors"]


def test_refusals_name_the_field(keyed, models) -> None:
    a = models[0]
    both = keyed.post("/predict", json={**PERSON, "alias": "latest", "model_id": a})
    assert both.status_code == 422 and set(both.json()["errors"]) == {"alias", "model_id"}
    bad_name = keyed.request("PUT", "/aliases/Champion", json={"model_id": a}, headers=by("bob"))
    assert bad_name.status_code == 400 and "name" in bad_name.json()["errors"]
    assert "^[a-z]" in bad_name.json()["errors"]["name"][0]
    missing = keyed.request(
        "PUT",
        "/aliases/x",
        json={"split": [{"model_id": a, "weight": 1}, {"model_id": "m-nope", "weight": 1}]},
        headers=by("bob"),
    )
    assert missing.status_code == 404 and "m-nope" in missing.text
    zero = keyed.request(
        "PUT", "/aliases/x", json={"split": [{"model_id": a, "weight": 0}]}, headers=by("bob")
    )
    assert zero.status_code == 422 and "split" in zero.json()["errors"]
    assert keyed.delete("/aliases/latest", headers=by("bob")).status_code == 409
    unknown = keyed.post("/predict", json={**PERSON, "alias": "nobody"})
    assert unknown.status_code == 404 and "alias" in unknown.json()["errors"]


def test_a_90_10_split_and_routing_keys(keyed, models) -> None:
    _, b, c = models
    put_alias(
        keyed, "canary", {"split": [{"model_id": b, "weight": 90}, {"model_id": c, "weight": 10}]}
    )
    wait_served(keyed, "canary", {b, c})
    session = requests.Session()
    url = keyed.base_url + "/predict"
    n = 2000
    served = [
        session.post(url, json={**PERSON, "alias": "canary"}, timeout=10).json()["model_id"]
        for _ in range(n)
    ]
    assert set(served) == {b, c}
    held = keyed.delete(f"/models/{c}", headers=by("alice"))
    assert held.status_code == 409 and "canary" in held.json()["errors"]["aliases"], held.text
    z = statistics.NormalDist().inv_cdf(1 - 0.001 / 2)
    half_width = z * (n * 0.1 * 0.9) ** 0.5
    assert abs(served.count(c) - n * 0.1) <= half_width, served.count(c)

    for key in ("user-17", "user-4242", "ünïcode-key"):
        answers = {
            session.post(
                url, json={**PERSON, "alias": "canary", "routing_key": key}, timeout=10
            ).json()["model_id"]
            for _ in range(100)
        }
        assert len(answers) == 1, (key, answers)
    keyed_models = {
        session.post(
            url, json={**PERSON, "alias": "canary", "routing_key": f"u{i}"}, timeout=10
        ).json()["model_id"]
        for i in range(200)
    }
    assert keyed_models == {b, c}  # the keys are spread over the split, not pinned to one

    metrics = keyed.get("/metrics").text
    series = re.findall(
        r'nnservice_model_predictions_total\{alias="canary",model_id="([^"]+)"\} (\S+)', metrics
    )
    counted = {model_id: float(value) for model_id, value in series}
    assert counted[b] + counted[c] >= n and counted[c] > 0


def test_the_cli_sets_rolls_back_and_predicts_by_alias(keyed, models) -> None:
    a, b, _ = models
    runner = CliRunner()
    base = ["--url", keyed.base_url, "--api-key", KEYS["alice"]]

    def run(*args: str) -> str:
        result = runner.invoke(main, [*base, *args])
        assert result.exit_code == 0, result.output
        return result.output

    run("alias", "set", "stable", a)
    run("alias", "set", "stable", "--split", f"{a}=50,{b}=50")
    assert f"{a}=50,{b}=50" in run("alias", "get", "stable")
    assert "stable" in run("alias", "list")
    assert "alice" in run("alias", "history", "stable")
    run("alias", "rollback", "stable")
    assert keyed.get("/aliases/stable").json()["model_id"] == a
    assert keyed.get("/aliases/stable").json()["split"] is None
    wait_served(keyed, "stable", {a})
    assert a in run("predict", "--alias", "stable", "--weight", "128", "--height", "63")
    run("alias", "rm", "stable")
    assert keyed.get("/aliases/stable").status_code == 404
