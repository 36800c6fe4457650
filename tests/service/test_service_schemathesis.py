"""schemathesis with every check (`--checks all`) over every operation of /openapi.json (issue 13).

The app is `create_app` called in process over WSGI, on a migrated store in a temporary directory
with one promoted model (so predictions, both protocols and the ready endpoints answer 200), and a
real valkey-server as the broker: POST /train queues real jobs. No worker runs, so those jobs stay
queued and GET /readyz answers its documented 503 (configured below as that operation's expected
server error). Each operation gets the examples, coverage and fuzzing phases, positive and
negative, seeded with SEED, with up to EXAMPLES generated requests (fewer only where an operation
has fewer distinct requests, e.g. GET /healthz has one), and every check schemathesis has.

The OpenAPI document states every rule JSON Schema (OpenAPI 3.0) can state. A few rules it cannot
(positions in an array, one length equal to another, a hash of the content, an opaque token, the
lines of a CSV file): for those, the `map_case` and `flatmap_case` hooks change a *positive* case
the way a client following the prose of the document would, and leave negative cases alone.

The document is loaded when the module is imported (schemathesis' lazy `from_fixture` reads a
pytest attribute that pytest 9 no longer has); requests go to the fixture's app. The stateful
phase (links between operations) is not run here.
"""

from __future__ import annotations

import json
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import schemathesis
from flask import Flask
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from foundation.settings import Settings
from model_store.canonical import snapshot_sha256
from model_store.pages import encode_token
from model_store.schema import upgrade
from nnservice.embedded_redis import EmbeddedRedis
from service import create_app, v2_binary
from service.context import EXTENSION
from service.dataset_parsing import CONTENT_TYPES
from service.inference_v2 import INPUT_NAME
from service.measurements import BOUNDS

from .conftest import SEED_LIKE_WEIGHTS

SEED = 13
EXAMPLES = 300
SNAPSHOT = {
    "layer_sizes": [2, 2, 1],
    "activation": "sigmoid",
    "loss": "mse",
    "weights": SEED_LIKE_WEIGHTS,
    "biases": [[0.0, 0.0], [0.0]],
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
    "training": {},
}
CONFIG = {
    "seed": SEED,
    # No example database: what runs depends on the seed alone, not on earlier runs.
    "generation": {"max-examples": EXAMPLES, "database": "none"},
    "operations": [
        {
            # No worker runs here: "not ready" is /readyz's documented answer.
            "include-name": "GET /readyz",
            "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}},
        },
        {
            # Each valid request opens a stream that lasts `events_max_seconds` (below): fewer.
            "include-name": "GET /events",
            "generation": {"max-examples": 15},
        },
    ],
}
FEATURES = ("weight", "height")


def _document() -> dict:
    """The app's OpenAPI document (the same for every settings)."""
    with tempfile.TemporaryDirectory() as directory:
        app = create_app(Settings(store_path=Path(directory)))
        try:
            return app.test_client().get("/openapi.json").get_json()
        finally:
            app.extensions[EXTENSION].store.close()


schema = schemathesis.openapi.from_dict(_document(), config=SchemathesisConfig.from_dict(CONFIG))


def _within(value: object, units: str, field: str) -> float:
    """`value` if it is a number in the field's range, else the range's nearest bound."""
    low, high = BOUNDS[units][field]
    if type(value) not in (int, float):
        return low
    return min(max(value, low), high)


def _pair(item: object) -> object:
    """A `[weight, height]` pair with each number in its own range (positions have no schema)."""
    if isinstance(item, list) and len(item) == 2:
        return [_within(v, "imperial", f) for v, f in zip(item, FEATURES, strict=True)]
    return item


def _invocations(body: dict) -> dict:
    """MLflow bodies: pairs in range, columns of equal length, split rows as wide as columns."""
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        columns = split["columns"]
        split["data"] = [
            [
                _within(row[i] if i < len(row) else None, "imperial", name)
                if name in FEATURES
                else (row[i] if i < len(row) else None)
                for i, name in enumerate(columns)
            ]
            for row in split["data"]
        ]
    for key in ("instances", "inputs"):
        if isinstance(body.get(key), list):
            body[key] = [_pair(item) for item in body[key]]
    if isinstance(body.get("inputs"), dict):
        columns = body["inputs"]
        length = min(len(columns["weight"]), len(columns["height"]))
        columns["weight"], columns["height"] = (
            columns["weight"][:length],
            columns["height"][:length],
        )
    return body


def _predict(body: dict) -> dict:
    """/predict's compact forms: pairs in range, columns of equal length."""
    units = body.get("units", "imperial")
    rows = body.get("instances")
    if isinstance(rows, list) and rows and isinstance(rows[0], list):
        body["instances"] = [
            [_within(v, units, f) for v, f in zip(pair, FEATURES, strict=True)] for pair in rows
        ]
    if isinstance(body.get("inputs"), dict):
        columns = body["inputs"]
        length = min(len(columns["weight"]), len(columns["height"]))
        columns["weight"], columns["height"] = (
            columns["weight"][:length],
            columns["height"][:length],
        )
    return body


def _decision_grid(case) -> None:
    """The decision grid of the promoted model (`latest`: a generated id names none), with
    each axis within its bounds in the query's units and its lowest value below its highest
    (one limit's meaning depends on the other's: no schema for that)."""
    case.path_parameters = {**(case.path_parameters or {}), "model_id": "latest"}
    query = case.query or {}
    units = query.get("units", "imperial")
    for name in FEATURES:
        ends = (f"{name}_min", f"{name}_max")
        bounds = BOUNDS[units][name]  # also the axes' defaults: the snapshot has no input_range
        for end in ends:
            if end in query:
                query[end] = _within(query[end], units, name)
        if query.get(ends[0], bounds[0]) >= query.get(ends[1], bounds[1]):
            query.update(
                {end: bound for end, bound in zip(ends, bounds, strict=True) if end in query}
            )


def _v2_infer(body: dict) -> dict:
    """A v2 JSON request: shape [n, 2] (n at most 100, to keep bodies small), as many values
    as the shape says, each in its position's range."""
    tensor = body["inputs"][0]
    tensor.get("parameters", {}).pop("binary_data_size", None)  # no binary part in JSON
    rows = min(tensor["shape"][0], 100)
    tensor["shape"] = [rows, len(FEATURES)]
    given = tensor.get("data") or []
    flat = [v for item in given for v in (item if isinstance(item, list) else [item])] or [0]
    tensor["data"] = [
        _within(flat[i % len(flat)], "imperial", FEATURES[i % 2]) for i in range(rows * 2)
    ]
    return body


def _snapshot(body: dict) -> dict:
    """A snapshot whose layers start with 2 inputs and end with 1 output, whose weights and
    biases have those shapes (filled from the generated numbers), and whose sha256 matches."""
    sizes = [2, *body["layer_sizes"][1:-1], 1]
    numbers = [v for layer in body["weights"] for row in layer for v in row] or [0.0]
    draw = iter(numbers * sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False)))
    body["layer_sizes"] = sizes
    body["weights"] = [
        [[next(draw) for _ in range(n_in)] for _ in range(n_out)]
        for n_in, n_out in zip(sizes, sizes[1:], strict=False)
    ]
    body["biases"] = [[next(draw) for _ in range(n_out)] for n_out in sizes[1:]]
    if "features" in body:  # its values' order: no schema for a position
        body["features"] = list(FEATURES)
    if "sha256" in body:
        body["sha256"] = snapshot_sha256(body)
    return body


def _table(rows: list[dict], separator: str) -> str:
    lines = [separator.join(FEATURES + ("gender",))]
    lines += [separator.join(str(row[name]) for name in (*FEATURES, "gender")) for row in rows]
    return "\n".join(lines) + "\n"


def _labelled_rows(units: str) -> st.SearchStrategy[list[dict]]:
    """Rows within BOUNDS, both genders present: what a valid CSV/TSV upload holds."""
    row = st.fixed_dictionaries(
        {
            name: st.floats(*BOUNDS[units][name], allow_nan=False, allow_infinity=False)
            for name in FEATURES
        }
        | {"gender": st.sampled_from(["F", "M", "female", "Male"])}
    )
    return st.lists(row, min_size=1, max_size=20).filter(
        lambda rows: len({row["gender"][0].upper() for row in rows}) == 2
    )


def _is_positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


@schema.hook
def map_case(context, case):
    """Bring a positive case within the rules that OpenAPI 3.0 cannot state (see the module)."""
    if not _is_positive(case):
        return case
    label, body = case.operation.label, case.body
    if case.query and case.query.get("page_token") is not None:
        # Tokens are opaque: only the store's own are valid, so send one the store could make.
        case.query["page_token"] = encode_token(
            zlib.crc32(str(case.query["page_token"]).encode()), "fuzz"
        )
    if label == "POST /batch-predictions" and case.query and case.query.get("model_id"):
        case.query.pop("alias", None)  # "not with model_id", in the parameter's description
    if label == "GET /models/{model_id}/decision-grid":
        _decision_grid(case)
    elif label == "POST /models" and isinstance(body, dict):
        case.body = _snapshot(body)
    elif label == "POST /predict" and isinstance(body, dict):
        case.body = _predict(body)
    elif label == "POST /invocations" and isinstance(body, dict):
        case.body = _invocations(body)
    elif label.endswith("/infer") and isinstance(body, dict):
        case.body = _v2_infer(body)
    elif label.endswith("/infer/binary") and case.media_type == v2_binary.CONTENT_TYPE:
        generated = body if isinstance(body, bytes) else getattr(body, "data", b"")
        case.body, length = _binary_request(generated)
        case.headers = {**(case.headers or {}), v2_binary.HEADER: length}
    return case


def _binary_request(generated: bytes) -> tuple[bytes, str]:
    """(body, Inference-Header-Content-Length) of a v2 request whose input, as binary FP64 data,
    holds rows made from the generated bytes, each value in its range."""
    spread = [byte / 255 for byte in generated[:40]] or [0.5, 0.5]
    values = [
        low + share * (high - low)
        for index, share in enumerate(spread[: len(spread) // 2 * 2] or spread)
        for low, high in [BOUNDS["imperial"][FEATURES[index % 2]]]
    ]
    data = v2_binary.encode_numbers(np.array(values), "FP64")
    tensor = {"name": INPUT_NAME, "shape": [len(values) // 2, 2], "datatype": "FP64"}
    head = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(data)}}]})
    return head.encode() + data, str(len(head.encode()))


@schema.hook
def flatmap_case(context, case):
    """A positive CSV/TSV body is rows drawn within the rules, written as a file (JSON Schema
    has no grammar for the lines of a file); other cases are kept."""
    if not _is_positive(case):
        return st.just(case)
    if case.media_type in (*CONTENT_TYPES, "text/csv"):
        units = (case.query or {}).get("units", "imperial")
        separator = CONTENT_TYPES.get(case.media_type, ",")

        def written(rows: list[dict]):
            case.body = _table(rows, separator)
            return case

        return _labelled_rows(units).map(written)
    return st.just(case)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("valkey"), appendonly=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory, broker: EmbeddedRedis) -> Flask:
    settings = Settings(
        redis_url=broker.url,
        store_path=Path(tmp_path_factory.mktemp("store")),
        events_max_seconds=0.1,
    )
    upgrade(settings.store_database_url)
    app = create_app(settings)
    store = app.extensions[EXTENSION].store
    store.models.promote(store.models.save(SNAPSHOT)["id"])
    return app


@schema.parametrize()
def test_every_check_on_every_operation(case, fuzzed_app: Flask) -> None:
    case.call_and_validate(app=fuzzed_app)
