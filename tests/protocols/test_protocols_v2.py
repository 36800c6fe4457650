"""The Open Inference Protocol (KServe v2) against the real stack, with the request shapes of the
protocol's documentation (kserve/open-inference-protocol, specification/protocol/inference_rest.md).
"""

from __future__ import annotations

import pytest
from stores import migrated, snapshot_object_path

from foundation.limits import DEFAULT_MAX_PREDICT_ROWS
from foundation.settings import Settings
from model_store import ModelStore
from service import create_app

from .conftest import EMILY, FRANK, SNAPSHOT, probability_female

EXPECTED = [probability_female(*EMILY), probability_female(*FRANK)]

# The specification's inference request example:
#   POST /v2/models/mymodel/infer
#   {"id" : "42",
#    "inputs" : [{"name" : "input0", "shape" : [ 2, 2 ], "datatype" : "UINT32",
#                 "data" : [ 1, 2, 3, 4 ]},
#                {"name" : "input1", "shape" : [ 3 ], "datatype" : "BOOL", "data" : [ true ]}],
#    "outputs" : [{"name" : "output0"}]}
# and its answer: {"id" : "42", "outputs" : [{"name" : "output0", "shape" : [ 3, 2 ],
#                  "datatype"  : "FP32", "data" : [ 1.0, 1.1, 2.0, 2.1, 3.0, 3.1 ]}]}
# This model has one input, "features", of shape [n, 2]; "data" may be flat or nested
# ("[ [ 1, 2 ], [ 4, 5 ] ]").
FLAT = {
    "id": "42",
    "inputs": [{"name": "features", "shape": [2, 2], "datatype": "UINT32", "data": EMILY + FRANK}],
    "outputs": [{"name": "probability_female"}],
}
NESTED = {
    "inputs": [{"name": "features", "shape": [2, 2], "datatype": "FP32", "data": [EMILY, FRANK]}]
}
#: The stack's row cap (NNSERVICE_MAX_PREDICT_ROWS left at its default), and the answer past it.
MAX_ROWS = DEFAULT_MAX_PREDICT_ROWS
TOO_MANY = f"At most {MAX_ROWS} rows per request; got {MAX_ROWS + 1}."
#: One row too many, as the shape says and the data holds.
TOO_MANY_ROWS = {
    "inputs": [
        {
            "name": "features",
            "shape": [MAX_ROWS + 1, 2],
            "datatype": "FP64",
            "data": EMILY * (MAX_ROWS + 1),
        }
    ]
}


# A wrong type anywhere in the body: a 400 naming the field, never a 500.
WRONG_TYPES = [
    ({**FLAT, "outputs": [{"name": {}}]}, "unknown outputs"),
    ({**FLAT, "outputs": [[]]}, '"outputs" must be a list'),
    (
        {**FLAT, "outputs": [{"name": "gender", "parameters": {"binary_data": "yes"}}]},
        "binary_data",
    ),
    ({"inputs": [{**FLAT["inputs"][0], "datatype": {}}]}, "datatype must be numeric"),
    ({"inputs": [{**FLAT["inputs"][0], "datatype": ["FP64"]}]}, "datatype must be numeric"),
    ({"inputs": [{**FLAT["inputs"][0], "name": {}}]}, "unknown input"),
    ({"inputs": [{**FLAT["inputs"][0], "parameters": []}]}, '"parameters" must be an object'),
    ({**FLAT, "parameters": {"binary_data_output": 1}}, "binary_data_output"),
    ({**FLAT, "id": 42}, '"id" must be a string'),
    ([], "must be a JSON object"),
]


def test_health_and_server_metadata(stack, latest_model_id: str) -> None:
    assert stack.get("/v2/health/live").json() == {"live": True}
    ready = stack.get("/v2/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"ready": True})
    metadata = stack.get("/v2").json()
    assert metadata["name"] == "nnservice"
    assert metadata["extensions"] == ["binary_tensor_data"]
    assert metadata["version"]


def test_model_metadata_and_readiness(stack, latest_model_id: str) -> None:
    metadata = stack.get("/v2/models/nnservice").json()
    assert metadata["name"] == "nnservice"
    assert metadata["inputs"] == [{"name": "features", "datatype": "FP64", "shape": [-1, 2]}]
    assert {output["name"]: output["shape"] for output in metadata["outputs"]} == {
        "probability_female": [-1, 1],
        "gender": [-1, 1],
    }
    assert latest_model_id in metadata["versions"]
    version = f"/v2/models/nnservice/versions/{latest_model_id}"
    assert stack.get(version).json()["inputs"] == metadata["inputs"]
    for path in ("/v2/models/nnservice/ready", f"{version}/ready"):
        answer = stack.get(path)
        assert (answer.status_code, answer.json()) == (200, {"name": "nnservice", "ready": True})


def test_infer_with_the_documented_request(stack, latest_model_id: str) -> None:
    response = stack.post("/v2/models/nnservice/infer", json=FLAT)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["id"] == "42"
    assert (answer["model_name"], answer["model_version"]) == ("nnservice", latest_model_id)
    (output,) = answer["outputs"]
    assert (output["name"], output["shape"], output["datatype"]) == (
        "probability_female",
        [2, 1],
        "FP64",
    )
    assert output["data"] == pytest.approx(EXPECTED, abs=1e-12)


def test_infer_a_version_with_nested_data_and_both_outputs(stack, model_id: str) -> None:
    path = f"/v2/models/nnservice/versions/{model_id}/infer"
    response = stack.post(path, json=NESTED, headers={"X-Request-ID": "v2-test-7"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model_version"] == model_id
    assert answer["id"] == "v2-test-7"  # no "id" in the request: the request id stands in
    outputs = {output["name"]: output for output in answer["outputs"]}
    assert outputs["probability_female"]["data"] == pytest.approx(EXPECTED, abs=1e-12)
    assert outputs["gender"] == {"name": "gender", "shape": [2, 1], "datatype": "BYTES",
                                 "data": ["F" if p >= 0.5 else "M" for p in EXPECTED]}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/v2/models/mymodel/infer", FLAT, 404, "no model named 'mymodel'"),
        ("/v2/models/nnservice/versions/m-nope/infer", FLAT, 404, "no version"),
        (
            "/v2/models/nnservice/infer",
            {"inputs": [{"name": "features", "shape": [2], "datatype": "FP64", "data": [1, 2]}]},
            400,
            "shape must be [n, 2]",
        ),
        (
            "/v2/models/nnservice/infer",
            {"inputs": [{"name": "features", "shape": [1, 2], "datatype": "BOOL", "data": [1, 1]}]},
            400,
            "datatype",
        ),
        (
            "/v2/models/nnservice/infer",
            {"inputs": [{**NESTED["inputs"][0], "shape": [1, 2], "data": [128, 6300]}]},
            400,
            "row 0, height",
        ),
        (
            "/v2/models/nnservice/infer",
            {"inputs": [{**NESTED["inputs"][0], "name": "x"}]},
            400,
            "unknown input 'x': this model has one input, 'features'",
        ),
        ("/v2/models/nnservice/config/nope", FLAT, 404, "no such endpoint"),
        ("/v2/repository/models/nnservice/load", {}, 404, "no such endpoint"),
        ("/v2/models/nnservice/infer", {**FLAT, "outputs": [{"name": "output0"}]}, 400, "output0"),
        ("/v2/models/nnservice/infer", TOO_MANY_ROWS, 400, TOO_MANY),
        # the shape alone is enough: the rows are counted before the data is read
        (
            "/v2/models/nnservice/infer",
            {"inputs": [{**TOO_MANY_ROWS["inputs"][0], "data": EMILY}]},
            400,
            TOO_MANY,
        ),
        *[("/v2/models/nnservice/infer", body, 400, words) for body, words in WRONG_TYPES],
    ],
)
def test_errors_in_v2_shape(stack, latest_model_id, path, body, status, words) -> None:
    response = stack.post(path, json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert list(error) == ["error"]
    assert words in error["error"]


def test_not_ready_before_any_model(stack, tmp_path) -> None:
    client = create_app(
        migrated(Settings(store_path=tmp_path, redis_url=stack.redis_url))
    ).test_client()
    assert client.get("/v2/health/live").status_code == 200
    ready = client.get("/v2/health/ready")
    assert (ready.status_code, ready.get_json()) == (400, {"ready": False})
    model_ready = client.get("/v2/models/nnservice/ready")
    assert model_ready.get_json() == {"name": "nnservice", "ready": False}
    assert client.get("/v2/models/nnservice").get_json()["versions"] == []
    infer = client.post("/v2/models/nnservice/infer", json=NESTED)
    assert infer.status_code == 409 and "POST /train" in infer.get_json()["error"]


def test_a_version_is_checked_by_its_store_record(stack, tmp_path) -> None:
    """Metadata, config and statistics of a version look its id up without loading it: 404 for
    an unknown id, and the inference's 409 once its snapshot has been found corrupt."""
    settings = migrated(Settings(store_path=tmp_path, redis_url=stack.redis_url))
    client = create_app(settings).test_client()
    store = ModelStore.from_settings(settings)
    model_id = store.models.save(SNAPSHOT)["id"]
    version = f"/v2/models/nnservice/versions/{model_id}"
    unknown = {"error": "no version 'm-nope' of model 'nnservice'"}
    for suffix in ("", "/config", "/stats"):
        assert client.get(f"{version}{suffix}").status_code == 200
        answer = client.get(f"/v2/models/nnservice/versions/m-nope{suffix}")
        assert (answer.status_code, answer.get_json()) == (404, unknown)
    snapshot_object_path(store, model_id).write_text("not json")
    infer = client.post(f"{version}/infer", json=NESTED)
    assert infer.status_code == 409 and model_id in infer.get_json()["error"]
    for suffix in ("", "/config", "/stats"):
        answer = client.get(f"{version}{suffix}")
        assert (answer.status_code, answer.get_json()) == (409, infer.get_json())
    store.close()
