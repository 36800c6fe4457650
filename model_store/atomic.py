"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every write goes to a temporary file in the same directory, is flushed and fsynced, then renamed
over the target (`os.replace`) or hard-linked to a name that must not exist yet (`os.link`), and the
directory is fsynced so the rename itself survives a crash. Any OSError (ENOSPC, EROFS, EACCES,
EFBIG, ...) becomes StoreWriteError after the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from model_store.errors import StoreWriteError

TEMP_SUFFIX = ".tmp"


def fsync_dir(directory: Path) -> None:
    """Flush a directory's entries (renames, links, unlinks) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_error(path: Path, error: OSError) -> StoreWriteError:
    reason = error.strerror or str(error)
    return StoreWriteError(f"cannot write {path.parent.name}/{path.name}: {reason}")


def _sync_parent(path: Path) -> None:
    """fsync the directory holding `path`, as StoreWriteError on failure."""
    try:
        fsync_dir(path.parent)
    except OSError as error:
        raise _write_error(path, error) from error


def _write_temp(path: Path, data: bytes) -> Path:
    """Write `data` to a new fsynced temporary file next to `path` and return its path.

    The name starts with "." and ends with TEMP_SUFFIX, so listings of "*.json" never see it.
    """
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise _write_error(path, error) from error
    try:
        with open(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(error, OSError):
            raise _write_error(path, error) from error
        raise
    return temp


def write_atomic(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Replace `path` with `data` atomically.

    `sync_dir=False` skips the directory fsync: after a crash the previous version may come back,
    which is acceptable for frequent, superseded writes such as job progress.
    """
    temp = _write_temp(path, data)
    try:
        os.replace(temp, path)
        if sync_dir:
            fsync_dir(path.parent)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise _write_error(path, error) from error


def create_exclusive(path: Path, data: bytes) -> bool:
    """Create `path` with `data` only if no file has that name; return False if one exists.

    `os.link` of the complete temporary file makes creation atomic and exclusive: of two writers
    racing for the same name exactly one succeeds, and nobody ever sees a partial file.
    """
    temp = _write_temp(path, data)
    try:
        os.link(temp, path)
    except FileExistsError:
        return False
    except OSError as error:
        raise _write_error(path, error) from error
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    _sync_parent(path)
    return True


def remove(path: Path) -> bool:
    """Delete `path` if it exists (durably); return whether it existed."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as error:
        raise _write_error(path, error) from error
    _sync_parent(path)
    return True
