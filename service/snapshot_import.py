"""POST /models: store a snapshot sent by a client, after checking it names every problem."""

from __future__ import annotations

from model_store import ModelStore
from model_store.canonical import snapshot_sha256
from model_store.errors import AlreadyExists, InvalidSnapshot, NotFound
from service.api import abort


def _field_of(reason: str) -> str:
    """The top-level field a store validation message starts with ("weights[0]: ..." -> weights)."""
    path = reason.split(":", 1)[0]
    return path.split("[", 1)[0].split(".", 1)[0].strip() or "snapshot"


def import_snapshot(store: ModelStore, snapshot: dict) -> tuple[dict, bool]:
    """Verify a given sha256 against the content, then let the store validate and save it.

    `snapshot` is the request's JSON as sent (after schema validation), so a sha256 computed by
    the exporting service matches byte for byte. Returns (stored snapshot, created); importing
    a snapshot that is already here, unchanged, returns the stored one with created False.
    """
    given = snapshot.get("sha256")
    if given is not None and given != snapshot_sha256(snapshot):
        abort(
            422,
            message="sha256 does not match the snapshot's content",
            errors={"sha256": ["Does not match the content; the snapshot was altered."]},
        )
    try:
        return store.models.save(snapshot, imported=True), True
    except InvalidSnapshot as exc:
        abort(422, message=str(exc), errors={_field_of(exc.reason): [exc.reason]})
    except AlreadyExists as exc:
        try:
            existing = store.models.snapshot(exc.id)
        except NotFound:  # reserved for a job's model, not saved yet
            existing = None
        if existing is not None and given is not None and existing["sha256"] == given:
            return existing, False
        abort(
            409,
            message=str(exc),
            errors={"id": [f"The id {exc.id!r} is taken (by another model, or a job's model)."]},
        )
