"""Open Inference Protocol (KServe v2) requests and answers for the weight/height model.

The model takes one input tensor of shape [n, 2] (`[weight (lb), height (in)]` per row, any
numeric datatype, FP64 or FP32 preferred; `data` flat or nested, row-major) and gives two outputs
of shape [n, 1]: `probability_female` (FP64, the network's output) and `gender` (BYTES, "F" when
the probability is at least 0.5, else "M"). A request's `outputs` may pick either; `id` is
echoed, and `parameters` are accepted and ignored (none are defined).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neural.decision import decide
from service.protocol_errors import ProtocolError
from service.protocol_input import FEATURES, features

MODEL_NAME = "nnservice"
PLATFORM = "nnservice_numpy"
INPUT_NAME = "features"
NUMERIC_DATATYPES = frozenset(
    {
        "FP16",
        "FP32",
        "FP64",
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "UINT8",
        "UINT16",
        "UINT32",
        "UINT64",
    }
)
OUTPUTS = {"probability_female": "FP64", "gender": "BYTES"}


def model_metadata(versions: list[str]) -> dict:
    """The model metadata response: name, versions (model ids), platform, inputs, outputs."""
    return {
        "name": MODEL_NAME,
        "versions": versions,
        "platform": PLATFORM,
        "inputs": [{"name": INPUT_NAME, "datatype": "FP64", "shape": [-1, len(FEATURES)]}],
        "outputs": [
            {"name": name, "datatype": datatype, "shape": [-1, 1]}
            for name, datatype in OUTPUTS.items()
        ],
    }


def _bad(message: str) -> ProtocolError:
    return ProtocolError(400, message)


def _is_int(value: Any) -> bool:
    return type(value) is int


def _flat_data(data: Any, rows: int) -> list:
    """The tensor's elements in row-major order, from flat or nested `data`."""
    if not isinstance(data, list):
        raise _bad('input "data" must be a JSON array')
    if data and all(isinstance(row, list) for row in data):
        if any(len(row) != len(FEATURES) for row in data):
            raise _bad('nested input "data" must hold [weight, height] rows')
        data = [value for row in data for value in row]
    elif any(isinstance(value, list) for value in data):
        raise _bad('input "data" must be flat or [weight, height] rows, not a mix')
    if len(data) != rows * len(FEATURES):
        raise _bad(f'input "data" has {len(data)} values; shape [{rows}, 2] needs {rows * 2}')
    return data


def parse_infer_request(body: Any, max_rows: int) -> tuple[np.ndarray, list[str], str | None]:
    """(X (n, 2) in lb and in, requested output names, request id) of an inference request."""
    if not isinstance(body, dict):
        raise _bad("the inference request must be a JSON object")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise _bad(f'"inputs" must hold one tensor, {INPUT_NAME!r} of shape [n, 2]')
    tensor = inputs[0]
    if not isinstance(body.get("parameters", {}), dict) or not isinstance(
        tensor.get("parameters", {}), dict
    ):
        raise _bad('"parameters" must be an object')
    shape, datatype = tensor.get("shape"), tensor.get("datatype")
    if not isinstance(tensor.get("name"), str):
        raise _bad('the input tensor needs a "name"')
    if datatype not in NUMERIC_DATATYPES:
        raise _bad(f"input datatype must be numeric (FP64, FP32, INT64, ...), got {datatype!r:.40}")
    if (
        not isinstance(shape, list)
        or len(shape) != 2
        or not all(map(_is_int, shape))
        or shape[1] != len(FEATURES)
        or shape[0] < 0
    ):
        raise _bad(f"input shape must be [n, 2] (rows of weight, height), got {shape!r:.60}")
    if shape[0] > max_rows:
        raise _bad(f"At most {max_rows} rows per request; got {shape[0]}.")
    data = _flat_data(tensor.get("data"), shape[0])
    X = features(
        [{"weight": w, "height": h} for w, h in zip(data[::2], data[1::2], strict=True)], max_rows
    )
    return X, _requested_outputs(body.get("outputs")), _request_id(body.get("id"))


def _requested_outputs(outputs: Any) -> list[str]:
    if outputs is None:
        return list(OUTPUTS)
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise _bad('"outputs" must be a list of {"name": ...} objects')
    names = [output.get("name") for output in outputs]
    unknown = [name for name in names if name not in OUTPUTS]
    if unknown:
        raise _bad(f"unknown outputs {unknown!r:.100}; this model has {sorted(OUTPUTS)}")
    return names


def _request_id(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _bad('"id" must be a string')
    return value


def infer_response(
    model_id: str, probabilities: np.ndarray, outputs: list[str], request_id: str
) -> dict:
    """The inference response: the requested outputs, each of shape [n, 1]."""
    rows = int(probabilities.size)
    values = probabilities.tolist()
    data = {
        "probability_female": values,
        "gender": ["F" if female else "M" for female in decide(probabilities).tolist()],
    }
    return {
        "model_name": MODEL_NAME,
        "model_version": model_id,
        "id": request_id,
        "outputs": [
            {"name": name, "shape": [rows, 1], "datatype": OUTPUTS[name], "data": data[name]}
            for name in outputs
        ],
    }
