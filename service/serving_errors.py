"""Why the model a request names cannot be served, classified once for every protocol.

Serving a model fails in five ways: none has been promoted yet (409), no model has the id asked
for (404), no alias has the name asked for (404, naming `alias`), its snapshot is corrupt (409),
or a part of the store that it must be read from is unreachable (503, naming the part:
`service.store_outages`). Each becomes one `Unservable`, with the status, the message and the
field its `errors` name written here. It is a `ProtocolError`,
so the MLflow and v2 blueprints answer it in their own shape as raised; POST /predict renders it
in the API's common shape (`service.prediction`).
"""

from __future__ import annotations

from enum import Enum

from model_store import ModelStore
from model_store.aliases import ALIAS_PATTERN
from model_store.errors import CorruptSnapshot, NotFound
from model_store.models import LATEST
from model_store.trained_model import TrainedModel
from service.model_cache import ModelCache, NoModelYet, UnknownAlias
from service.protocol_errors import ProtocolError
from service.store_outages import StoreUnreachable, unreachable_part

#: What a client can do about there being no model yet.
TRAIN_FIRST = "train one with POST /train first"


class Reason(Enum):
    """The five ways a model cannot be served."""

    NO_MODEL = "no model yet"
    UNKNOWN = "not found"
    UNKNOWN_ALIAS = "no such alias"
    CORRUPT = "corrupt"
    UNREACHABLE = "unreachable"


#: The HTTP status of each reason.
STATUS = {
    Reason.NO_MODEL: 409,
    Reason.UNKNOWN: 404,
    Reason.UNKNOWN_ALIAS: 404,
    Reason.CORRUPT: 409,
    Reason.UNREACHABLE: 503,
}

#: A failure to serve a model, as the cache and the store raise it.
Failure = NoModelYet | NotFound | CorruptSnapshot | StoreUnreachable | UnknownAlias


class Unservable(ProtocolError):
    """A model that cannot be served: why, its status and message, the id asked for (None for
    the latest model), and the field an error body's `errors` names (`model_id`, or the
    unreachable part)."""

    def __init__(
        self, reason: Reason, message: str, model_id: str | None, field: str = "model_id"
    ) -> None:
        super().__init__(STATUS[reason], message)
        self.reason = reason
        self.model_id = model_id
        self.field = field


def unservable(error: Failure, model_id: str | None) -> Unservable:
    """The one classification of a failure to serve `model_id` (None: the latest model)."""
    if isinstance(error, NoModelYet):
        return Unservable(Reason.NO_MODEL, f"{error}: {TRAIN_FIRST}", model_id)
    if isinstance(error, NotFound):
        return Unservable(Reason.UNKNOWN, str(error), model_id)
    if isinstance(error, UnknownAlias):
        return Unservable(Reason.UNKNOWN_ALIAS, str(error), model_id, field="alias")
    if isinstance(error, StoreUnreachable):
        return Unservable(Reason.UNREACHABLE, error.message, model_id, field=error.part)
    return Unservable(Reason.CORRUPT, str(error), model_id)


def pick_model(
    models: ModelCache,
    model_id: str | None,
    alias: str | None = None,
    routing_key: str | None = None,
) -> TrainedModel:
    """`model_id`'s model, else the one `alias` (default `latest`) sends this request to (by
    weight, or by `routing_key`), from the cache; raises Unservable."""
    try:
        if model_id is not None:
            return models.get(model_id)
        return models.resolve(alias or LATEST, routing_key)
    except (NoModelYet, NotFound, CorruptSnapshot, StoreUnreachable, UnknownAlias) as error:
        raise unservable(error, model_id) from None


def check_model(store: ModelStore, model_id: str) -> None:
    """Raise Unservable unless `model_id` exists and is not known to be corrupt: one indexed
    lookup of its listing entry, without loading it (damage not read yet is found when it is
    loaded, as the repository index reports it)."""
    try:
        summary = store.models.get(model_id)
    except NotFound as error:
        raise unservable(error, model_id) from None
    except Exception as error:
        part = unreachable_part(error)
        if part is None:
            raise
        raise unservable(StoreUnreachable(part), model_id) from error
    if summary.status == "corrupt":
        raise unservable(CorruptSnapshot(model_id, summary.error or ""), model_id)


def pick_version(models: ModelCache, version: str) -> tuple[TrainedModel, str | None]:
    """The model a protocol's version names and the alias it went through (None for a model
    id): an alias this process serves first, else a model id, else an alias set meanwhile;
    raises Unservable (UNKNOWN_ALIAS when it is neither)."""
    if models.has_alias(version):
        return pick_model(models, None, version), version
    try:
        return pick_model(models, version), None
    except Unservable as failure:
        if failure.reason is not Reason.UNKNOWN or ALIAS_PATTERN.fullmatch(version) is None:
            raise
    return pick_model(models, None, version), version
