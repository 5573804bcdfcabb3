"""Where an agent reads its experiences from, on every model call.

An app keeps serving while a learning run writes a new library; a source returns the latest
version each time it is asked, so nothing has to be rebuilt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config, get_store
from langgraph.runtime import get_runtime
from langgraph.store.base import BaseStore

from tfgrpo_agents.experience.errors import ExperienceError, LibraryFileError
from tfgrpo_agents.experience.files import load_library
from tfgrpo_agents.experience.library import ExperienceLibrary
from tfgrpo_agents.experience.store import (
    LibraryVersion,
    StoredLibrary,
    StoreLibrary,
    library_namespace,
)

logger = logging.getLogger(__name__)


@runtime_checkable
class ExperienceSource(Protocol):
    """Anything with ``current()``; an ``async def acurrent()`` too is used under ``ainvoke``."""

    def current(self) -> ExperienceLibrary:
        """The library to inject now."""
        ...


class StaticSource:
    """A library object held in memory; edits to it are visible on the next call."""

    def __init__(self, library: ExperienceLibrary) -> None:
        self.library = library

    def current(self) -> ExperienceLibrary:
        return self.library

    async def acurrent(self) -> ExperienceLibrary:
        return self.library


class JsonFileSource:
    """A library file, re-read whenever it changes on disk.

    If the file disappears or turns invalid, the last good version keeps being served (logged),
    so a bad write never takes the agent down.
    """

    def __init__(self, path: str | os.PathLike[str], *, model_id: str | None = None) -> None:
        self.path = Path(path)
        self.model_id = model_id
        self._stamp: tuple[int, int] | None = None
        self._library: ExperienceLibrary | None = None

    def current(self) -> ExperienceLibrary:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                self._library = load_library(self.path, model_id=self.model_id)
                self._stamp = stamp
        except (OSError, LibraryFileError) as exc:
            if self._library is None:
                raise LibraryFileError(f"cannot read experiences from {self.path}: {exc}") from exc
            logger.warning("keeping the last good library: %s", exc)
        assert self._library is not None
        return self._library

    async def acurrent(self) -> ExperienceLibrary:
        # stat and read off the event loop (LangGraph Server's blocking-call checks refuse them there)
        return await asyncio.to_thread(self.current)


NamespaceLike = Sequence[str] | Callable[[RunnableConfig], Sequence[str]] | None
K = TypeVar("K")
V = TypeVar("V")


class _Recent(OrderedDict, Generic[K, V]):
    """At most ``size`` entries; the least recently remembered goes first."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: K, value: V) -> V:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
        return value


def resolve_namespace(namespace: NamespaceLike, config: RunnableConfig | None) -> tuple[str, ...]:
    """Fill a namespace template from the run: ``("tfgrpo", "{user_id}")`` takes ``user_id`` from
    the config's ``configurable`` or the runtime context; a callable gets the config itself."""
    if callable(namespace):
        return tuple(namespace(config or {}))
    assert namespace is not None
    if not any("{" in part for part in namespace):
        return tuple(namespace)
    values = {**_context_values(), **((config or {}).get("configurable") or {})}
    try:
        return tuple(part.format_map(values) for part in namespace)
    except KeyError as exc:
        raise ExperienceError(
            f"store namespace {tuple(namespace)} needs {exc.args[0]!r}; pass it in the run's config "
            f"(config={{'configurable': {{'{exc.args[0]}': ...}}}}) or its context") from exc


def _context_values() -> dict[str, Any]:
    try:
        context = getattr(get_runtime(), "context", None)
    except RuntimeError:  # outside a graph run
        return {}
    if context is None:
        return {}
    if isinstance(context, Mapping):
        return dict(context)
    if dataclasses.is_dataclass(context) and not isinstance(context, type):
        return dataclasses.asdict(context)
    return dict(getattr(context, "__dict__", {}) or {})


def _run_config() -> RunnableConfig | None:
    try:
        return get_config()
    except RuntimeError:
        return None


class StoreSource:
    """A library kept in a LangGraph ``BaseStore`` (see :class:`~tfgrpo_agents.experience.store.StoreLibrary`).

    Each call reads one small version item and re-reads the library only when it changed, so an
    unchanged library costs one key lookup per model call; ``refresh_every`` (seconds) skips even
    that between checks. With ``store=None`` the running graph's own store is used
    (``get_store()``: LangGraph Server's store, or the one passed to ``compile(store=...)``).
    The namespace may hold ``{placeholders}`` filled per run (per-user or per-tenant libraries).
    """

    def __init__(
        self,
        store: BaseStore | None = None,
        *,
        namespace: NamespaceLike = None,
        domain: str | None = None,
        model_id: str | None = None,
        refresh_every: float = 0.0,
        cache_size: int = 256,
    ) -> None:
        self.store = store
        self.namespace: NamespaceLike = namespace if namespace is not None else library_namespace(domain)
        self.domain = domain
        self.model_id = model_id
        self.refresh_every = refresh_every
        self._cache: _Recent[tuple[str, ...], tuple[LibraryVersion, ExperienceLibrary, float]] = _Recent(cache_size)

    def _library_for(self) -> StoreLibrary:
        store = self.store
        if store is None:
            try:
                store = get_store()
            except RuntimeError:
                store = None
            if store is None:
                raise ExperienceError(
                    "StoreSource(store=None) reads the running graph's store, but there is none here: "
                    "pass store=..., or compile the graph with a store (LangGraph Server provides one)")
        namespace = resolve_namespace(self.namespace, _run_config())
        return StoreLibrary(store, namespace, domain=self.domain, model_id=self.model_id)

    def _fresh(self, namespace: tuple[str, ...]) -> ExperienceLibrary | None:
        cached = self._cache.get(namespace)
        if cached and self.refresh_every and time.monotonic() - cached[2] < self.refresh_every:
            return cached[1]
        return None

    def _cached(self, namespace: tuple[str, ...], version: LibraryVersion | None) -> ExperienceLibrary | None:
        cached = self._cache.get(namespace)
        if cached is None:
            return None
        if version is not None and cached[0] == version:
            return self._cache.remember(namespace, (version, cached[1], time.monotonic()))[1]
        return None

    def _remember(self, namespace: tuple[str, ...], stored: StoredLibrary | None) -> ExperienceLibrary:
        if stored is None:
            library = ExperienceLibrary()
            library.meta.domain = self.domain
            version = LibraryVersion(revision=-1, digest=library.digest())
        else:
            library, version = stored.library, LibraryVersion(revision=stored.revision, digest=stored.digest)
        return self._cache.remember(namespace, (version, library, time.monotonic()))[1]

    def current(self) -> ExperienceLibrary:
        target = self._library_for()
        namespace = target.namespace
        fresh = self._fresh(namespace)
        if fresh is not None:
            return fresh
        version = target.version()
        return self._cached(namespace, version) or self._remember(namespace, target.read())

    async def acurrent(self) -> ExperienceLibrary:
        target = self._library_for()
        namespace = target.namespace
        fresh = self._fresh(namespace)
        if fresh is not None:
            return fresh
        version = await target.aversion()
        return self._cached(namespace, version) or self._remember(namespace, await target.aread())


REQUEST_KEY = "tfgrpo_library"


def library_request(library: ExperienceLibrary) -> dict[str, Any]:
    """The ``configurable`` entry that makes a :class:`RequestSource` agent use ``library`` for one run."""
    return {REQUEST_KEY: library.model_dump(mode="json", exclude={"history"})}


class RequestSource:
    """The library a run's config carries (``configurable["tfgrpo_library"]``), else ``fallback``'s.

    For an agent that a learner drives remotely (``RemoteGraph`` rollouts): each rollout must see
    the library of its learning step, whatever the store holds. It lets a caller set the lessons
    block of the prompt, so serve it as a graph of its own for the learner, not to end users.
    """

    def __init__(self, fallback: SourceLike = None, *, cache_size: int = 32) -> None:
        self.fallback = as_source(fallback)
        self._cache: _Recent[str, ExperienceLibrary] = _Recent(cache_size)

    def _carried(self) -> ExperienceLibrary | None:
        carried = ((_run_config() or {}).get("configurable") or {}).get(REQUEST_KEY)
        if not carried:
            return None
        key = repr(sorted((e.get("id"), e.get("text")) for e in carried.get("experiences", [])))
        known = self._cache.get(key)
        return self._cache.remember(key, known if known is not None else ExperienceLibrary.model_validate(carried))

    def current(self) -> ExperienceLibrary:
        carried = self._carried()
        return carried if carried is not None else self.fallback.current()

    async def acurrent(self) -> ExperienceLibrary:
        carried = self._carried()
        return carried if carried is not None else await read_source(self.fallback)


async def read_source(source: ExperienceSource) -> ExperienceLibrary:
    """``await source.acurrent()``, or ``current()`` in a worker thread for a source that has no async path."""
    acurrent = getattr(source, "acurrent", None)
    if acurrent is not None:
        return await acurrent()
    return await asyncio.to_thread(source.current)


SourceLike = ExperienceSource | ExperienceLibrary | str | os.PathLike[str] | None


def as_source(value: SourceLike) -> ExperienceSource:
    """Accept a library, a path to a library file, or any source; ``None`` means no experiences."""
    if value is None:
        return StaticSource(ExperienceLibrary())
    if isinstance(value, ExperienceLibrary):
        return StaticSource(value)
    if isinstance(value, (str, os.PathLike)):
        return JsonFileSource(value)
    if isinstance(value, ExperienceSource):
        return value
    raise TypeError(
        f"expected an ExperienceLibrary, a library file path or an ExperienceSource, got {type(value).__name__}"
    )
