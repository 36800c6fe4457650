"""Triton's own HTTP client (tritonclient 2.73) against the real stack, with its defaults.

tritonclient sends inputs as binary data (`set_data_from_numpy`, the binary tensor data
extension) and asks for binary outputs unless told otherwise, so these tests exercise both halves
of the extension, and the JSON forms next to them in the same request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from .conftest import EMILY, FRANK, probability_female

PEOPLE = np.array([EMILY, FRANK])
EXPECTED = np.array([[probability_female(*EMILY)], [probability_female(*FRANK)]])


@pytest.fixture
def client(stack) -> Iterator[triton.InferenceServerClient]:
    with triton.InferenceServerClient(stack.base_url.removeprefix("http://")) as made:
        yield made


def features(datatype: str, dtype: str, binary: bool = True) -> triton.InferInput:
    tensor = triton.InferInput("features", list(PEOPLE.shape), datatype)
    tensor.set_data_from_numpy(PEOPLE.astype(dtype), binary_data=binary)
    return tensor


def test_health_and_metadata(client, latest_model_id: str) -> None:
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("nnservice")
    assert client.is_model_ready("nnservice", latest_model_id)
    server = client.get_server_metadata()
    assert server["name"] == "nnservice" and "binary_tensor_data" in server["extensions"]
    model = client.get_model_metadata("nnservice")
    assert model["inputs"] == [{"name": "features", "datatype": "FP64", "shape": [-1, 2]}]
    assert latest_model_id in model["versions"]
    assert client.get_model_metadata("nnservice", latest_model_id)["name"] == "nnservice"


def test_model_config_and_repository_index(client, latest_model_id: str) -> None:
    config = client.get_model_config("nnservice")
    assert config["input"] == [{"name": "features", "data_type": "TYPE_FP64", "dims": [-1, 2]}]
    assert [output["name"] for output in config["output"]] == ["probability_female", "gender"]
    assert client.get_model_config("nnservice", latest_model_id) == config
    index = client.get_model_repository_index()
    assert {
        "name": "nnservice",
        "version": latest_model_id,
        "state": "READY",
        "reason": "",
    } in index


@pytest.mark.parametrize(
    ("datatype", "dtype"), [("FP32", "<f4"), ("FP64", "<f8"), ("INT32", "<i4")]
)
def test_infer_with_binary_inputs_and_outputs(client, latest_model_id, datatype, dtype) -> None:
    result = client.infer("nnservice", [features(datatype, dtype)])
    # No outputs named: tritonclient asks for every output as binary data.
    assert all("data" not in output for output in result.get_response()["outputs"])
    np.testing.assert_allclose(result.as_numpy("probability_female"), EXPECTED, atol=1e-12)
    genders = [[b"F" if p >= 0.5 else b"M"] for p in EXPECTED[:, 0]]
    assert result.as_numpy("gender").tolist() == genders
    assert result.get_response()["model_version"] == latest_model_id


def test_json_and_binary_mixed_in_one_request(client, latest_model_id: str) -> None:
    outputs = [
        triton.InferRequestedOutput("probability_female", binary_data=True),
        triton.InferRequestedOutput("gender", binary_data=False),
    ]
    result = client.infer("nnservice", [features("FP64", "<f8", binary=False)], outputs=outputs)
    by_name = {output["name"]: output for output in result.get_response()["outputs"]}
    assert "data" not in by_name["probability_female"]
    assert by_name["gender"]["data"] == ["F" if p >= 0.5 else "M" for p in EXPECTED[:, 0]]
    np.testing.assert_allclose(result.as_numpy("probability_female"), EXPECTED, atol=1e-12)


def test_async_infer_and_a_pinned_version(client, model_id: str, latest_model_id: str) -> None:
    pending = client.async_infer("nnservice", [features("FP32", "<f4")], request_id="async-1")
    result = pending.get_result()
    assert result.get_response()["id"] == "async-1"
    np.testing.assert_allclose(result.as_numpy("probability_female"), EXPECTED, atol=1e-6)
    pinned = client.infer("nnservice", [features("FP64", "<f8")], model_version=model_id)
    assert pinned.get_response()["model_version"] == model_id


def test_statistics_count_the_inferences(client, latest_model_id: str) -> None:
    def successes() -> int:
        (stats,) = client.get_inference_statistics("nnservice")["model_stats"]
        return stats["inference_stats"]["success"]["count"]

    before = successes()
    client.infer("nnservice", [features("FP64", "<f8")])
    deadline = time.monotonic() + 10  # the other API process adds its counts each second
    while successes() <= before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert successes() > before
    assert client.get_inference_statistics()["model_stats"][0]["name"] == "nnservice"


def test_a_wrong_input_name_raises_the_servers_message(client, latest_model_id: str) -> None:
    tensor = triton.InferInput("input0", [1, 2], "FP64")
    tensor.set_data_from_numpy(np.array([EMILY], dtype="<f8"))
    with pytest.raises(InferenceServerException) as raised:
        client.infer("nnservice", [tensor])
    assert raised.value.status() == "400"
    assert "unknown input 'input0'" in raised.value.message()
    assert "'features'" in raised.value.message()


def test_paths_it_does_not_serve_answer_in_the_protocols_shape(client, latest_model_id) -> None:
    with pytest.raises(InferenceServerException) as raised:
        client.load_model("nnservice")  # POST /v2/repository/models/nnservice/load
    assert raised.value.status() == "404" and "no such endpoint" in raised.value.message()
    with pytest.raises(InferenceServerException) as raised:
        client.get_model_metadata("other")
    assert "no model named 'other'" in raised.value.message()
