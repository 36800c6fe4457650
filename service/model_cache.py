"""The models that /predict serves, kept in memory between requests.

Every API process, on every host, learns of a promotion from the database: at most every
`POLL_SECONDS` a request asks for the newest promotion (one indexed query) and reloads the model
only when it changed. While the database cannot be reached, the last good model keeps answering
(a failed poll is logged and retried at the next interval). A promoted model whose snapshot turns
out corrupt is logged and skipped, and the last good model keeps answering (after a restart: the
most recently promoted one that loads). Models asked for by id are immutable once written, so
they are loaded once and kept in a small LRU.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from time import monotonic

from model_store import ModelStore, Promotion
from model_store.errors import CorruptSnapshot, NotFound

log = logging.getLogger(__name__)

#: How often a process asks the database for the newest promotion (a promotion reaches every
#: process within this, plus one request); a process that serves no model yet asks every time.
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
        self._pinned: OrderedDict[str, object] = OrderedDict()

    def latest(self):
        """The latest promoted model, reloaded only when a newer promotion exists."""
        if self._latest is None or monotonic() >= self._poll_at:
            with self._lock:
                if self._latest is None or monotonic() >= self._poll_at:
                    self._poll()
        if self._latest is None:
            raise NoModelYet("no model has been trained or promoted yet")
        return self._latest

    def _poll(self) -> None:
        self._poll_at = monotonic() + POLL_SECONDS
        try:
            promotion = self.store.models.latest_promotion()
        except Exception as exc:  # noqa: BLE001 - database unreachable: keep serving
            log.warning("cannot read promotions (serving the last good model): %s", exc)
            return
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
            except Exception as exc:  # noqa: BLE001 - object store unreachable: retry next poll
                log.warning("cannot load promoted model %s (will retry): %s", model_id, exc)
                return
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
        """The model `model_id` (raises NotFound / CorruptSnapshot), cached after the first load.

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
        model = self.store.models.load(model_id)
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
        except Exception as exc:  # noqa: BLE001 - database unreachable: keep serving
            log.warning("cannot check model %s (serving it from memory): %s", model.model_id, exc)
            return model
        if stored:
            return model
        with self._lock:
            self._pinned.pop(model.model_id, None)
        raise NotFound("model", model.model_id)
