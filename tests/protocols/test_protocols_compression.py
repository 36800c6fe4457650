"""Request bodies with `Content-Encoding: gzip` or `deflate`, over real HTTP against the stack:
sent by tritonclient (`request_compression_algorithm`) and by plain HTTP (requests), on every
kind of endpoint that takes a body; a body that expands past NNSERVICE_MAX_BODY_BYTES is 413, a
corrupt one 400 naming its coding, an unknown coding 415."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator

import numpy as np
import pytest
import requests
import tritonclient.http as triton

from foundation.settings import Settings

from .conftest import EMILY, FRANK, probability_female

PEOPLE = np.array([EMILY, FRANK], dtype="<f8")
EXPECTED = [probability_female(*EMILY), probability_female(*FRANK)]
CODINGS = {"gzip": gzip.compress, "deflate": zlib.compress}
#: The limit the stack runs with (the default).
LIMIT = Settings.model_fields["max_body_bytes"].default


@pytest.fixture
def client(stack) -> Iterator[triton.InferenceServerClient]:
    with triton.InferenceServerClient(stack.base_url.removeprefix("http://")) as made:
        yield made


@pytest.mark.parametrize("coding", list(CODINGS))
@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_compressed_requests(client, latest_model_id, coding, binary) -> None:
    tensor = triton.InferInput("features", list(PEOPLE.shape), "FP64")
    tensor.set_data_from_numpy(PEOPLE, binary_data=binary)
    result = client.infer("nnservice", [tensor], request_compression_algorithm=coding)
    probabilities = result.as_numpy("probability_female")[:, 0]
    np.testing.assert_allclose(probabilities, EXPECTED, atol=1e-12)
    assert result.get_response()["model_version"] == latest_model_id


def _post(stack, path: str, body: bytes, coding: str, content_type: str) -> requests.Response:
    headers = {"Content-Encoding": coding, "Content-Type": content_type}
    return requests.post(stack.base_url + path, data=body, headers=headers, timeout=60)


@pytest.mark.parametrize("coding", list(CODINGS))
def test_plain_http_compressed_bodies_on_each_kind_of_endpoint(stack, latest_model_id, coding):
    compress = CODINGS[coding]
    person = json.dumps({"weight": EMILY[0], "height": EMILY[1]}).encode()
    answer = _post(stack, "/predict", compress(person), coding, "application/json")
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"][0]["probability_female"] == pytest.approx(EXPECTED[0])

    pairs = json.dumps({"instances": PEOPLE.tolist()}).encode()
    answer = _post(stack, "/predict", compress(pairs), coding, "application/json")
    assert answer.json()["predictions"]["probability_female"] == pytest.approx(EXPECTED)

    table = b"weight,height\n128,63\n155,68\n"
    answer = _post(stack, "/invocations", compress(table), coding, "text/csv")
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == pytest.approx(EXPECTED)

    tensor = {"name": "features", "shape": [2, 2], "datatype": "FP64", "data": PEOPLE.tolist()}
    v2 = json.dumps({"inputs": [tensor]}).encode()
    answer = _post(stack, "/v2/models/nnservice/infer", compress(v2), coding, "application/json")
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == pytest.approx(EXPECTED)

    upload = b"weight,height,gender\n133,65,F\n160,72,M\n"
    answer = _post(stack, "/datasets?name=compressed", compress(upload), coding, "text/csv")
    assert answer.status_code in (200, 201), answer.text
    assert answer.json()["rows"] == 2


def test_a_raw_deflate_stream_and_stacked_codings_are_read(stack, latest_model_id) -> None:
    person = json.dumps({"weight": EMILY[0], "height": EMILY[1]}).encode()
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    for body, coding in [
        (raw.compress(person) + raw.flush(), "deflate"),
        (gzip.compress(zlib.compress(person)), "deflate, gzip"),
    ]:
        answer = _post(stack, "/predict", body, coding, "application/json")
        assert answer.status_code == 200, (coding, answer.text)


@pytest.mark.parametrize("coding", list(CODINGS))
def test_a_body_that_expands_past_the_limit_is_413(stack, latest_model_id, coding) -> None:
    compressor = zlib.compressobj(wbits=31 if coding == "gzip" else zlib.MAX_WBITS)
    padding = b" " * (1 << 20)
    parts = [compressor.compress(b'{"weight": 128, "height": 63')]
    parts += [compressor.compress(padding) for _ in range(LIMIT // len(padding) + 1)]
    bomb = b"".join(parts) + compressor.compress(b"}") + compressor.flush()
    assert len(bomb) < LIMIT // 100  # small as sent
    answer = _post(stack, "/predict", bomb, coding, "application/json")
    assert answer.status_code == 413, answer.text
    assert list(answer.json()["errors"]) == ["body"] and "decompressed" in answer.json()["message"]
    v2 = _post(stack, "/v2/models/nnservice/infer", bomb, coding, "application/json")
    assert v2.status_code == 413 and "decompressed" in v2.json()["error"]  # the protocol's shape


def test_corrupt_and_unknown_codings(stack, latest_model_id) -> None:
    person = json.dumps({"weight": EMILY[0], "height": EMILY[1]}).encode()
    for body, coding in [
        (person, "gzip"),
        (gzip.compress(person)[:-6], "gzip"),
        (person, "deflate"),
    ]:
        answer = _post(stack, "/predict", body, coding, "application/json")
        assert answer.status_code == 400, answer.text
        assert f"not valid {coding} data" in answer.json()["message"]
        assert list(answer.json()["errors"]) == ["Content-Encoding"]
    answer = _post(stack, "/predict", person, "br", "application/json")
    assert answer.status_code == 415 and "'br'" in answer.json()["message"]
    assert answer.headers["Accept-Encoding"] == "gzip, deflate"
    mlflow = _post(stack, "/invocations", person, "zstd", "application/json")
    assert mlflow.status_code == 415 and set(mlflow.json()) == {"error_code", "message"}
