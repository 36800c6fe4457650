"""Engines for the store's database: SQLite on one machine, PostgreSQL (psycopg 3) for many.

SQLite runs in WAL mode (readers never wait for the writer) with a busy timeout (writers queue
instead of failing), and SQLAlchemy's documented pysqlite recipe so that transactions begin when
SQLAlchemy says so: `BEGIN IMMEDIATE` takes the write lock up front where a transaction reads
before it writes (migrations). Engines are made fork-safe: a forked child (gunicorn, Celery's
prefork pool) drops the connections it inherited, as SQLAlchemy's pooling guide advises.
"""

from __future__ import annotations

import os
import sqlite3
import time
import weakref

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

#: Milliseconds a SQLite writer waits for the lock before it gives up.
SQLITE_BUSY_MS = 30_000
#: Seconds a PostgreSQL connection attempt may take: /predict must not hang on a lost database.
CONNECT_TIMEOUT_SECONDS = 3
#: Execution option: begin this connection's transactions with `BEGIN IMMEDIATE` on SQLite.
IMMEDIATE = "nnservice_begin_immediate"


def sqlite_url_for(directory: str | os.PathLike[str]) -> str:
    """The default database of a store directory: `sqlite:///<directory>/nnservice.db`."""
    return f"sqlite:///{os.fspath(directory)}/nnservice.db"


#: What a full disk under the database raises: SQLite's result code, PostgreSQL's SQLSTATE.
SQLITE_DISK_FULL = "SQLITE_FULL"
POSTGRESQL_DISK_FULL = "53100"


def is_disk_full(error: BaseException) -> bool:
    """Whether a database error (SQLAlchemy's, or the driver's own) says the disk under the
    database is full: SQLite's SQLITE_FULL ("database or disk is full"), PostgreSQL's
    disk_full (SQLSTATE 53100, psycopg's DiskFull). Both arrive as OperationalError, which
    otherwise means that the database cannot be reached."""
    driver_error = getattr(error, "orig", None) or error
    return (
        getattr(driver_error, "sqlite_errorname", None) == SQLITE_DISK_FULL
        or getattr(driver_error, "sqlstate", None) == POSTGRESQL_DISK_FULL
    )


def make_engine(url: str) -> Engine:
    """An engine for `url`, configured for the store (see the module docstring)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        _configure_sqlite(engine)
    else:
        engine = sa.create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
        )
    _dispose_after_fork(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001 - DBAPI objects
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Put the file in WAL mode (kept in the file) unless it is already.

    Switching needs the database to itself, and SQLite refuses that at once, without waiting
    ("database is locked"), while another connection holds it, e.g. when several processes open
    the same new file and one of them is already creating the schema: try again until the busy
    timeout has passed, and stop as soon as another connection has made the switch.
    """
    deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return  # (an in-memory database answers "memory" and stays so)
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _dispose_after_fork(engine: Engine) -> None:
    reference = weakref.ref(engine)

    def drop_inherited_connections() -> None:
        inherited = reference()
        if inherited is not None:
            inherited.dispose(close=False)

    os.register_at_fork(after_in_child=drop_inherited_connections)
