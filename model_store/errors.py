"""The store's exceptions: one base class, one subclass per way a store operation can fail."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the model store raises on purpose."""


class NotFound(StoreError):
    """No `kind` (dataset, model, job) with this id exists in the store."""

    def __init__(self, kind: str, id: str) -> None:
        super().__init__(f"{kind} {id!r} not found")
        self.kind = kind
        self.id = id


class AlreadyExists(StoreError):
    """A `kind` with this id exists already and may not be replaced."""

    def __init__(self, kind: str, id: str) -> None:
        super().__init__(f"{kind} {id!r} already exists")
        self.kind = kind
        self.id = id


class CorruptSnapshot(StoreError):
    """The snapshot file exists but cannot be trusted (truncated, not JSON, bad sha256, ...)."""

    def __init__(self, model_id: str, reason: str) -> None:
        super().__init__(f"model {model_id!r} is corrupt: {reason}")
        self.model_id = model_id
        self.reason = reason


class InvalidId(StoreError, ValueError):
    """A value that is not a valid store id; it never becomes a path."""

    def __init__(self, value: object) -> None:
        super().__init__(f"invalid id {value!r}")
        self.value = value


class InvalidSnapshot(StoreError, ValueError):
    """A snapshot offered for import or saving is malformed; the reason names the field."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid snapshot: {reason}")
        self.reason = reason


class StoreWriteError(StoreError):
    """A write failed (disk full, read-only, permission); nothing partial was left behind."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ObjectStoreUnreachable(StoreError):
    """The object store did not answer (refused, timed out, a server error): the object itself
    may well be intact, so a reader tries again later instead of calling it corrupt."""


class SchemaOutOfDate(StoreError):
    """The database's schema is not the one this version of nnservice needs."""


class InvalidPageToken(StoreError, ValueError):
    """A page token that this store did not hand out (or for another listing)."""

    def __init__(self, token: object) -> None:
        super().__init__(f"page_token: not a token this listing handed out: {token!r}")
        self.token = token


class InUse(StoreError):
    """A `kind` cannot be deleted while others still need it; `holders` names them by kind,
    e.g. {"aliases": ["latest"], "jobs": ["f3c1..."]}."""

    def __init__(self, kind: str, id: str, holders: dict[str, list[str]]) -> None:
        named = "; ".join(f"{what} {', '.join(ids)}" for what, ids in holders.items() if ids)
        super().__init__(f"{kind} {id!r} is in use ({named})")
        self.kind = kind
        self.id = id
        self.holders = holders
