"""Input that parsers usually let through: a JSON object with a key twice is a 400 naming the
key, wherever a JSON body is read; a CSV/TSV cell is a plain decimal, or a 422 naming the line
and the column."""

from __future__ import annotations

import marshmallow as ma
import pytest

from service.api import loads_json
from service.schemas.predict import PredictRequestSchema

DUPLICATE = b'{"weight": 128, "height": 63, "weight": 400}'
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", DUPLICATE),
        ("/predict", b'{"instances": [{"weight": 128, "height": 63, "height": 70}]}'),
        ("/predict", b'{"instances": [[128, 63]], "instances": [[400, 63]]}'),
        ("/train", b'{"dataset_id": "ds-1", "dataset_id": "ds-2"}'),
        ("/datasets", b'{"name": "a", "rows": [], "name": "b"}'),
        ("/models", b'{"layer_sizes": [2, 1], "layer_sizes": [2, 2, 1]}'),
    ],
)
def test_a_duplicate_key_is_a_400_naming_it(client, saved_model, path: str, body: bytes) -> None:
    saved_model()
    answer = client.post(path, data=body, headers=JSON)
    assert answer.status_code == 400, answer.get_json()
    error = answer.get_json()
    key = next(iter(error["errors"]))
    assert key in ("weight", "height", "instances", "dataset_id", "name", "layer_sizes")
    assert f"Duplicate key {key!r}" in error["errors"][key][0]
    assert repr(key) in error["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/invocations", b'{"instances": [{"weight": 128, "height": 63, "weight": 400}]}'),
        (
            "/v2/models/nnservice/infer",
            b'{"inputs": [{"name": "features", "shape": [1, 2], "datatype": "FP64", '
            b'"data": [128, 63], "data": [400, 63]}]}',
        ),
    ],
)
def test_protocols_refuse_duplicate_keys_too(client, saved_model, path: str, body: bytes) -> None:
    saved_model()
    answer = client.post(path, data=body, headers=JSON)
    assert answer.status_code == 400
    assert "duplicate key" in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    "body",
    [
        b'{"weight": 128, "height": 63}',
        b'{"instances": [[128, 63], [155, 68]]}',
        b'{"instances": [[128, 63]], "instances": [[400, 63]]}',
        b'{"a": "x:y", "a": 1}',
        b'{"a": 1, "b": "\\u003a", "a": 2}',
        b'[{"a": 1, "a": 2}]',
        b'{"a": {"b": 1, "b": 2}}',
        b'{"weight": NaN, "height": 63}',
        b'{"weight": "\\ud800", "height": 63}',
        b'{"weight": 1e400, "height": 63}',
        b'\xef\xbb\xbf{"weight": 128}',
        '{"weight": 128}'.encode("utf-16"),
        b'{"weight": 128',
        b"{}",
        b'"a:b"',
    ],
)
def test_the_fast_parse_of_predict_bodies_answers_as_the_strict_one(body: bytes) -> None:
    """/predict's bodies are parsed by orjson when no key can repeat: the same value, or the
    same error, as the standard library's strict parse."""

    def outcome(**options: bool) -> str:
        try:
            return repr(loads_json(body, **options))
        except ValueError as error:
            return f"{type(error).__name__}: {error}"

    assert outcome(numbers_alike=True) == outcome()


def test_the_same_key_in_different_objects_is_fine(client, saved_model) -> None:
    saved_model()
    body = b'{"instances": [{"weight": 128, "height": 63}, {"weight": 155, "height": 68}]}'
    assert client.post("/predict", data=body, headers=JSON).status_code == 200


@pytest.mark.parametrize("cell", ["1_50", "0x10", "inf", "-inf", "nan", "1e", "", "١٥٠"])
def test_a_csv_number_that_is_not_a_plain_decimal_is_a_422(client, cell: str) -> None:
    table = f"weight,height,gender\n133,65,F\n{cell},72,M\n152,70,M\n".encode()
    answer = client.post("/datasets", data=table, headers={"Content-Type": "text/csv"})
    assert answer.status_code == 422, answer.get_json()
    assert "weight" in answer.get_json()["errors"]["file"]["line 3"]


@pytest.mark.parametrize("cell", ["150", "150.", "+150.5", ".5e3", "1.5E2"])
def test_plain_decimals_are_read(client, cell: str) -> None:
    table = f"weight\theight\tgender\n133\t65\tF\n{cell}\t72\tM\n".encode()
    answer = client.post(
        "/datasets", data=table, headers={"Content-Type": "text/tab-separated-values"}
    )
    assert answer.status_code in (200, 201), answer.get_json()


@pytest.mark.parametrize(
    "body",
    [
        {"weight": 128, "height": 63},
        {"weight": 128.5, "height": 0},
        {"weight": "128", "height": 63},
        {"weight": True, "height": 63},
        {"weight": None, "height": 63},
        {"instances": [[128, 63], [155, 68]]},
        {"instances": [{"weight": 128, "height": 63}, [155]]},
        {"instances": "rows"},
        {"instances": None},
        {"inputs": {"weight": [128], "height": [63, 70]}},
        {"inputs": {"weight": [128], "height": [63]}},
        {"weight": 128, "height": 63, "units": "metric"},
        {"weight": 128},
    ],
)
def test_a_body_of_one_shape_loads_as_marshmallow_loads_it(app, body: dict) -> None:
    """/predict's schema skips marshmallow's pass over a body of exactly one shape's fields:
    the same data (or the same errors) as marshmallow's own load."""
    schema = PredictRequestSchema()

    def outcome(load) -> str:
        try:
            return repr(load(body))
        except ma.ValidationError as error:
            return f"422 {error.messages}"

    with app.test_request_context():
        assert outcome(schema.load) == outcome(super(PredictRequestSchema, schema).load)
