"""Aliases: names that point at a model or a weighted split, with their history.

GET /aliases, GET|PUT|DELETE /aliases/{name}, GET /aliases/{name}/history. `latest` is the
alias POST /models/{id}/promote moves and /predict serves by default; it cannot be removed.
"""

from __future__ import annotations

from typing import NoReturn

from flask.views import MethodView

from model_store import AliasMember
from model_store.aliases import ALIAS_PATTERN, ALIAS_RULE, AliasRequired
from model_store.errors import NotFound
from service.api import Blueprint, ErrorSchema, abort
from service.auth import caller_name
from service.context import services
from service.schemas.aliases import (
    AliasChangeSchema,
    AliasSchema,
    AliasSetSchema,
    alias_body,
)

blp = Blueprint("aliases", __name__, url_prefix="/aliases", description="Model aliases.")


def _checked(name: str) -> str:
    """`name` if it is an alias name, else 400 naming the rule."""
    if ALIAS_PATTERN.fullmatch(name) is None:
        message = f"Not an alias name: it must match {ALIAS_RULE}."
        abort(400, message=f"invalid alias name {name[:100]!r}", errors={"name": [message]})
    return name


def _no_alias(name: str) -> NoReturn:
    message = f"alias {name!r} not found"
    abort(404, message=message, errors={"alias": [message]})


def _current(name: str) -> dict:
    try:
        return alias_body(services().store.aliases.get(name))
    except NotFound as error:
        if error.kind != "alias":
            raise
        _no_alias(name)


@blp.route("")
class Aliases(MethodView):
    @blp.response(200, AliasSchema(many=True))
    def get(self):
        """Every alias set now, by name, with what it names."""
        return [alias_body(change) for change in services().store.aliases.list()]


@blp.route("/<alias:name>")
class Alias(MethodView):
    @blp.response(200, AliasSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="Not an alias name.")
    @blp.alt_response(404, schema=ErrorSchema, description="No alias of this name.")
    def get(self, name: str):
        """What the alias names now."""
        return _current(_checked(name))

    @blp.arguments(AliasSetSchema())
    @blp.response(200, AliasSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="Not an alias name.")
    @blp.alt_response(404, schema=ErrorSchema, description="A model named does not exist.")
    @blp.alt_response(409, schema=ErrorSchema, description="A model named is corrupt.")
    def put(self, data: dict, name: str):
        """Point the alias at one model or a split (weights are positive integers); every API
        process serves the change within a second."""
        _checked(name)
        weights: dict[str, int] = {}
        for member in data.get("split") or [{"model_id": data["model_id"], "weight": 1}]:
            weights[member["model_id"]] = weights.get(member["model_id"], 0) + member["weight"]
        members = [AliasMember(model_id, weight) for model_id, weight in weights.items()]
        change = services().store.aliases.set(name, members, caller_name())
        services().models.expire()
        return alias_body(change)

    @blp.response(204)
    @blp.alt_response(400, schema=ErrorSchema, description="Not an alias name.")
    @blp.alt_response(404, schema=ErrorSchema, description="No alias of this name.")
    @blp.alt_response(409, schema=ErrorSchema, description="`latest` cannot be removed.")
    def delete(self, name: str):
        """Remove the alias (its history stays); `latest` cannot be removed."""
        _checked(name)
        try:
            services().store.aliases.remove(name, caller_name())
        except AliasRequired as error:
            abort(409, message=str(error), errors={"alias": [str(error)]})
        except NotFound as error:
            if error.kind != "alias":
                raise
            _no_alias(name)
        services().models.expire()


@blp.route("/<alias:name>/history")
@blp.response(200, AliasChangeSchema(many=True))
@blp.alt_response(400, schema=ErrorSchema, description="Not an alias name.")
@blp.alt_response(404, schema=ErrorSchema, description="The alias was never set.")
def history(name: str):
    """Every change of the alias, newest first, with its time and the API key's name that made
    it (or "anonymous"); a removal names no model."""
    changes = services().store.aliases.history(_checked(name), 1000)
    if not changes:
        _no_alias(name)
    return [alias_body(change) for change in changes]
