"""Datasets over HTTP with the Flask test client: JSON rows, CSV/TSV files, ids from content."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient
from people_data import example_people_tsv, real_data_tsv  # tests/people_data.py

from model_store.tables import datasets

from .conftest import SEED_ROWS


def test_json_rows_then_the_same_rows_again(client: FlaskClient) -> None:
    first = client.post("/datasets", json={"name": "seed", "rows": SEED_ROWS})
    assert first.status_code == 201
    info = first.get_json()
    assert set(info) == {"id", "name", "rows", "counts", "created_at"}
    assert info["rows"] == 4 and info["counts"] == {"F": 2, "M": 2}
    assert first.headers["Location"] == f"/datasets/{info['id']}"
    again = client.post("/datasets", json={"name": "other name", "rows": SEED_ROWS})
    assert again.status_code == 200
    assert again.get_json()["id"] == info["id"]
    assert client.get(f"/datasets/{info['id']}").get_json() == {
        **info,
        "status": "ok",
        "error": None,
    }
    assert again.get_json() == {**info, "message": again.get_json()["message"]}
    assert [d["id"] for d in client.get("/datasets").get_json()] == [info["id"]]


def test_a_re_upload_says_the_dataset_exists_and_under_which_name(client: FlaskClient) -> None:
    info = client.post("/datasets", json={"name": "seed", "rows": SEED_ROWS}).get_json()

    renamed = client.post("/datasets", json={"name": "my people", "rows": SEED_ROWS}).get_json()
    same = client.post("/datasets", json={"name": "seed", "rows": SEED_ROWS}).get_json()

    assert renamed["name"] == same["name"] == "seed"
    assert renamed["message"] == (
        f"These rows are already stored as dataset {info['id']} named 'seed'; it keeps that name, "
        "'my people' was not applied (a dataset is named by its first upload)."
    )
    assert same["message"] == f"These rows are already stored as dataset {info['id']} named 'seed'."
    assert "message" not in client.get(f"/datasets/{info['id']}").get_json()


def test_a_lost_blob_is_reported_and_restored_by_uploading_the_rows_again(
    client: FlaskClient, store
) -> None:
    info = client.post("/datasets", json={"name": "seed", "rows": SEED_ROWS}).get_json()
    with store.engine.connect() as connection:
        key = connection.execute(
            sa.select(datasets.c.object_key).where(datasets.c.id == info["id"])
        ).scalar_one()
    store.objects.delete(key)  # lost behind the service's back
    lost = client.get(f"/datasets/{info['id']}").get_json()
    assert lost["status"] == "missing" and "upload the same rows again" in lost["error"]
    assert {field: lost[field] for field in info} == info
    again = client.post("/datasets", json={"name": "seed", "rows": SEED_ROWS})
    assert again.status_code == 200 and again.get_json()["id"] == info["id"]
    healed = client.get(f"/datasets/{info['id']}").get_json()
    assert (healed["status"], healed["error"]) == ("ok", None)
    assert store.datasets.load(info["id"]).y.tolist() == [1.0, 0.0, 0.0, 1.0]


def test_the_same_people_as_csv_get_the_same_id(client: FlaskClient) -> None:
    from_json = client.post("/datasets", json={"rows": SEED_ROWS}).get_json()
    csv = b"Gender,Weight,Height\nF,133,65\nM,160,72\nM,152,70\nF,120,60\n"
    response = client.post("/datasets?name=csv", data=csv, content_type="text/csv")
    assert response.status_code == 200
    assert response.get_json()["id"] == from_json["id"]


def test_metric_rows_are_stored_in_pounds_and_inches(client: FlaskClient, store) -> None:
    rows = [
        {"weight": 60, "height": 165.1, "gender": "female"},
        {"weight": 80, "height": 180.34, "gender": "MALE"},
    ]
    info = client.post("/datasets", json={"rows": rows, "units": "metric"}).get_json()
    dataset = store.datasets.load(info["id"])
    assert abs(dataset.X[0, 1] - 65.0) < 1e-9 and abs(dataset.X[1, 1] - 71.0) < 1e-9
    assert abs(dataset.X[0, 0] - 60 / 0.45359237) < 1e-9


def test_example_people_upload_as_they_are(client: FlaskClient) -> None:
    response = client.post(
        "/datasets?name=people-10k",
        data=example_people_tsv(),
        content_type="text/tab-separated-values",
    )
    assert response.status_code == 201
    info = response.get_json()
    assert info["name"] == "people-10k"
    assert info["rows"] == 10_000 and info["counts"] == {"F": 5_000, "M": 5_000}


def test_the_real_tsv_uploads_as_it_is(client: FlaskClient) -> None:
    response = client.post(
        "/datasets?name=weight-height",
        data=real_data_tsv(),
        content_type="text/tab-separated-values",
    )
    assert response.status_code == 201
    info = response.get_json()
    assert info["name"] == "weight-height"
    assert info["rows"] == 10_000 and info["counts"] == {"F": 5_000, "M": 5_000}
