"""The models that /predict serves, kept in memory between requests.

Every API process loads the latest model when it starts (`load`, before it accepts a connection:
`service.wsgi`), so it can serve through an outage that begins before its first request. Then,
on every host, it learns of a promotion from the database: at most every `POLL_SECONDS` a request
asks for the newest promotion (one indexed query) and reloads the model only when it changed.
While the database or the object store cannot be reached, the last good model keeps answering
(the failed poll is logged and tried again at the next interval); a process that has no model
yet answers `StoreUnreachable` naming the part, never "no model yet", and tries again at each
interval. A promoted model whose snapshot turns out corrupt is logged and skipped, and the last good
model keeps answering (after a restart: the most recently promoted one that loads). Models asked
for by id are immutable once written, so they are loaded once and kept in a small LRU.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from time import monotonic

from model_store import ModelStore, Promotion
from model_store.errors import CorruptSnapshot, NotFound
from service.store_outages import StoreUnreachable, unreachable_part

log = logging.getLogger(__name__)

#: How often a process asks the database for the newest promotion (a promotion reaches every
#: process within this, plus one request), and tries again after an outage; a process that
#: knows of no promotion yet asks every time.
POLL_SECONDS = 0.25


class NoModelYet(Exception):
    """No model has been promoted (or every promoted one is unreadable)."""


class ModelCache:
    """Latest model plus an LRU of models pinned by id, per process."""

    def __init__(self, store: ModelStore, pinned_size: int = 8) -> None:
        self.store = store
        self.pinned_size = pinned_size
        self._lock = threading.Lock()
        self._latest = None  # the last good TrainedModel
        self._promotion: Promotion | None = None  # the newest promotion seen
        self._poll_at = 0.0  # monotonic time of the next poll
        self._outage: str | None = None  # the part that did not answer the last poll
        self._pinned: OrderedDict[str, object] = OrderedDict()

    def load(self) -> None:
        """Load the latest model now, as a process starts; an outage (or any failure) is
        logged and left to the next poll, never raised."""
        try:
            with self._lock:
                self._poll()
        except Exception:  # noqa: BLE001 - the process must start: requests will say why
            log.exception("cannot load the latest model (will retry)")

    def latest(self):
        """The latest promoted model, reloaded only when a newer promotion exists; NoModelYet
        if none is promoted, StoreUnreachable while a part of the store keeps it from loading
        one."""
        if self._poll_due():
            with self._lock:
                if self._poll_due():
                    self._poll()
        latest, outage = self._latest, self._outage
        if latest is not None:
            return latest
        if outage is not None:
            raise StoreUnreachable(outage)
        raise NoModelYet("no model has been trained or promoted yet")

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

    def _poll_due(self) -> bool:
        if self._latest is None and self._outage is None:
            return True  # no promotion known yet: the first one is served at once
        return monotonic() >= self._poll_at

    def _poll(self) -> None:
        self._poll_at = monotonic() + POLL_SECONDS
        try:
            self._follow_promotion()
        except Exception as exc:  # noqa: BLE001 - a part unreachable: keep serving, retry
            part = unreachable_part(exc)
            if part is None and self._latest is None:
                raise
            if self._outage is None:
                log.warning(
                    "cannot follow the promotions (serving %s; trying again every %g s): %s",
                    getattr(self._latest, "model_id", "no model"),
                    POLL_SECONDS,
                    exc,
                )
            self._outage = part or self._outage
            return
        if self._outage is not None:
            log.info("the store answers again; serving %s", getattr(self._latest, "model_id", None))
        self._outage = None

    def _follow_promotion(self) -> None:
        """Load the newest promotion's model if it changed (raises what the store raises)."""
        promotion = self.store.models.latest_promotion()
        if promotion is None or promotion == self._promotion:
            return
        model_id = promotion.model_id
        previous = getattr(self._latest, "model_id", None)
        if model_id != previous:
            try:
                self._latest = self.store.models.load(model_id)
                log.info("serving model %s (promoted; was %s)", model_id, previous)
            except (CorruptSnapshot, NotFound) as exc:
                if self._latest is None:
                    self._latest = self._last_good_promoted(skip=model_id)
                log.error(
                    "promoted model %s is unusable, serving %s instead: %s",
                    model_id,
                    getattr(self._latest, "model_id", None),
                    exc,
                )
        self._promotion = promotion

    def _last_good_promoted(self, skip: str):
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

    def get(self, model_id: str):
        """The model `model_id` (raises NotFound / CorruptSnapshot / StoreUnreachable), cached
        after the first load.

        A cached model is served only while its row exists (one primary-key lookup): a model
        deleted through any API process answers NotFound here from the next request on.
        """
        latest = self._latest
        if latest is not None and latest.model_id == model_id:
            return self._still_stored(latest)
        with self._lock:
            model = self._pinned.get(model_id)
            if model is not None:
                self._pinned.move_to_end(model_id)
        if model is not None:
            return self._still_stored(model)
        try:
            model = self.store.models.load(model_id)
        except Exception as exc:
            part = unreachable_part(exc)
            if part is None:
                raise
            raise StoreUnreachable(part) from exc
        with self._lock:
            self._pinned[model_id] = model
            while len(self._pinned) > self.pinned_size:
                self._pinned.popitem(last=False)
        return model

    def _still_stored(self, model):
        """`model` if its row still exists, else NotFound (and it leaves the cache). While the
        database cannot be reached, the cached model keeps answering, as the latest one does."""
        try:
            stored = self.store.models.exists(model.model_id)
        except Exception as exc:
            if unreachable_part(exc) is None:
                raise
            log.warning("cannot check model %s (serving it from memory): %s", model.model_id, exc)
            return model
        if stored:
            return model
        with self._lock:
            self._pinned.pop(model.model_id, None)
        raise NotFound("model", model.model_id)
