"""A token that changes with every promotion, readable from shared memory without a system call.

`models/PROMOTED` holds 8 bytes. `ModelFiles.promote` overwrites them in place with new random bytes
after `LATEST` has been replaced. A process that maps the file (`watch`) reads the token straight
from the page cache that every process on the host shares, so the API's model cache can look for
a new model on every request for a fraction of a microsecond, instead of a `stat` of `LATEST`
(a system call, which under gunicorn's threads also hands the GIL to another thread and waits to
get it back).

The token is a hint to look at `LATEST` again, nothing more: `LATEST` stays the truth. It is not
fsynced (it only matters to processes running now), and anything that changes `LATEST` without
`promote` (an operator's edit, a store shared with another host) does not change it, so readers
also look at `LATEST` itself now and then (`service.model_cache`).
"""

from __future__ import annotations

import contextlib
import mmap
import os
from pathlib import Path

from model_store.atomic import create_exclusive
from model_store.errors import StoreWriteError

SIGNAL = "PROMOTED"
TOKEN_BYTES = 8


class PromotionSignal:
    """The shared token of one store's `models/PROMOTED` file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._map: mmap.mmap | None = None
        self._inode: int | None = None

    def bump(self) -> None:
        """Give the token a new value (after a promotion). Never raises: readers that miss it
        still find the promotion on their next periodic look at LATEST."""
        with contextlib.suppress(OSError):
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                os.pwrite(fd, os.urandom(TOKEN_BYTES), 0)
            finally:
                os.close(fd)

    def watch(self) -> None:
        """Map the file (creating it if absent) so that `token()` can read it; map it again if it
        was replaced since. On failure `token()` returns None and readers stat LATEST instead."""
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            with contextlib.suppress(StoreWriteError):
                create_exclusive(self.path, bytes(TOKEN_BYTES))
            try:
                inode = os.stat(self.path).st_ino
            except OSError:
                self._forget()
                return
        except OSError:
            self._forget()
            return
        if inode == self._inode and self._map is not None:
            return
        self._forget()
        try:
            with open(self.path, "rb") as file:
                self._map = mmap.mmap(file.fileno(), TOKEN_BYTES, access=mmap.ACCESS_READ)
            self._inode = inode
        except (OSError, ValueError):  # ValueError: a file shorter than the token
            self._forget()

    def token(self) -> bytes | None:
        """The current token, or None when the file is not mapped (call `watch` first)."""
        mapped = self._map
        return None if mapped is None else mapped[:TOKEN_BYTES]

    def _forget(self) -> None:
        # Not closed here: another thread may be reading the old map; it closes when unreferenced.
        self._map, self._inode = None, None
