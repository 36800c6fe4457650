"""Aliases: PUT /aliases/{name}'s body, an alias as GET shows it, and one change of its history."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from model_store import AliasChange
from model_store.aliases import ALIAS_RULE
from service.schemas.fields import IdField, StrictInteger

#: At most this many models in one split.
MAX_SPLIT = 16


class SplitMemberSchema(ma.Schema):
    model_id = IdField(required=True)
    weight = StrictInteger(
        required=True,
        validate=ma.validate.Range(min=1, max=1_000_000),
        metadata={"description": "Its share: weight / the sum of the split's weights."},
    )


class AliasSetSchema(ma.Schema):
    """Either one model_id, or a split of several models with positive integer weights."""

    SHAPES = (("model_id",), ("split",))

    model_id = IdField(metadata={"description": "The one model the alias names."})
    split = ma.fields.List(
        ma.fields.Nested(SplitMemberSchema),
        validate=ma.validate.Length(min=1, max=MAX_SPLIT),
        metadata={
            "description": "Models sharing the alias's requests by weight (a model listed "
            "twice gets the sum of its weights)."
        },
    )

    @ma.validates_schema
    def _one_shape(self, data: dict, **_: Any) -> None:
        given = [name for name in ("model_id", "split") if name in data]
        if len(given) != 1:
            message = "Give either model_id or split, exactly one."
            raise ma.ValidationError({name: [message] for name in ("model_id", "split")})


class AliasMemberSchema(ma.Schema):
    model_id = ma.fields.String(required=True)
    weight = ma.fields.Integer(required=True)


class AliasSchema(ma.Schema):
    """What an alias names now (a split's model_id is its first member)."""

    name = ma.fields.String(required=True, metadata={"pattern": ALIAS_RULE})
    model_id = ma.fields.String(required=True)
    split = ma.fields.List(
        ma.fields.Nested(AliasMemberSchema),
        required=True,
        allow_none=True,
        metadata={"description": "The split's members, or null for one model."},
    )
    changed_at = ma.fields.String(required=True)
    changed_by = ma.fields.String(
        required=True, metadata={"description": 'The API key\'s name, or "anonymous".'}
    )


class AliasChangeSchema(ma.Schema):
    """One change of an alias: what it named from then on (nothing once removed)."""

    seq = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    model_id = ma.fields.String(required=True, allow_none=True)
    split = ma.fields.List(ma.fields.Nested(AliasMemberSchema), required=True, allow_none=True)
    removed = ma.fields.Boolean(required=True)
    changed_at = ma.fields.String(required=True)
    changed_by = ma.fields.String(required=True)


def alias_body(change: AliasChange) -> dict:
    """`change` as the API shows it (AliasSchema's and AliasChangeSchema's fields)."""
    split = (
        [{"model_id": m.model_id, "weight": m.weight} for m in change.members]
        if change.is_split
        else None
    )
    return {
        "seq": change.seq,
        "name": change.alias,
        "model_id": change.model_id,
        "split": split,
        "removed": change.removed,
        "changed_at": change.changed_at,
        "changed_by": change.changed_by,
    }
