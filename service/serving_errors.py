"""Why the model a request names cannot be served, classified once for every protocol.

Serving a model fails in four ways: none has been promoted yet (409), no model has the id asked
for (404), its snapshot is corrupt (409), or a part of the store that it must be read from is
unreachable (503, naming the part: `service.store_outages`). Each becomes one `Unservable`, with
the status, the message and the field its `errors` name written here. It is a `ProtocolError`,
so the MLflow and v2 blueprints answer it in their own shape as raised; POST /predict renders it
in the API's common shape (`service.prediction`).
"""

from __future__ import annotations

from enum import Enum

from model_store import ModelStore
from model_store.errors import CorruptSnapshot, NotFound
from model_store.trained_model import TrainedModel
from service.model_cache import ModelCache, NoModelYet
from service.protocol_errors import ProtocolError
from service.store_outages import StoreUnreachable, unreachable_part

#: What a client can do about there being no model yet.
TRAIN_FIRST = "train one with POST /train first"


class Reason(Enum):
    """The four ways a model cannot be served."""

    NO_MODEL = "no model yet"
    UNKNOWN = "not found"
    CORRUPT = "corrupt"
    UNREACHABLE = "unreachable"


#: The HTTP status of each reason.
STATUS = {Reason.NO_MODEL: 409, Reason.UNKNOWN: 404, Reason.CORRUPT: 409, Reason.UNREACHABLE: 503}

#: A failure to serve a model, as the cache and the store raise it.
Failure = NoModelYet | NotFound | CorruptSnapshot | StoreUnreachable


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
    if isinstance(error, StoreUnreachable):
        return Unservable(Reason.UNREACHABLE, error.message, model_id, field=error.part)
    return Unservable(Reason.CORRUPT, str(error), model_id)


def pick_model(models: ModelCache, model_id: str | None) -> TrainedModel:
    """The latest model, or `model_id`'s, from the cache; raises Unservable."""
    try:
        return models.latest() if model_id is None else models.get(model_id)
    except (NoModelYet, NotFound, CorruptSnapshot, StoreUnreachable) as error:
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
