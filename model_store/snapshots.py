"""The snapshot format (version 1): defaults, validation, verification of stored bytes.

Pure functions on dicts and bytes; `models.py` does the file work. See docs/architecture.md
("Snapshot format") for the fields.
"""

from __future__ import annotations

import math
from typing import Any

from model_store.canonical import parse_json, snapshot_sha256
from model_store.errors import CorruptSnapshot, InvalidId, InvalidSnapshot
from model_store.ids import validate_id
from neural.losses import LOSSES

FORMAT_VERSION = 1
#: Largest magnitude of a weight, bias or normalization mean, and smallest normalization scale:
#: within these, every prediction of a valid snapshot is a finite number (no overflow).
PARAMETER_LIMIT = 1e100
MIN_SCALE = 1e-100
ACTIVATIONS = ("sigmoid",)
FIXED_FIELDS: dict[str, Any] = {
    "features": ["weight", "height"],
    "units": {"weight": "lb", "height": "in"},
    "label": {"positive": "F", "negative": "M"},
}
DEFAULTS: dict[str, Any] = {
    "format_version": FORMAT_VERSION,
    "activation": "sigmoid",
    **FIXED_FIELDS,
}
REQUIRED_FIELDS = (
    "format_version",
    "id",
    "created_at",
    "layer_sizes",
    "activation",
    "loss",
    "weights",
    "biases",
    "normalization",
    "features",
    "units",
    "label",
    "training",
)


def with_defaults(snapshot: dict) -> dict:
    """A copy of `snapshot` with the fixed fields (version, features, units, label) filled in."""
    if not isinstance(snapshot, dict):
        raise InvalidSnapshot(f"snapshot: expected a JSON object, got {type(snapshot).__name__}")
    filled = {key: _copy(value) for key, value in DEFAULTS.items()}
    filled.update(snapshot)
    filled.setdefault("training", {})
    return filled


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_vector(value: Any, length: int, field: str) -> None:
    if not isinstance(value, list) or len(value) != length:
        raise InvalidSnapshot(f"{field}: expected a list of {length} numbers")
    for index, item in enumerate(value):
        if not _is_number(item):
            raise InvalidSnapshot(f"{field}[{index}]: expected a finite number, got {item!r}")
        if abs(item) > PARAMETER_LIMIT:
            raise InvalidSnapshot(
                f"{field}[{index}]: must be between -{PARAMETER_LIMIT:g} and "
                f"{PARAMETER_LIMIT:g}, got {item!r}"
            )


def _check_layer_sizes(layer_sizes: Any) -> list[int]:
    if not isinstance(layer_sizes, list) or len(layer_sizes) < 2:
        raise InvalidSnapshot("layer_sizes: expected a list of at least 2 sizes")
    for index, size in enumerate(layer_sizes):
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise InvalidSnapshot(
                f"layer_sizes[{index}]: expected a positive integer, got {size!r}"
            )
    if layer_sizes[0] != 2:
        raise InvalidSnapshot("layer_sizes[0]: the first layer must have 2 inputs (weight, height)")
    if layer_sizes[-1] != 1:
        raise InvalidSnapshot("layer_sizes[-1]: the last layer must have 1 output")
    return layer_sizes


def _check_parameters(snapshot: dict, layer_sizes: list[int]) -> None:
    weights, biases = snapshot["weights"], snapshot["biases"]
    layers = len(layer_sizes) - 1
    if not isinstance(weights, list) or len(weights) != layers:
        raise InvalidSnapshot(f"weights: expected {layers} matrices for layer_sizes {layer_sizes}")
    if not isinstance(biases, list) or len(biases) != layers:
        raise InvalidSnapshot(f"biases: expected {layers} vectors for layer_sizes {layer_sizes}")
    for layer in range(layers):
        n_in, n_out = layer_sizes[layer], layer_sizes[layer + 1]
        matrix = weights[layer]
        if not isinstance(matrix, list) or len(matrix) != n_out:
            raise InvalidSnapshot(f"weights[{layer}]: expected {n_out} rows of {n_in} numbers")
        for row_index, row in enumerate(matrix):
            _check_vector(row, n_in, f"weights[{layer}][{row_index}]")
        _check_vector(biases[layer], n_out, f"biases[{layer}]")


def _check_normalization(normalization: Any) -> None:
    if not isinstance(normalization, dict):
        raise InvalidSnapshot("normalization: expected an object with mean and scale")
    for key in ("mean", "scale"):
        if key not in normalization:
            raise InvalidSnapshot(f"normalization.{key}: missing")
        _check_vector(normalization[key], 2, f"normalization.{key}")
    for index, scale in enumerate(normalization["scale"]):
        if scale < MIN_SCALE:
            raise InvalidSnapshot(
                f"normalization.scale[{index}]: must be at least {MIN_SCALE:g}, got {scale!r}"
            )


def _check_training(training: Any) -> None:
    if not isinstance(training, dict):
        raise InvalidSnapshot("training: expected an object")
    for key in ("job_id", "dataset_id", "initial_model_id"):
        value = training.get(key)
        if value is None:
            continue
        try:
            validate_id(value)
        except InvalidId:
            raise InvalidSnapshot(f"training.{key}: not a valid id: {value!r}") from None


def validate_snapshot(snapshot: Any) -> None:
    """Raise InvalidSnapshot (naming the field) unless `snapshot` is a usable version-1 snapshot.

    Checks: required fields, format version, id, layer sizes (2 inputs, 1 output) consistent with
    the weight and bias shapes, finite numbers, activation, loss, normalization (mean and scale of
    length 2, scale > 0), the fixed feature/unit/label meaning, and the ids in the training record.
    """
    if not isinstance(snapshot, dict):
        raise InvalidSnapshot(f"snapshot: expected a JSON object, got {type(snapshot).__name__}")
    for field in REQUIRED_FIELDS:
        if field not in snapshot:
            raise InvalidSnapshot(f"{field}: missing")
    if snapshot["format_version"] != FORMAT_VERSION or isinstance(snapshot["format_version"], bool):
        raise InvalidSnapshot(f"format_version: expected {FORMAT_VERSION}")
    try:
        validate_id(snapshot["id"])
    except InvalidId:
        raise InvalidSnapshot(f"id: not a valid id: {snapshot['id']!r}") from None
    if not isinstance(snapshot["created_at"], str):
        raise InvalidSnapshot("created_at: expected a string")
    if snapshot["activation"] not in ACTIVATIONS:
        raise InvalidSnapshot(f"activation: expected one of {list(ACTIVATIONS)}")
    if snapshot["loss"] not in LOSSES:
        raise InvalidSnapshot(f"loss: expected one of {list(LOSSES)}")
    for field, expected in FIXED_FIELDS.items():
        if snapshot[field] != expected:
            raise InvalidSnapshot(f"{field}: expected {expected!r}")
    _check_parameters(snapshot, _check_layer_sizes(snapshot["layer_sizes"]))
    _check_normalization(snapshot["normalization"])
    _check_training(snapshot["training"])


def verify_snapshot_bytes(model_id: str, data: bytes) -> dict:
    """Parse and check stored snapshot bytes; CorruptSnapshot(model_id, reason) if untrustworthy."""
    try:
        snapshot = parse_json(data)
    except (ValueError, RecursionError) as error:
        raise CorruptSnapshot(model_id, f"not valid JSON ({error})") from None
    if not isinstance(snapshot, dict):
        raise CorruptSnapshot(model_id, "not a JSON object")
    stored = snapshot.get("sha256")
    if not isinstance(stored, str):
        raise CorruptSnapshot(model_id, "sha256 missing")
    try:
        actual = snapshot_sha256(snapshot)
    except ValueError as error:
        raise CorruptSnapshot(model_id, f"cannot hash content ({error})") from None
    if actual != stored:
        raise CorruptSnapshot(model_id, "sha256 does not match the content")
    if snapshot.get("id") != model_id:
        raise CorruptSnapshot(
            model_id, f"id field {snapshot.get('id')!r} does not match the file name"
        )
    try:
        validate_snapshot(snapshot)
    except InvalidSnapshot as error:
        raise CorruptSnapshot(model_id, error.reason) from None
    return snapshot
