"""Open Inference Protocol (KServe v2) requests and answers for the weight/height model.

The model takes one input tensor, `features`, of shape [n, 2] (`[weight (lb), height (in)]` per
row, any numeric datatype, FP64 or FP32 preferred; as JSON `data`, flat or nested, row-major, or
as binary data, see `service.v2_binary`) and gives two outputs of shape [n, 1]:
`probability_female` (FP64, the network's output) and `gender` (BYTES, "F" when the probability
is at least 0.5, else "M"). A request's `outputs` may pick either, each as JSON or binary
(`parameters.binary_data`, default: the request's `parameters.binary_data_output`); `id` is
echoed; other parameters are accepted and ignored. Anything else is a 400 naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neural.decision import decide
from service import v2_binary
from service.api import DuplicateKeyError, loads_json
from service.protocol_errors import ProtocolError
from service.protocol_input import FEATURES, check_rows, column_features

MODEL_NAME = "nnservice"
PLATFORM = "nnservice_numpy"
INPUT_NAME = "features"
INPUT_DATATYPE = "FP64"
NUMERIC_DATATYPES = tuple(v2_binary.NUMERIC_DTYPES)
OUTPUTS = {"probability_female": "FP64", "gender": "BYTES"}
#: The datatypes' names in a Triton model configuration.
CONFIG_TYPES = {**{name: f"TYPE_{name}" for name in NUMERIC_DATATYPES}, "BYTES": "TYPE_STRING"}
INPUT_SHAPE = [-1, len(FEATURES)]
OUTPUT_SHAPE = [-1, 1]


def model_metadata(versions: list[str]) -> dict:
    """The model metadata response: name, versions (model ids), platform, inputs, outputs."""
    return {
        "name": MODEL_NAME,
        "versions": versions,
        "platform": PLATFORM,
        "inputs": [{"name": INPUT_NAME, "datatype": INPUT_DATATYPE, "shape": INPUT_SHAPE}],
        "outputs": [
            {"name": name, "datatype": datatype, "shape": OUTPUT_SHAPE}
            for name, datatype in OUTPUTS.items()
        ],
    }


def model_config() -> dict:
    """The model configuration, as Triton's `GET .../config` answers it (no batching axis)."""
    return {
        "name": MODEL_NAME,
        "platform": PLATFORM,
        "backend": "",
        "max_batch_size": 0,
        "version_policy": {"all": {}},
        "input": [
            {"name": INPUT_NAME, "data_type": CONFIG_TYPES[INPUT_DATATYPE], "dims": INPUT_SHAPE}
        ],
        "output": [
            {"name": name, "data_type": CONFIG_TYPES[datatype], "dims": OUTPUT_SHAPE}
            for name, datatype in OUTPUTS.items()
        ],
    }


@dataclass(frozen=True)
class InferRequest:
    """A checked inference request: X (n, 2) in lb and in, the outputs, the id."""

    X: np.ndarray
    #: (output name, as binary data) in the order asked.
    outputs: list[tuple[str, bool]]
    request_id: str | None


def _bad(message: str) -> ProtocolError:
    return ProtocolError(400, message)


def _is_int(value: Any) -> bool:
    return type(value) is int


def _parameters(owner: dict, where: str) -> dict:
    parameters = owner.get("parameters", {})
    if not isinstance(parameters, dict):
        raise _bad(f'{where} "parameters" must be an object')
    return parameters


def _flag(parameters: dict, name: str, where: str) -> bool:
    value = parameters.get(name, False)
    if type(value) is not bool:
        raise _bad(f'{where} parameter "{name}" must be true or false')
    return value


def _flat_data(data: Any, rows: int) -> list:
    """The tensor's elements in row-major order, from flat or nested `data`."""
    if not isinstance(data, list):
        raise _bad('input "data" must be a JSON array (or use binary data)')
    if data and all(isinstance(row, list) for row in data):
        if any(len(row) != len(FEATURES) for row in data):
            raise _bad('nested input "data" must hold [weight, height] rows')
        data = [value for row in data for value in row]
    elif any(isinstance(value, list) for value in data):
        raise _bad('input "data" must be flat or [weight, height] rows, not a mix')
    if len(data) != rows * len(FEATURES):
        raise _bad(f'input "data" has {len(data)} values; shape [{rows}, 2] needs {rows * 2}')
    return data


def _shape(tensor: dict, max_rows: int) -> int:
    """The number of rows of the input tensor's shape [n, 2]."""
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) != 2
        or not all(map(_is_int, shape))
        or shape[1] != len(FEATURES)
        or shape[0] < 1
    ):
        raise _bad(
            f"input shape must be [n, 2] with n >= 1 (rows of weight, height), got {shape!r:.60}"
        )
    check_rows(shape[0], max_rows)
    return shape[0]


def _input_values(tensor: Any, binary: bytes, max_rows: int) -> list:
    """The input tensor's values, row-major, from JSON `data` or the binary part of the body."""
    if not isinstance(tensor, dict):
        raise _bad(f'"inputs" must hold one tensor object, {INPUT_NAME!r} of shape [n, 2]')
    name, datatype = tensor.get("name"), tensor.get("datatype")
    if name != INPUT_NAME:
        raise _bad(f"unknown input {name!r:.60}: this model has one input, {INPUT_NAME!r}")
    if datatype not in NUMERIC_DATATYPES:
        raise _bad(f"input datatype must be numeric (FP64, FP32, INT64, ...), got {datatype!r:.40}")
    rows = _shape(tensor, max_rows)
    size = _parameters(tensor, "input").get("binary_data_size")
    if size is None:
        if binary:
            raise _bad(f"the body has {len(binary)} bytes after the JSON, but no input is binary")
        return _flat_data(tensor.get("data"), rows)
    if not _is_int(size) or size < 0:
        raise _bad('input parameter "binary_data_size" must be a whole number of bytes')
    if "data" in tensor:
        raise _bad('an input with "binary_data_size" has its values after the JSON, not in "data"')
    if size != len(binary):
        raise _bad(
            f"binary_data_size is {size}, but the body has {len(binary)} bytes after the JSON"
        )
    return v2_binary.decode(datatype, binary, rows * len(FEATURES)).tolist()


def _requested_outputs(request: dict, binary_default: bool) -> list[tuple[str, bool]]:
    if "outputs" not in request:
        return [(name, binary_default) for name in OUTPUTS]
    outputs = request["outputs"]
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise _bad('"outputs" must be a list of {"name": ...} objects')
    names = [output.get("name") for output in outputs]
    unknown = [name for name in names if not isinstance(name, str) or name not in OUTPUTS]
    if unknown:
        raise _bad(f"unknown outputs {unknown!r:.100}; this model has {sorted(OUTPUTS)}")
    requested = []
    for name, output in zip(names, outputs, strict=True):
        parameters = _parameters(output, "output")
        binary = binary_default
        if "binary_data" in parameters:
            binary = _flag(parameters, "binary_data", "output")
        requested.append((name, binary))
    return requested


def parse_infer_request(body: bytes, header_length: str | None, max_rows: int) -> InferRequest:
    """Check an inference request (JSON, or JSON then binary tensors); ProtocolError(400)."""
    head, binary = v2_binary.split_body(body, header_length)
    try:
        request = loads_json(head)
    except DuplicateKeyError as exc:
        raise _bad(f"the inference request has a duplicate key: {exc.key!r}") from None
    except (ValueError, RecursionError) as exc:
        raise _bad(f"the inference request is not valid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise _bad("the inference request must be a JSON object")
    request_id = request.get("id")
    if "id" in request and not isinstance(request_id, str):
        raise _bad('"id" must be a string')
    binary_default = _flag(_parameters(request, "request"), "binary_data_output", "request")
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        raise _bad(f'"inputs" must hold one tensor, {INPUT_NAME!r} of shape [n, 2]')
    values = _input_values(inputs[0], binary, max_rows)
    outputs = _requested_outputs(request, binary_default)
    X = column_features(values[::2], values[1::2])  # counted by its shape
    return InferRequest(X, outputs, request_id)


def infer_response(
    model_id: str, probabilities: np.ndarray, outputs: list[tuple[str, bool]], request_id: str
) -> tuple[dict, bytes]:
    """(the JSON answer, the binary outputs after it): the requested outputs, each [n, 1]."""
    rows = int(probabilities.size)
    values = probabilities.tolist()
    genders = ["F" if female else "M" for female in decide(probabilities).tolist()]
    tensors, blobs = [], []
    for name, binary in outputs:
        tensor = {"name": name, "shape": [rows, 1], "datatype": OUTPUTS[name]}
        if not binary:
            tensor["data"] = values if name == "probability_female" else genders
        else:
            blob = (
                v2_binary.encode_numbers(probabilities, OUTPUTS[name])
                if name == "probability_female"
                else v2_binary.encode_strings(genders)
            )
            tensor["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        tensors.append(tensor)
    answer = {"model_name": MODEL_NAME, "model_version": model_id, "id": request_id}
    return {**answer, "outputs": tensors}, b"".join(blobs)
