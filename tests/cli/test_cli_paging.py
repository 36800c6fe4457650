"""`nnservice jobs | models | datasets` page through the listings of the real stack.

The hidden `--page-size` makes each request small, so a few items cross several pages.
The stack is shared by the session, so every check compares with what the API itself lists.
"""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from nnservice.cli import main
from nnservice.client import Client

PAGE = 3
#: Items each test makes: more than two pages of PAGE.
ITEMS = 8
SNAPSHOT = {
    "layer_sizes": [2, 2, 1],
    "activation": "sigmoid",
    "loss": "mse",
    "weights": [[[1.0, -1.0], [-1.0, 1.0]], [[3.0, -3.0]]],
    "biases": [[0.0, 0.0], [0.0]],
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
}


def listed(stack, *args: str) -> list[dict]:
    """`nnservice ARGS --json` against the stack: the listed items."""
    result = CliRunner().invoke(main, [*args, "--json"], env={"NNSERVICE_URL": stack.base_url})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def ids(items: list[dict]) -> list[str]:
    return [item["id"] for item in items]


def every(stack, path: str, **params: str) -> list[dict]:
    """Every item of a listing, straight from the API (pages of the server's maximum)."""
    items, token = [], None
    while True:
        query = {**params, "limit": 1000, **({"page_token": token} if token else {})}
        response = stack.get(path, params=query)
        assert response.status_code == 200, response.text
        items += response.json()
        token = response.headers.get("X-Next-Page-Token")
        if token is None:
            return items


def new_dataset(stack) -> str:
    """A dataset of two people, distinct from every other (its id comes from its rows)."""
    weight = 100 + uuid.uuid4().int % 10**6 / 1000
    rows = [
        {"weight": weight, "height": 63, "gender": "F"},
        {"weight": 180, "height": 70, "gender": "M"},
    ]
    response = stack.post("/datasets", json={"name": f"paging {weight}", "rows": rows})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def cancelled_jobs(stack, dataset_id: str, count: int) -> list[str]:
    """`count` jobs on the dataset, made in the store and cancelled through the API before any
    worker sees them; their ids, newest first."""
    made = []
    for _ in range(count):
        job_id = f"page-{uuid.uuid4().hex[:12]}"
        stack.store.jobs.create({"id": job_id, "dataset_id": dataset_id})
        assert stack.delete(f"/jobs/{job_id}").status_code == 200
        made.append(job_id)
    return made[::-1]


@pytest.fixture(scope="module")
def paged_jobs(_session_stack) -> tuple[str, list[str]]:
    """(dataset id, its ITEMS cancelled jobs newest first)."""
    _session_stack.ensure_running()
    dataset_id = new_dataset(_session_stack)
    return dataset_id, cancelled_jobs(_session_stack, dataset_id, ITEMS)


def test_limit_above_a_page_crosses_pages_without_gaps_or_repeats(stack, paged_jobs) -> None:
    dataset_id, made = paged_jobs
    for limit in (PAGE, PAGE + 1, 2 * PAGE + 1, ITEMS, ITEMS + 5):
        found = listed(
            stack, "jobs", "--dataset", dataset_id, "--limit", str(limit), "--page-size", str(PAGE)
        )
        assert ids(found) == made[:limit]


def test_the_default_limit_is_one_server_page(stack, paged_jobs) -> None:
    total = len(every(stack, "/jobs"))
    found = listed(stack, "jobs", "--page-size", str(PAGE))
    assert len(found) == min(total, 100)
    assert ids(found) == ids(every(stack, "/jobs"))[:100]


def test_all_lists_every_page(stack, paged_jobs) -> None:
    dataset_id, made = paged_jobs
    found = listed(stack, "jobs", "--dataset", dataset_id, "--all", "--page-size", str(PAGE))
    assert ids(found) == made
    everything = listed(stack, "jobs", "--all", "--page-size", "7")
    assert ids(everything) == ids(every(stack, "/jobs"))
    assert len(set(ids(everything))) == len(everything)


def test_the_state_filter_is_passed_on(stack, paged_jobs) -> None:
    dataset_id, made = paged_jobs
    options = ("--dataset", dataset_id, "--all", "--page-size", str(PAGE))
    assert ids(listed(stack, "jobs", "--state", "cancelled", *options)) == made
    assert listed(stack, "jobs", "--state", "succeeded", *options) == []
    cancelled = listed(stack, "jobs", "--state", "cancelled", "--limit", "5", "--page-size", "2")
    assert ids(cancelled) == ids(every(stack, "/jobs", state="cancelled"))[:5]


def test_models_page_and_filter_by_dataset(stack) -> None:
    dataset_id = new_dataset(stack)
    made = []
    for _ in range(ITEMS):
        body = {**SNAPSHOT, "training": {"dataset_id": dataset_id}}
        response = stack.post("/models", json=body)
        assert response.status_code == 201, response.text
        made.insert(0, response.json()["id"])

    options = ("--dataset", dataset_id, "--page-size", str(PAGE))
    assert ids(listed(stack, "models", *options, "--limit", str(2 * PAGE + 1))) == made[:7]
    assert ids(listed(stack, "models", *options, "--all")) == made
    everything = listed(stack, "models", "--all", "--page-size", str(PAGE))
    assert ids(everything) == ids(every(stack, "/models"))


def test_datasets_page(stack) -> None:
    made = [new_dataset(stack) for _ in range(ITEMS)][::-1]
    options = ("--page-size", str(PAGE))
    assert ids(listed(stack, "datasets", *options, "--limit", str(ITEMS))) == made
    everything = listed(stack, "datasets", *options, "--all")
    assert ids(everything) == ids(every(stack, "/datasets"))
    assert len(set(ids(everything))) == len(everything) >= ITEMS


def test_limit_and_all_together_is_a_usage_error(stack) -> None:
    result = CliRunner().invoke(
        main, ["datasets", "--limit", "3", "--all"], env={"NNSERVICE_URL": stack.base_url}
    )
    assert result.exit_code == 2
    assert "--limit or --all" in result.output


def test_the_client_follows_the_link_header_too(stack, paged_jobs) -> None:
    """A server that sends only `Link` (no X-Next-Page-Token) is followed all the same."""
    dataset_id, made = paged_jobs
    with Client(stack.base_url) as client:
        client.session.hooks["response"].append(drop_token_header)
        assert ids(client.list_jobs(None, dataset_id=dataset_id, page_size=PAGE)) == made
        assert ids(client.list_jobs(5, dataset_id=dataset_id, page_size=2)) == made[:5]


def drop_token_header(response, *args, **kwargs):
    """A requests response hook: forget X-Next-Page-Token, keeping Link."""
    response.headers.pop("X-Next-Page-Token", None)
    return response


@pytest.mark.parametrize("page_size", [0, 1001])
def test_the_page_size_is_checked(page_size: int) -> None:
    with Client("http://127.0.0.1:9") as client, pytest.raises(ValueError, match="page_size"):
        client.list_datasets(page_size=page_size)
