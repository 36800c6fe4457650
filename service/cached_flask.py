"""Flask, minus a per-request cost: `ensure_sync` remembers its answer for each function.

Flask passes every view, hook and error handler through `ensure_sync` on every request, which asks
`inspect.iscoroutinefunction` each time; flask-smorest's decorators add one call per decorator
(a documented view has six or seven). The answer for a given function never changes, so it is
looked up once and kept: this saves several microseconds of every single-row /predict.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import Any

from flask import Flask

#: Far more than the app's views, hooks and handlers; a bound, so the cache can never leak.
MAX_CACHED_FUNCTIONS = 1024


class CachedSyncFlask(Flask):
    """A Flask app whose `ensure_sync` caches its result per plain function."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_functions: dict[Callable, Callable] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        """`Flask.ensure_sync(func)`, computed once per plain function (views, hooks, handlers)."""
        sync = self._sync_functions.get(func)
        if sync is None:
            sync = super().ensure_sync(func)
            # Views, hooks and handlers are a fixed set; closures made per request (such as
            # `after_this_request` callbacks) must not grow the cache, hence the bound.
            if type(func) is FunctionType and len(self._sync_functions) < MAX_CACHED_FUNCTIONS:
                self._sync_functions[func] = sync
        return sync
