"""Strict field types shared by the schemas: numbers that are JSON numbers, ids that are safe."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from foundation.measurements import DEFAULT_UNITS, UNITS
from model_store.ids import ID_PATTERN
from service.measurements import (
    BOUNDS,
    GENDER_DESCRIPTION,
    GENDER_LABELS,
    HEIGHT_DESCRIPTION,
    UNITS_DESCRIPTION,
    WEIGHT_DESCRIPTION,
)


def _labels_pattern(labels: list[str]) -> str:
    """`labels`, in any case and with surrounding spaces, as a JSON Schema pattern."""
    spellings = ("".join(f"[{c.lower()}{c.upper()}]" for c in label) for label in labels)
    return r"^\s*({})\s*$".format("|".join(spellings))


#: The gender labels the rows accept, in any case, as a JSON Schema pattern.
GENDER_PATTERN = _labels_pattern(list(GENDER_LABELS))
#: The spellings of each class (1.0: F, 0.0: M), as patterns.
CLASS_PATTERNS = {
    label: _labels_pattern([name for name, value in GENDER_LABELS.items() if value == label])
    for label in sorted(set(GENDER_LABELS.values()), reverse=True)
}

ID_REGEX = f"^{ID_PATTERN.pattern}$"


class StrictFloat(ma.fields.Float):
    """A finite JSON number: strings ("1.5"), booleans, NaN and Infinity are refused."""

    def __init__(self, **kwargs: Any):
        super().__init__(allow_nan=False, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if type(value) not in (int, float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictInteger(ma.fields.Integer):
    """A JSON integer (no strings, booleans or floats)."""

    def __init__(self, **kwargs: Any):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if type(value) is not int:
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(ma.fields.Boolean):
    """A JSON true or false (no 1, "yes", ...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if type(value) is not bool:
            raise self.make_error("invalid")
        return value


def IdField(**kwargs: Any) -> ma.fields.String:  # noqa: N802 - reads like a field class
    """A store id (`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`): nothing else ever reaches a path."""
    return ma.fields.String(
        validate=ma.validate.Regexp(ID_REGEX, error="Not a valid id."),
        metadata={"pattern": ID_REGEX, **kwargs.pop("metadata", {})},
        **kwargs,
    )


def UnitsField(**kwargs: Any) -> ma.fields.String:  # noqa: N802 - reads like a field class
    """imperial (lb, in) or metric (kg, cm)."""
    return ma.fields.String(
        load_default=DEFAULT_UNITS,
        validate=ma.validate.OneOf(UNITS),
        metadata={"description": UNITS_DESCRIPTION, **kwargs.pop("metadata", {})},
        **kwargs,
    )


def _row_schema(with_gender: bool) -> dict:
    """OpenAPI schema of one row (rows are validated column-wise, not by marshmallow)."""
    properties = {
        "weight": {"type": "number", "description": WEIGHT_DESCRIPTION},
        "height": {"type": "number", "description": HEIGHT_DESCRIPTION},
    }
    if with_gender:
        properties["gender"] = {
            "type": "string",
            "pattern": GENDER_PATTERN,
            "description": GENDER_DESCRIPTION,
        }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


#: One row in the compact form: `[weight, height]` (a position has no schema in OpenAPI 3.0).
PAIR_SCHEMA = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 2,
    "maxItems": 2,
    "description": "[weight, height], each a JSON number in its range (see weight and height).",
}


def RowsField(  # noqa: N802 - reads like a field class
    *, with_gender: bool, description: str, pairs: bool = False, **kwargs: Any
) -> ma.fields.Raw:
    """A list of row objects (or, if `pairs`, of `[weight, height]` pairs instead), passed
    through untouched for columnar validation in post_load.

    Labelled rows (`with_gender`) must hold both classes: not every row is F, not every row is M.
    """
    rows = {"type": "array", "minItems": 1, "items": _row_schema(with_gender)}
    metadata: dict[str, Any] = {"description": description}
    if pairs:
        metadata["oneOf"] = [rows, {"type": "array", "minItems": 1, "items": PAIR_SCHEMA}]
    else:
        metadata.update(rows)
    if with_gender:
        metadata["allOf"] = [
            {"not": {"items": {"properties": {"gender": {"pattern": pattern}}}}}
            for pattern in CLASS_PATTERNS.values()
        ]
    return ma.fields.Raw(metadata=metadata, **kwargs)


def ColumnsField(*, description: str, **kwargs: Any) -> ma.fields.Raw:  # noqa: N802
    """Rows as columns, `{"weight": [...], "height": [...]}`, passed through untouched for
    columnar validation in post_load (the columns' equal length is checked there)."""
    columns = {
        name: {"type": "array", "minItems": 1, "items": {"type": "number"}, "description": text}
        for name, text in (("weight", WEIGHT_DESCRIPTION), ("height", HEIGHT_DESCRIPTION))
    }
    metadata = {
        "type": "object",
        "properties": columns,
        "required": list(columns),
        "additionalProperties": False,
        "description": description,
    }
    return ma.fields.Raw(metadata=metadata, **kwargs)


def document_units(
    components: dict, name: str, *, rows: str, single: bool = False, columns: str | None = None
) -> None:
    """State in the OpenAPI component `name` the bounds of weight and height in each unit system
    (service.measurements.BOUNDS): exactly one applies, by `units` (imperial when left
    out), to the rows of the array field `rows`, to the values of the columns field `columns`
    and, if `single`, to top-level weight and height.
    """
    branches = []
    for units in UNITS:
        bounds = {
            field: {"minimum": low, "maximum": high} for field, (low, high) in BOUNDS[units].items()
        }
        properties = {"units": {"enum": [units]}, rows: {"items": {"properties": bounds}}}
        if columns:
            properties[columns] = {
                "properties": {field: {"items": bound} for field, bound in bounds.items()}
            }
        if single:
            properties.update(bounds)
        branch: dict[str, Any] = {"properties": properties}
        if units != DEFAULT_UNITS:
            branch["required"] = ["units"]
        branches.append(branch)
    components[name].setdefault("allOf", []).append({"oneOf": branches})


def either_or(shapes: tuple[tuple[str, ...], ...]) -> list[dict]:
    """A `oneOf` saying that an object has exactly one of `shapes`: all the fields of one, and
    none of the others'."""
    return [
        {
            "required": list(shape),
            "not": {
                "anyOf": [
                    {"required": [field]} for other in shapes if other != shape for field in other
                ]
            },
        }
        for shape in shapes
    ]


def document_either_or(components: dict, name: str, shapes: tuple[tuple[str, ...], ...]) -> None:
    """State in the OpenAPI component `name` that a body has exactly one of `shapes`."""
    components[name]["oneOf"] = either_or(shapes)
