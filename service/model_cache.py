"""The models that /predict serves, kept in memory between requests, by alias.

Every API process loads the models its aliases name when it starts (`load`, before it accepts a
connection: `service.wsgi`), so it can serve through an outage that begins before its first
request. Then, on every host, it learns of a change of any alias (a promotion moves `latest`)
from the database: at most every `POLL_SECONDS` a request asks for the registry's version (the
newest history row's `seq`: one query on the primary key) and, only when it moved, reads the
newest row of every alias (one query) and loads the models of the aliases that changed (each
member of a split) before serving their new assignment. While the database or the object store
cannot be reached, the last good assignments keep answering (the failed poll is logged and tried
again at the next interval); a process that has no model yet answers `StoreUnreachable` naming
the part, never "no model yet", and tries again at each interval. An alias moved to a model whose
snapshot turns out corrupt is logged and keeps its last good assignment (for `latest`, after a
restart: the most recently promoted model that loads).

Models asked for by id (`get`) are loaded once and kept in a small LRU, and served from memory
with no query at all. The same poll learns which models were deleted (or imported again under
the same id) since the last event it saw (`EventTable.model_changes_after`: the registry's
`model_deleted` and `model_created` events after its position, on the primary key): it drops
them from the LRU and remembers the deleted ones, which then answer NotFound with no query. So
a deletion reaches the process that made it (`DELETE /models/{id}` calls `forget`) from its next
request, and every other process within `POLL_SECONDS` plus one request, as alias changes do.
If the events after its position were pruned (`NNSERVICE_EVENTS_RETENTION_SECONDS`, after a
long outage), or it has no position yet, the poll re-checks the rows of all its pinned models at
once (one query, comparing each stored sha256) instead. While the database cannot be reached the
pinned models keep answering from memory; the failed poll is logged, not each request.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from itertools import accumulate
from time import monotonic

from model_store import AliasChange, AliasMember, ModelStore
from model_store.errors import CorruptSnapshot, NotFound
from model_store.models import LATEST
from model_store.trained_model import TrainedModel
from service.store_outages import StoreUnreachable, unreachable_part

log = logging.getLogger(__name__)

#: How often a process asks the database whether an alias changed or a model was deleted (a
#: change reaches every process within this, plus one request), and tries again after an
#: outage; a process that knows of no `latest` yet, or is asked for an alias it does not know,
#: asks for the aliases every time (and for the models' events still at most this often).
POLL_SECONDS = 0.25
#: How many deleted model ids a process remembers (answered NotFound with no query; an older
#: one is looked up in the store again, and its row is gone).
GONE_SIZE = 1024


class NoModelYet(Exception):
    """No model has been promoted (or every promoted one is unreadable)."""


class UnknownAlias(Exception):
    """No alias of this name is set."""

    def __init__(self, alias: str) -> None:
        super().__init__(f"alias {alias!r} not found")
        self.alias = alias


def routing_point(routing_key: str, total: int) -> int:
    """Where `routing_key` falls in [0, total): a stable hash, the same in every process."""
    digest = hashlib.blake2b(routing_key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % total


@dataclass(frozen=True)
class Assignment:
    """What an alias serves: its loaded models and their cumulative weights."""

    change: AliasChange
    models: tuple[TrainedModel, ...]
    bounds: tuple[int, ...]

    @classmethod
    def of(cls, change: AliasChange, models: list[TrainedModel]) -> Assignment:
        weights = [member.weight for member in change.members]
        return cls(change, tuple(models), tuple(accumulate(weights)))

    def pick(self, routing_key: str | None = None) -> TrainedModel:
        """A member by weight: at random, or always the same one for `routing_key`."""
        if len(self.models) == 1:
            return self.models[0]
        total = self.bounds[-1]
        point = (
            random.randrange(total) if routing_key is None else routing_point(routing_key, total)
        )
        return self.models[bisect.bisect_right(self.bounds, point)]


class ModelCache:
    """The models of every alias plus an LRU of models pinned by id, per process."""

    def __init__(self, store: ModelStore, pinned_size: int = 8) -> None:
        self.store = store
        self.pinned_size = pinned_size
        self._lock = threading.Lock()
        self._aliases: dict[str, Assignment] = {}  # the last good assignment of each alias
        self._version: int | None = None  # the registry version they reflect
        self._poll_at = 0.0  # monotonic time of the next poll
        self._outage: str | None = None  # the part that did not answer the last poll
        self._pinned: OrderedDict[str, TrainedModel] = OrderedDict()
        self._models_poll_at = 0.0  # monotonic time of the next look at the models' events
        self._events_seen: int | None = None  # the newest event the pinned models reflect
        self._gone: OrderedDict[str, None] = OrderedDict()  # deleted models, newest last

    def load(self) -> None:
        """Load the aliases' models now, as a process starts; an outage (or any failure) is
        logged and left to the next poll, never raised."""
        try:
            with self._lock:
                self._poll()
        except Exception:  # noqa: BLE001 - the process must start: requests will say why
            log.exception("cannot load the aliases' models (will retry)")

    def expire(self) -> None:
        """Poll at the next request (this process just changed an alias or a model)."""
        self._poll_at = 0.0
        self._models_poll_at = 0.0

    def forget(self, model_id: str) -> None:
        """`model_id` was just deleted through this process: it answers NotFound from the next
        request on (other processes learn it at their next poll)."""
        with self._lock:
            self._pinned.pop(model_id, None)
            self._mark_gone(model_id)

    def latest(self) -> TrainedModel:
        """The latest promoted model, reloaded only when a newer promotion exists; NoModelYet
        if none is promoted, StoreUnreachable while a part of the store keeps it from loading
        one."""
        return self.resolve(LATEST)

    def resolve(self, alias: str, routing_key: str | None = None) -> TrainedModel:
        """The model `alias` sends this request to (by weight, or by `routing_key`); for
        `latest` as `latest()` says, for another alias UnknownAlias if it is not set."""
        if self._poll_due(alias):
            with self._lock:
                if self._poll_due(alias):
                    self._poll()
        assignment, outage = self._aliases.get(alias), self._outage
        if assignment is not None:
            return assignment.pick(routing_key)
        if outage is not None:
            raise StoreUnreachable(outage)
        if alias == LATEST:
            raise NoModelYet("no model has been trained or promoted yet")
        raise UnknownAlias(alias)

    def has_alias(self, alias: str) -> bool:
        """Whether this process serves `alias` now (no poll)."""
        return alias in self._aliases

    def knows(self, alias: str) -> bool:
        """Whether `alias` is set, as far as this process knows (polling if it is time)."""
        try:
            self.resolve(alias)
        except (UnknownAlias, NoModelYet, StoreUnreachable):
            return False
        return True

    def outage(self) -> StoreUnreachable | None:
        """What keeps this process from serving the latest model (polling if it is time), or
        None: a model is loaded, or the database says that none is promoted."""
        try:
            self.latest()
        except StoreUnreachable as outage:
            return outage
        except NoModelYet:
            return None
        return None

    def _poll_due(self, alias: str) -> bool:
        if alias not in self._aliases and self._outage is None:
            return True  # not known yet: a newly set alias is served at once
        return monotonic() >= self._poll_at

    def _poll(self) -> None:
        now = monotonic()
        self._poll_at = now + POLL_SECONDS
        follow_models = now >= self._models_poll_at
        if follow_models:
            self._models_poll_at = now + POLL_SECONDS
        try:
            self._follow_aliases()
            if follow_models:
                self._follow_models()
        except Exception as exc:  # noqa: BLE001 - a part unreachable: keep serving, retry
            part = unreachable_part(exc)
            if part is None and not self._aliases:
                raise
            if self._outage is None:
                log.warning(
                    "cannot follow the aliases (serving %s; trying again every %g s): %s",
                    self._serving(),
                    POLL_SECONDS,
                    exc,
                )
            self._outage = part or self._outage
            return
        if self._outage is not None:
            log.info("the store answers again; serving %s", self._serving())
        self._outage = None

    def _serving(self) -> str:
        latest = self._aliases.get(LATEST)
        return latest.models[0].model_id if latest is not None else "no model"

    def _follow_aliases(self) -> None:
        """Load the models of the aliases that changed since the last poll (raises what the
        store raises, keeping every assignment as it was)."""
        version = self.store.aliases.version()
        if version == self._version:
            return
        aliases = dict(self._aliases)
        for change in self.store.aliases.newest():
            known = aliases.get(change.alias)
            if known is not None and known.change.seq == change.seq:
                continue
            if change.removed:
                aliases.pop(change.alias, None)
                log.info("alias %s removed", change.alias)
                continue
            assignment = self._assignment(change, aliases)
            if assignment is not None:
                aliases[change.alias] = assignment
        self._aliases = aliases
        self._version = version

    def _assignment(self, change: AliasChange, aliases: dict[str, Assignment]) -> Assignment | None:
        """The new assignment of `change`'s alias with every member loaded; None (and the old
        one kept) if a member is unusable."""
        loaded = {model.model_id: model for a in aliases.values() for model in a.models}
        try:
            models = [
                loaded.get(member.model_id) or self.store.models.load(member.model_id)
                for member in change.members
            ]
        except (CorruptSnapshot, NotFound) as exc:
            if change.alias == LATEST and LATEST not in aliases:
                fallback = self._last_good_promoted(skip=change.model_id)
                if fallback is not None:
                    aliases[LATEST] = Assignment.of(change_of(change, fallback), [fallback])
            log.error(
                "alias %s names an unusable model, serving %s instead: %s",
                change.alias,
                [m.model_id for m in getattr(aliases.get(change.alias), "models", ())],
                exc,
            )
            return None
        previous = aliases.get(change.alias)
        log.info(
            "serving %s %s as %s (was %s)",
            "models" if change.is_split else "model",
            ",".join(
                f"{m.model_id}:{m.weight}" if change.is_split else m.model_id
                for m in change.members
            ),
            change.alias,
            ",".join(m.model_id for m in previous.models) if previous else None,
        )
        return Assignment.of(change, models)

    def _last_good_promoted(self, skip: str | None) -> TrainedModel | None:
        """The most recently promoted model that loads, for a process that has served none yet
        (a fresh start while the newest promotion names a broken snapshot); None if none."""
        for model_id in self.store.models.promoted_ids():
            if model_id == skip:
                continue
            try:
                return self.store.models.load(model_id)
            except (CorruptSnapshot, NotFound):
                continue
        return None

    def _follow_models(self) -> None:
        """Drop the pinned models created or deleted since the last event seen, and remember
        the deleted ones; re-check every pinned row if that position is unknown or pruned
        (raises what the store raises, changing nothing). Called holding the lock."""
        if self._events_seen is None:
            newest = self.store.events.newest_id()
            self._recheck_pinned()
            self._events_seen = newest
            return
        changes = self.store.events.model_changes_after(self._events_seen)
        if changes.pruned:
            log.info(
                "registry events after %d were pruned: re-checking the pinned models",
                self._events_seen,
            )
            self._recheck_pinned()
        for model_id, exists in changes.exists.items():
            self._pinned.pop(model_id, None)
            if exists:
                self._gone.pop(model_id, None)
            else:
                self._mark_gone(model_id)
        self._events_seen = changes.newest_id

    def _recheck_pinned(self) -> None:
        """Drop the pinned models whose row is gone or holds another snapshot (one query)."""
        if not self._pinned:
            return
        stored = self.store.models.sha256s(list(self._pinned))
        for model_id, model in list(self._pinned.items()):
            sha256 = stored.get(model_id)
            if sha256 != model.snapshot.get("sha256"):
                del self._pinned[model_id]
                if sha256 is None:
                    self._mark_gone(model_id)

    def _mark_gone(self, model_id: str) -> None:
        """Remember that `model_id` was deleted (the oldest of `GONE_SIZE` is forgotten)."""
        self._gone[model_id] = None
        self._gone.move_to_end(model_id)
        while len(self._gone) > GONE_SIZE:
            self._gone.popitem(last=False)

    def get(self, model_id: str) -> TrainedModel:
        """The model `model_id` (raises NotFound / CorruptSnapshot / StoreUnreachable), cached
        after the first load and then served from memory with no query: a deletion is learned
        by the poll (the module's docstring), so it answers NotFound from the next request in
        the process that deleted it and within `POLL_SECONDS` in every other one.
        """
        if monotonic() >= self._poll_at:
            with self._lock:
                if monotonic() >= self._poll_at:
                    self._poll_quietly()
        if model_id in self._gone:
            raise NotFound("model", model_id)
        for assignment in self._aliases.values():
            for model in assignment.models:
                if model.model_id == model_id:
                    return model
        with self._lock:
            model = self._pinned.get(model_id)
            if model is not None:
                self._pinned.move_to_end(model_id)
        if model is not None:
            return model
        try:
            model = self.store.models.load(model_id)
        except Exception as exc:
            part = unreachable_part(exc)
            if part is None:
                raise
            raise StoreUnreachable(part) from exc
        with self._lock:
            if model_id in self._gone:  # a poll learned of its deletion while it loaded
                raise NotFound("model", model_id)
            self._pinned[model_id] = model
            while len(self._pinned) > self.pinned_size:
                self._pinned.popitem(last=False)
        return model

    def _poll_quietly(self) -> None:
        """Poll for `get`: the models it holds keep answering whatever the poll meets (an
        outage is logged by `_poll`; anything else is logged here, once per poll)."""
        try:
            self._poll()
        except Exception:  # noqa: BLE001 - a pinned model still answers from memory
            log.exception("cannot poll the store (serving the models in memory)")


def change_of(change: AliasChange, model: TrainedModel) -> AliasChange:
    """`change` as if it named `model` alone (the fallback a fresh process serves for latest)."""
    return replace(change, members=(AliasMember(model.model_id, 1),), is_split=False)
