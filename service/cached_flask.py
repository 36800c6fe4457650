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
            if type(func) is FunctionType:  # module-level functions: a fixed set, safe to keep
                self._sync_functions[func] = sync
        return sync
