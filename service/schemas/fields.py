"""Strict field types shared by the schemas: numbers that are JSON numbers, ids that are safe."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from model_store.ids import ID_PATTERN
from service.measurements import (
    GENDER_DESCRIPTION,
    GENDER_LABELS,
    HEIGHT_DESCRIPTION,
    WEIGHT_DESCRIPTION,
)

#: The gender labels the rows accept, in any case, as a JSON Schema pattern.
GENDER_PATTERN = r"^\s*({})\s*$".format(
    "|".join("".join(f"[{c.lower()}{c.upper()}]" for c in label) for label in GENDER_LABELS)
)

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
    from service.measurements import UNITS, UNITS_DESCRIPTION

    return ma.fields.String(
        load_default="imperial",
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


def RowsField(*, with_gender: bool, description: str, **kwargs: Any) -> ma.fields.Raw:  # noqa: N802
    """A list of row objects, passed through untouched for columnar validation in post_load."""
    return ma.fields.Raw(
        metadata={
            "type": "array",
            "minItems": 1,
            "items": _row_schema(with_gender),
            "description": description,
        },
        **kwargs,
    )


def document_either_or(components: dict, name: str, shapes: tuple[tuple[str, ...], ...]) -> None:
    """State in the OpenAPI component `name` that a body has exactly one of `shapes`: all the
    fields of one, and none of the others'."""
    components[name]["oneOf"] = [
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
