"""Where an agent reads its experiences from, on every model call.

An app keeps serving while a learning run writes a new library; a source returns the latest
version each time it is asked, so nothing has to be rebuilt.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from langgraph.store.base import BaseStore

from tfgrpo_agents.experience.errors import LibraryFileError
from tfgrpo_agents.experience.files import load_library
from tfgrpo_agents.experience.library import ExperienceLibrary
from tfgrpo_agents.experience.store import load_from_store

logger = logging.getLogger(__name__)


@runtime_checkable
class ExperienceSource(Protocol):
    def current(self) -> ExperienceLibrary:
        """The library to inject now."""
        ...


class StaticSource:
    """A library object held in memory; edits to it are visible on the next call."""

    def __init__(self, library: ExperienceLibrary) -> None:
        self.library = library

    def current(self) -> ExperienceLibrary:
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


class StoreSource:
    """A library kept in a LangGraph ``BaseStore`` (see :mod:`tfgrpo_agents.experience.store`)."""

    def __init__(self, store: BaseStore, *, domain: str | None = None, model_id: str | None = None) -> None:
        self.store = store
        self.domain = domain
        self.model_id = model_id

    def current(self) -> ExperienceLibrary:
        return load_from_store(self.store, domain=self.domain, model_id=self.model_id)


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
