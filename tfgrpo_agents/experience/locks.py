"""Write locks for a library kept in a store: one writer at a time per namespace.

A store's API has no compare-and-set, so a writer holds a lock while it reads the version,
checks it and writes. The lock is as wide as the store is shared:

- PostgreSQL (``PostgresStore`` / ``AsyncPostgresStore``): a session advisory lock keyed by the
  namespace, so writers in other processes and on other machines wait too;
- SQLite (``SqliteStore`` / ``AsyncSqliteStore`` on a file): an ``flock`` on a file beside the
  database, for every process on the machine;
- anything else (``InMemoryStore``, a server's own store): a lock in this process, which is all
  such a store can be shared by. Pass ``lock=`` to :class:`~tfgrpo_agents.experience.store.StoreLibrary`
  for a store shared some other way.

Every lock also takes a process-local lock first: threads sharing one database connection share
one PostgreSQL session, where an advisory lock would not exclude them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

from langgraph.store.base import BaseStore

_POLL_S = 0.005
_local_locks: dict[tuple[int, tuple[str, ...]], threading.Lock] = {}
_local_guard = threading.Lock()


class WriteLock(Protocol):
    def hold(self) -> contextlib.AbstractContextManager[None]: ...

    def ahold(self) -> contextlib.AbstractAsyncContextManager[None]: ...


def _local_lock(store: BaseStore, namespace: tuple[str, ...]) -> threading.Lock:
    with _local_guard:
        return _local_locks.setdefault((id(store), namespace), threading.Lock())


@contextlib.asynccontextmanager
async def _ahold_thread_lock(lock: threading.Lock) -> AsyncIterator[None]:
    # Polling, not to_thread(lock.acquire): a cancelled waiter must not acquire the lock later.
    while not lock.acquire(blocking=False):
        await asyncio.sleep(_POLL_S)
    try:
        yield
    finally:
        lock.release()


def advisory_key(namespace: tuple[str, ...]) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock``."""
    digest = hashlib.sha256(("tfgrpo-library:" + "\x1f".join(namespace)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ProcessLock:
    """Excludes writers in this process only."""

    def __init__(self, store: BaseStore, namespace: tuple[str, ...]) -> None:
        self._lock = _local_lock(store, namespace)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._lock:
            yield

    def ahold(self) -> contextlib.AbstractAsyncContextManager[None]:
        return _ahold_thread_lock(self._lock)


class PostgresAdvisoryLock(ProcessLock):
    """A session advisory lock on the store's own connection (or one checked out of its pool)."""

    def __init__(self, store: Any, namespace: tuple[str, ...]) -> None:
        super().__init__(store, namespace)
        self._store = store
        self._key = advisory_key(namespace)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        from langgraph.checkpoint.postgres import _internal

        with self._lock, _internal.get_connection(self._store.conn) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (self._key,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))

    @contextlib.asynccontextmanager
    async def ahold(self) -> AsyncIterator[None]:
        from langgraph.checkpoint.postgres import _ainternal

        async with _ahold_thread_lock(self._lock), _ainternal.get_connection(self._store.conn) as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (self._key,))
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))


class FileLock(ProcessLock):
    """``flock`` on ``<database>.tfgrpo-lock``: every process using the SQLite file waits its turn."""

    def __init__(self, store: BaseStore, namespace: tuple[str, ...], path: str) -> None:
        super().__init__(store, namespace)
        self._path = path + ".tfgrpo-lock"

    def _acquire(self) -> int:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    @staticmethod
    def _release(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._lock:
            fd = self._acquire()
            try:
                yield
            finally:
                self._release(fd)

    @contextlib.asynccontextmanager
    async def ahold(self) -> AsyncIterator[None]:
        async with _ahold_thread_lock(self._lock):
            fd = await asyncio.to_thread(self._acquire)
            try:
                yield
            finally:
                await asyncio.to_thread(self._release, fd)


def _main_file(rows: list[Any]) -> str | None:
    """The main database's file in ``PRAGMA database_list``; ``None`` for an in-memory database."""
    return next((row[2] for row in rows if row[1] == "main" and row[2]), None)


def _sqlite_file(store: Any) -> str | None:
    with store.lock:
        return _main_file(store.conn.execute("PRAGMA database_list").fetchall())


async def _asqlite_file(store: Any) -> str | None:
    async with store.lock:
        cursor = await store.conn.execute("PRAGMA database_list")
        return _main_file(await cursor.fetchall())


def _kind(store: BaseStore) -> str:
    names = {cls.__name__ for cls in type(store).__mro__}
    if names & {"PostgresStore", "AsyncPostgresStore"}:
        return "postgres"
    if "AsyncSqliteStore" in names:
        return "async-sqlite"
    if "SqliteStore" in names:
        return "sqlite"
    return "local"


def lock_for(store: BaseStore, namespace: tuple[str, ...]) -> WriteLock:
    """The widest lock this store supports (see the module docstring)."""
    kind = _kind(store)
    if kind == "postgres":
        return PostgresAdvisoryLock(store, namespace)
    if kind == "sqlite":
        path = _sqlite_file(store)
        return FileLock(store, namespace, path) if path else ProcessLock(store, namespace)
    return ProcessLock(store, namespace)


async def alock_for(store: BaseStore, namespace: tuple[str, ...]) -> WriteLock:
    """:func:`lock_for` for async stores, whose connection cannot be queried synchronously."""
    if _kind(store) == "async-sqlite":
        path = await _asqlite_file(store)
        return FileLock(store, namespace, path) if path else ProcessLock(store, namespace)
    return lock_for(store, namespace)
