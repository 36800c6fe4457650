"""POST /train: which data, which hyperparameters (`foundation.hyperparameters`)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from foundation import hyperparameters as hp
from foundation.promotion import ALIAS_PATTERN, DEFAULT_ALIAS, IF_BETTER
from service.schemas.datasets import load_labelled_rows
from service.schemas.fields import (
    IdField,
    RowsField,
    StrictBoolean,
    StrictFloat,
    StrictInteger,
    UnitsField,
)

DEFAULT_HYPERPARAMETERS = hp.DEFAULTS


def _value_field(definition: hp.Hyperparameter, **options: Any) -> ma.fields.Field:
    """One value of `definition`'s kind, within its range or choices."""
    if definition.choices:
        return ma.fields.String(validate=ma.validate.OneOf(definition.choices), **options)
    if definition.kind is bool:
        return StrictBoolean(**options)
    field = StrictInteger if definition.kind is int else StrictFloat
    validate = ma.validate.Range(
        definition.minimum, definition.maximum, min_inclusive=not definition.exclusive_minimum
    )
    return field(validate=validate, **options)


def hyperparameter_field(definition: hp.Hyperparameter) -> ma.fields.Field:
    """The request field of one hyperparameter, documented with its help, default and range."""
    metadata = {"description": definition.description(), "default": definition.json_default}
    if definition.exclusive_minimum:
        # apispec states the range's bounds but not that the minimum is excluded.
        metadata["exclusiveMinimum"] = True
    if definition.length is not None:
        return ma.fields.List(
            _value_field(definition),
            validate=ma.validate.Length(*definition.length),
            metadata=metadata,
        )
    return _value_field(definition, allow_none=definition.nullable, metadata=metadata)


class _HyperparameterRules(ma.Schema):
    """Checks the rules across hyperparameters (`foundation.hyperparameters.RULES`)."""

    @ma.validates_schema
    def _rules(self, data: dict, **_: Any) -> None:
        broken = hp.broken_rules(data)
        if broken:
            raise ma.ValidationError(broken)


def document_hyperparameter_rules(components: dict, name: str = "Hyperparameters") -> None:
    """State each rule across hyperparameters in the OpenAPI component `name`: its `field` left
    out or null, or its `needs` given above its bound (or left out, if its default is)."""
    for rule in hp.RULES:
        above = {"minimum": rule.above, "exclusiveMinimum": True}
        branches: list[dict[str, Any]] = [
            {"properties": {rule.field: {"nullable": True, "enum": [None]}}},
            {"required": [rule.needs], "properties": {rule.needs: above}},
        ]
        if hp.DEFAULTS[rule.needs] > rule.above:
            branches.append({"not": {"required": [rule.needs]}})
        components[name].setdefault("allOf", []).append({"anyOf": branches})


#: Training settings; any left out take their defaults, unknown names are refused.
HyperparametersSchema = _HyperparameterRules.from_dict(
    {each.name: hyperparameter_field(each) for each in hp.HYPERPARAMETERS},
    name="HyperparametersSchema",
)


class PromoteField(ma.fields.Field):
    """A JSON true or false, or "if_better" (nothing else)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if type(value) is not bool and value != IF_BETTER:
            raise ma.ValidationError(f'Must be true, false or "{IF_BETTER}".')
        return value


class TrainRequestSchema(ma.Schema):
    """Train on a stored dataset (dataset_id) or on rows sent inline (exactly one of them)."""

    #: Exactly one of these (stated in OpenAPI).
    SHAPES = (("dataset_id",), ("rows",))

    dataset_id = IdField(metadata={"description": "A dataset from POST /datasets."})
    rows = RowsField(with_gender=True, description="Inline rows, stored as a dataset first.")
    units = UnitsField()
    hyperparameters = ma.fields.Nested(HyperparametersSchema, load_default=dict)
    initial_model_id = IdField(
        allow_none=True,
        load_default=None,
        metadata={"description": "Continue training from this model's weights."},
    )
    promote = PromoteField(
        load_default=True,
        metadata={
            "description": (
                "When the job succeeds: true makes the new model the alias's (latest unless "
                'promote_alias says otherwise), false keeps it out, "if_better" promotes it only '
                "if its validation accuracy (training accuracy without a validation split) is at "
                "least that of the model the alias names, trained on the same dataset, or the "
                "alias names none. A model no better than always answering the majority class "
                "is never promoted automatically; the job's promotion field says what happened."
            ),
            "oneOf": [{"type": "boolean"}, {"type": "string", "enum": [IF_BETTER]}],
        },
    )
    promote_alias = ma.fields.String(
        load_default=DEFAULT_ALIAS,
        validate=ma.validate.Regexp(ALIAS_PATTERN, error="Must match {regex}."),
        metadata={
            "description": "The alias the job moves instead of latest.",
            "pattern": ALIAS_PATTERN,
        },
    )

    @ma.validates_schema
    def _one_source(self, data: dict, **_: Any) -> None:
        if sum(all(name in data for name in shape) for shape in self.SHAPES) != 1:
            message = "Give exactly one of dataset_id or rows."
            raise ma.ValidationError({"dataset_id": [message], "rows": [message]})

    @ma.post_load
    def _columns(self, data: dict, **_: Any) -> dict:
        if "rows" in data:
            data["columns"] = load_labelled_rows(data.pop("rows"), data["units"])
        return data


class TrainAcceptedSchema(ma.Schema):
    job_id = ma.fields.String(required=True)
    status_url = ma.fields.String(required=True, metadata={"description": "GET it to follow."})
