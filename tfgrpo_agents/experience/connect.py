"""Open a LangGraph store from a URL: ``postgresql://…``, ``sqlite:///path`` or a plain file path.

The CLI and the learner take one string for "where the shared library lives"; this is the one
place that turns it into a ``BaseStore`` (with its tables set up), sync or async.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from langgraph.store.base import BaseStore

from tfgrpo_agents.experience.errors import ExperienceError

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite:///"


class StoreUrlError(ExperienceError, ValueError):
    """A store address that names no store this package can open."""


def _split_password(url: str) -> tuple[str, str | None]:
    """``(url without its password, the password)`` for ``postgresql://user:secret@host/db``."""
    if not url.startswith(POSTGRES_SCHEMES) or "@" not in url:
        return url, None
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    if ":" not in credentials:
        return url, None
    user, password = credentials.split(":", 1)
    return f"{scheme}://{user}@{host}", password


def describe_store(url: str) -> str:
    """The address with any password masked, for messages and logs."""
    bare, password = _split_password(url)
    return bare.replace("@", ":***@", 1) if password is not None else bare


def without_password(url: str) -> str:
    """The address to save in a run's files: libpq finds the password in PGPASSWORD or ~/.pgpass."""
    return _split_password(url)[0]


def store_kind(url: str) -> tuple[str, str]:
    """``("postgres", url)`` or ``("sqlite", path)``; a one-line error for anything else."""
    if url.startswith(POSTGRES_SCHEMES):
        return "postgres", url
    if url.startswith(SQLITE_SCHEME):
        path = url[len(SQLITE_SCHEME):]
        if not path:
            raise StoreUrlError("sqlite:/// needs a file path, e.g. sqlite:///library.db")
        return "sqlite", path  # sqlite:///rel.db is relative, sqlite:////abs.db absolute (SQLAlchemy's rule)
    if "://" in url:
        raise StoreUrlError(f"unknown store address {describe_store(url)!r}: use postgresql://user@host/db, "
                            "sqlite:///path/to/file.db or a file path")
    return "sqlite", url


def _postgres_classes() -> tuple[type, type]:
    try:
        from langgraph.store.postgres import AsyncPostgresStore, PostgresStore
    except ImportError as exc:  # the extra is not installed
        raise StoreUrlError("a postgresql:// store needs the postgres extra: "
                            "pip install 'tfgrpo-agents[postgres]'") from exc
    return PostgresStore, AsyncPostgresStore


def _sqlite_path(path: str) -> str:
    if path != ":memory:":
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise StoreUrlError(f"cannot open the SQLite store {path}: folder {parent} does not exist")
    return path


@contextlib.contextmanager
def open_store(url: str) -> Iterator[BaseStore]:
    """A sync store for ``url``, set up (tables created) and closed on exit."""
    kind, target = store_kind(url)
    if kind == "postgres":
        opener = _postgres_classes()[0].from_conn_string(target)
    else:
        from langgraph.store.sqlite import SqliteStore

        opener = SqliteStore.from_conn_string(_sqlite_path(target))
    with contextlib.ExitStack() as stack:
        try:
            store = stack.enter_context(opener)
        except Exception as exc:  # connection refused, bad credentials, unreadable file
            raise _unopened(url, exc) from exc
        store.setup()
        yield store


@contextlib.asynccontextmanager
async def aopen_store(url: str) -> AsyncIterator[BaseStore]:
    """An async store for ``url`` (``AsyncPostgresStore`` / ``AsyncSqliteStore``), set up and closed on exit."""
    kind, target = store_kind(url)
    if kind == "postgres":
        opener = _postgres_classes()[1].from_conn_string(target)
    else:
        from langgraph.store.sqlite.aio import AsyncSqliteStore

        opener = AsyncSqliteStore.from_conn_string(_sqlite_path(target))
    async with contextlib.AsyncExitStack() as stack:
        try:
            store = await stack.enter_async_context(opener)
        except Exception as exc:
            raise _unopened(url, exc) from exc
        await store.setup()
        yield store


def _unopened(url: str, exc: BaseException) -> StoreUrlError:
    text = str(exc).strip()
    return StoreUrlError(f"cannot open the store {describe_store(url)}: "
                         f"{text.splitlines()[0] if text else type(exc).__name__}")
