"""Access control over real HTTP (issue 4, item 9), on private `nnservice api` processes.

tests/service checks the key rule with Flask's test client; here the real server runs with
NNSERVICE_API_KEYS set: the state-changing endpoints (upload, train, cancel, import, promote
and the deletes) need a key (401 with WWW-Authenticate
otherwise, near-miss keys included), a valid key lets each through, reads and /predict stay open
by default, and the log, at DEBUG, never contains a key, right or wrong. With
NNSERVICE_PUBLIC_READS=false, every operation that the OpenAPI document marks with a 401 refuses
a request without a key, and the others (health probes, the document itself) stay open. Without
keys the API warns at start that it is open.
"""

from __future__ import annotations

import re

import pytest
import requests

from .conftest import EMILY, SEED_ROWS, SNAPSHOT

pytestmark = pytest.mark.timeout(120)

KEYS = ("k3y-alpha-7f1c9e2b", "k3y-beta-04d8a6c3")
NEAR_MISSES = [
    KEYS[0] + "x",  # longer
    KEYS[0][:-1],  # a prefix
    KEYS[0].upper(),
    f"{KEYS[0]},{KEYS[1]}",  # the variable's value itself
]
#: Authorization headers that must not pass: near misses, other schemes, no scheme, no key.
REFUSED = [
    *(f"Bearer {wrong}" for wrong in NEAR_MISSES),
    f"Basic {KEYS[0]}",
    f"Token {KEYS[0]}",
    KEYS[0],
    "Bearer",
    "Bearer ",
]


def _needs_a_key(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "API key" in response.text  # v2 and MLflow routes have error bodies of their own


def test_writes_need_a_key_reads_do_not_and_no_key_is_ever_logged(stack, api_process) -> None:
    api = api_process(
        "api-keys.log", NNSERVICE_API_KEYS=",".join(KEYS), NNSERVICE_LOG_LEVEL="DEBUG"
    )
    keyed = {"Authorization": f"Bearer {KEYS[1]}"}
    job_id = "0" * 32
    writes = [
        ("POST", "/datasets", {"rows": SEED_ROWS}),
        ("POST", "/train", {"rows": SEED_ROWS, "hyperparameters": {"epochs": 5}, "promote": False}),
        ("DELETE", f"/jobs/{job_id}", None),
        ("POST", "/models", SNAPSHOT),
        ("POST", "/models/m-placeholder/promote", None),
        ("POST", f"/jobs/{job_id}/cancel", None),
        ("DELETE", f"/jobs/{job_id}?purge=true", None),
        ("DELETE", "/models/m-placeholder", None),
        ("DELETE", "/datasets/ds-placeholder", None),
    ]
    for method, path, body in writes:
        _needs_a_key(requests.request(method, api.url(path), json=body, timeout=30))
        for header in REFUSED:
            headers = {"Authorization": header}
            _needs_a_key(requests.request(method, api.url(path), json=body, headers=headers))

    created = requests.post(api.url("/models"), json=SNAPSHOT, headers=keyed, timeout=30)
    assert created.status_code == 201
    model_id = created.json()["id"]
    promoted = requests.post(api.url(f"/models/{model_id}/promote"), headers=keyed, timeout=30)
    assert promoted.status_code == 200
    uploaded = requests.post(api.url("/datasets"), json=writes[0][2], headers=keyed, timeout=30)
    assert uploaded.status_code in (200, 201)
    accepted = requests.post(api.url("/train"), json=writes[1][2], headers=keyed, timeout=30)
    assert accepted.status_code == 202, accepted.text
    cancelled = requests.delete(api.url(accepted.headers["Location"]), headers=keyed, timeout=30)
    assert cancelled.status_code in (200, 202, 409)
    job_url = api.url(accepted.headers["Location"])
    again = requests.post(f"{job_url}/cancel", headers=keyed, timeout=30)
    assert again.status_code in (200, 202, 409)
    dataset_url = api.url(uploaded.headers["Location"])
    assert requests.delete(dataset_url, headers=keyed, timeout=30).status_code in (204, 409)
    purged = requests.delete(job_url, params={"purge": "true"}, headers=keyed, timeout=30)
    assert purged.status_code in (204, 409)
    lowercase = {"Authorization": f"bearer {KEYS[0]}"}  # the scheme is case-insensitive
    imported = requests.post(api.url("/models"), json=SNAPSHOT, headers=lowercase)
    assert imported.status_code == 201
    doomed = api.url(f"/models/{imported.json()['id']}")
    assert requests.delete(doomed, headers=keyed, timeout=30).status_code == 204
    refused = requests.delete(api.url(f"/models/{model_id}"), headers=keyed, timeout=30)
    assert refused.status_code == 409 and refused.json()["errors"] == {"aliases": ["latest"]}

    for path in ("/models", "/datasets", "/jobs", f"/models/{model_id}", "/models/latest"):
        assert requests.get(api.url(path), timeout=30).status_code == 200, path
    assert requests.post(api.url("/predict"), json=EMILY, timeout=30).status_code == 200

    log = api.log_text()
    assert "/models" in log  # the access log is there, and it is where a key would leak
    for secret in (*KEYS, *NEAR_MISSES):
        assert secret not in log and secret.lower() not in log.lower(), "a key was logged"
    assert "NNSERVICE_API_KEYS is not set" not in log
    assert "NNSERVICE_API_KEYS is not set" in (stack.root / "api.log").read_text()


def _sample_path(path: str) -> str:
    """An OpenAPI path with its parameters filled in (ids that exist nowhere)."""
    return re.sub(r"\{[^}]+\}", "x-unknown-id", path)


def test_closed_reads_protect_every_documented_operation(stack, api_process) -> None:
    api = api_process(
        "api-closed.log", NNSERVICE_API_KEYS=",".join(KEYS), NNSERVICE_PUBLIC_READS="false"
    )
    document = requests.get(api.url("/openapi.json"), timeout=30)
    assert document.status_code == 200  # the document itself stays open
    keyed = {"Authorization": f"Bearer {KEYS[0]}"}
    protected, open_ = [], []
    for path, operations in document.json()["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            url = api.url(_sample_path(path))
            body = EMILY if method == "post" else None
            if method not in ("get", "head") and path != "/predict":
                continue  # writes: the other test
            # Streamed: an event stream (GET /events) answers its status, then never ends.
            anonymous = requests.request(method, url, json=body, timeout=30, stream=True)
            if "401" in operation["responses"]:
                protected.append(path)
                _needs_a_key(anonymous)
                with requests.request(
                    method, url, json=body, headers=keyed, timeout=30, stream=True
                ) as with_key:
                    assert with_key.status_code != 401, (method, path)
            else:
                open_.append(path)
                assert anonymous.status_code != 401, (method, path)
            anonymous.close()
    assert {"/predict", "/models", "/datasets", "/jobs", "/models/latest", "/events"} <= set(
        protected
    )
    assert {"/healthz", "/readyz"} <= set(open_)
