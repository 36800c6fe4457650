"""The models that /predict serves, kept in memory between requests.

The hot path notices a newly promoted model without a system call: it compares the store's
promotion token (`store.promotion_token()`, 8 bytes of shared memory that every `promote`
changes) with the one it saw last, and looks at LATEST itself (`store.latest_version()`, one
`os.stat`) only when the token changed, or at least every `RECHECK_SECONDS` for changes that
bypass `promote`, or on every request while the token cannot be read. The snapshot is read and
verified only when LATEST changed. A latest snapshot that turns out
corrupt is logged and skipped, and the last good model keeps answering (after a restart: the most
recently promoted one that loads, from the store's promotion history). Models asked for by id are
immutable once written, so they are loaded once and kept in a small LRU.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from time import monotonic

from model_store import ModelStore
from model_store.errors import CorruptSnapshot, NotFound

log = logging.getLogger(__name__)

#: How often LATEST is looked at even without a promotion signal (edits that bypass `promote`).
RECHECK_SECONDS = 1.0


class NoModelYet(Exception):
    """No model has been promoted (or every promoted one is unreadable)."""


class ModelCache:
    """Latest model plus an LRU of models pinned by id, per process."""

    def __init__(self, store: ModelStore, pinned_size: int = 8):
        self.store = store
        self.pinned_size = pinned_size
        self._lock = threading.Lock()
        self._latest = None  # the last good TrainedModel
        self._latest_version: object = object()  # never equal to a real version
        self._pinned: OrderedDict[str, object] = OrderedDict()
        self._token: bytes | None = None  # the promotion token when LATEST was last looked at
        self._recheck_at = 0.0  # monotonic time of the next look at LATEST regardless of it
        store.watch_promotions()

    def latest(self):
        """The latest promoted model, reloaded only when the LATEST pointer changed."""
        token = self.store.promotion_token()  # read before LATEST: a later promotion changes it
        if token is None or token != self._token or monotonic() >= self._recheck_at:
            self._look_at_latest(token)
        if self._latest is None:
            raise NoModelYet("no model has been trained or promoted yet")
        return self._latest

    def _look_at_latest(self, token: bytes | None) -> None:
        now = monotonic()
        if now >= self._recheck_at:
            self.store.watch_promotions()  # the signal file may have been replaced or created
        version = self.store.latest_version()
        if version != self._latest_version:
            with self._lock:
                if version != self._latest_version:
                    self._reload_latest(version)
        self._token = token
        self._recheck_at = now + RECHECK_SECONDS

    def _reload_latest(self, version: object) -> None:
        model_id = self.store.latest_model_id()
        if model_id is not None and (self._latest is None or self._latest.model_id != model_id):
            previous = getattr(self._latest, "model_id", None)
            try:
                self._latest = self.store.load_model(model_id)
                log.info("serving model %s (LATEST changed; was %s)", model_id, previous)
            except (CorruptSnapshot, NotFound) as exc:
                if self._latest is None:
                    self._latest = self._last_good_promoted(skip=model_id)
                log.error(
                    "latest model %s is unusable, serving %s instead: %s",
                    model_id,
                    getattr(self._latest, "model_id", None),
                    exc,
                )
        self._latest_version = version

    def _last_good_promoted(self, skip: str):
        """The most recently promoted model that loads, for a process that has served none yet
        (a fresh start while LATEST names a broken file); None if there is none."""
        for model_id in self.store.promotion_history():
            if model_id == skip:
                continue
            try:
                return self.store.load_model(model_id)
            except (CorruptSnapshot, NotFound):
                continue
        return None

    def get(self, model_id: str):
        """The model `model_id` (raises NotFound / CorruptSnapshot), cached after the first load."""
        latest = self._latest
        if latest is not None and latest.model_id == model_id:
            return latest
        with self._lock:
            model = self._pinned.get(model_id)
            if model is not None:
                self._pinned.move_to_end(model_id)
                return model
        model = self.store.load_model(model_id)
        with self._lock:
            self._pinned[model_id] = model
            while len(self._pinned) > self.pinned_size:
                self._pinned.popitem(last=False)
        return model
