"""Keep a library in any LangGraph ``BaseStore`` (in-memory, SQLite, PostgreSQL, a server's store).

Layout under a namespace ``ns`` (default ``("tfgrpo", <domain>)``; it may hold a tenant or user id):

- ``(*ns, "library")`` / ``current``: the library without its history, with its revision and digest.
  One item, so a reader never sees half of a write;
- ``(*ns, "library")`` / ``version``: just the revision and digest, for readers that cache;
- ``(*ns, "history")`` / ``<revision>``: one item per write (the step's snapshot and ops), so a read
  costs O(library), never O(history);
- ``(*ns, "experiences")`` / ``<id>``: a copy of each experience, indexed on its text, for apps that
  list or search lessons. It is written after ``current`` and may lag it by one write.

Writers hold a lock (:mod:`tfgrpo_agents.experience.locks`) while they read the revision and
write the next one, so concurrent writers never lose each other's lessons.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from langgraph.store.base import BaseStore, GetOp, Op, PutOp, Result, SearchOp
from pydantic import BaseModel, Field

from tfgrpo_agents.experience.errors import LibraryConflictError
from tfgrpo_agents.experience.files import check_model
from tfgrpo_agents.experience.library import ExperienceLibrary
from tfgrpo_agents.experience.locks import WriteLock, alock_for, lock_for
from tfgrpo_agents.experience.models import (
    ApplyReport,
    Experience,
    ExperienceOp,
    LibrarySnapshot,
    utc_now,
)
from tfgrpo_agents.experience.render import ordered

logger = logging.getLogger(__name__)

ROOT = "tfgrpo"
DEFAULT_DOMAIN = "default"
CURRENT_KEY = "current"
VERSION_KEY = "version"
LEGACY_META_KEY = "library"
_PAGE = 500
T = TypeVar("T")
Plan = Generator[list[Op], list[Result], T]


def library_namespace(domain: str | None) -> tuple[str, ...]:
    """The default namespace of a domain's library."""
    return (ROOT, domain or DEFAULT_DOMAIN)


def experiences_namespace(domain: str | None) -> tuple[str, ...]:
    return (*library_namespace(domain), "experiences")


class LibraryVersion(BaseModel):
    """What a cached reader compares: a revision counts writes, a digest names what agents see."""

    revision: int
    digest: str


class StoredLibrary(LibraryVersion):
    """The current library in a store, with who wrote which learning step."""

    library: ExperienceLibrary
    writers: dict[str, int] = Field(default_factory=dict)
    written_at: datetime = Field(default_factory=utc_now)


class HistoryEntry(LibraryVersion):
    """One write: the library it left and the ops that made it."""

    writer: str = ""
    written_at: datetime
    snapshot: LibrarySnapshot


def _drive(store: BaseStore, plan: Plan[T]) -> T:
    """Run a plan (a generator of op batches) with ``store.batch``."""
    try:
        ops = next(plan)
        while True:
            ops = plan.send(store.batch(ops))
    except StopIteration as done:
        return done.value


async def _adrive(store: BaseStore, plan: Plan[T]) -> T:
    try:
        ops = next(plan)
        while True:
            ops = plan.send(await store.abatch(ops))
    except StopIteration as done:
        return done.value


def _list_plan(namespace: tuple[str, ...]) -> Plan[list[Any]]:
    items: list[Any] = []
    while True:
        (page,) = yield [SearchOp(namespace, limit=_PAGE, offset=len(items))]
        items.extend(item for item in page if tuple(item.namespace) == namespace)
        if len(page) < _PAGE:
            return items


def _snapshot_of(library: ExperienceLibrary) -> LibrarySnapshot:
    last = library.history[-1] if library.history else None
    same_step = last is not None and last.step == library.step
    return LibrarySnapshot(
        step=library.step, experiences=ordered(library.experiences), next_id=library.next_id,
        ops=last.ops if same_step else [], evicted=last.evicted if same_step else [],
    )


class StoreLibrary:
    """One library in a store: versioned reads, locked writes, a history of every write.

    ``write`` replaces the library if nobody wrote since the revision you read (else
    :class:`LibraryConflictError`); ``apply`` and ``update`` re-read under the lock and apply your
    change to whatever is there, so they never conflict. Every method has an async twin
    (``aread``, ``awrite``, …) for async stores such as ``AsyncPostgresStore``.
    """

    def __init__(
        self,
        store: BaseStore,
        namespace: Sequence[str] | None = None,
        *,
        domain: str | None = None,
        model_id: str | None = None,
        lock: WriteLock | None = None,
    ) -> None:
        self.store = store
        self.namespace = tuple(namespace) if namespace else library_namespace(domain)
        self.domain = domain
        self.model_id = model_id
        self._lock = lock

    # ------------------------------------------------------------------ namespaces
    @property
    def _library_ns(self) -> tuple[str, ...]:
        return (*self.namespace, "library")

    @property
    def _history_ns(self) -> tuple[str, ...]:
        return (*self.namespace, "history")

    @property
    def experiences_ns(self) -> tuple[str, ...]:
        return (*self.namespace, "experiences")

    # ------------------------------------------------------------------ plans
    def _version_plan(self) -> Plan[LibraryVersion | None]:
        (item,) = yield [GetOp(self._library_ns, VERSION_KEY)]
        if item is not None:
            return LibraryVersion.model_validate(item.value)
        stored = yield from self._read_plan()
        return None if stored is None else LibraryVersion(revision=stored.revision, digest=stored.digest)

    def _read_plan(self) -> Plan[StoredLibrary | None]:
        (item,) = yield [GetOp(self._library_ns, CURRENT_KEY)]
        if item is not None:
            stored = StoredLibrary.model_validate(item.value)
        else:
            stored = yield from self._legacy_plan()
            if stored is None:
                return None
        check_model(stored.library, self.model_id, origin=f"store namespace {self.namespace}")
        return stored

    def _legacy_plan(self) -> Plan[StoredLibrary | None]:
        """A library saved by version 0.1 (one meta item with the whole history) reads as revision 0."""
        (meta,) = yield [GetOp((*self.namespace, "meta"), LEGACY_META_KEY)]
        if meta is None:
            return None
        items = yield from _list_plan(self.experiences_ns)
        library = ExperienceLibrary.model_validate(
            {**meta.value, "experiences": [Experience.model_validate(i.value).model_dump() for i in items]})
        return StoredLibrary(revision=0, digest=library.digest(), library=library)

    def _change_plan(
        self,
        decide: Callable[[StoredLibrary | None], tuple[ExperienceLibrary | None, T]],
        *,
        writer: str,
        writer_step: int | None = None,
    ) -> Plan[tuple[StoredLibrary | None, T]]:
        """Read the current library, let ``decide`` make the next one (``None``: write nothing), write it.

        ``writers`` records, per writer, the last step of its own it wrote (``writer_step``, default
        the written library's step; a rebased publish writes a merged library at another step)."""
        before = yield from self._read_plan()
        library, result = decide(before)
        if library is None:
            return before, result
        revision = (before.revision if before else 0) + 1
        writers = dict(before.writers) if before else {}
        if writer:
            writers[writer] = library.step if writer_step is None else writer_step
        after = StoredLibrary(revision=revision, digest=library.digest(), writers=writers,
                              library=library.model_copy(update={"history": []}))
        current = after.model_dump(mode="json")
        current["library"].pop("history", None)
        entry = HistoryEntry(revision=revision, digest=after.digest, writer=writer, written_at=after.written_at,
                             snapshot=_snapshot_of(library))
        ops: list[Op] = [
            PutOp(self._library_ns, CURRENT_KEY, current, index=False),
            PutOp(self._library_ns, VERSION_KEY, {"revision": revision, "digest": after.digest}, index=False),
            PutOp(self._history_ns, f"{revision:010d}", entry.model_dump(mode="json"), index=False),
        ]
        if before is not None and before.revision > 0:
            old = {e.id: e.model_dump(mode="json") for e in before.library.experiences}
        else:  # first write here, or over a 0.1 layout: whatever sits in the mirror is stale
            old = {item.key: item.value for item in (yield from _list_plan(self.experiences_ns))}
        new = {e.id: e.model_dump(mode="json") for e in library.experiences}
        ops += [PutOp(self.experiences_ns, key, value, index=["text"])
                for key, value in new.items() if old.get(key) != value]
        ops += [PutOp(self.experiences_ns, key, None) for key in old.keys() - new.keys()]
        yield ops
        return after, result

    def _history_plan(self) -> Plan[list[HistoryEntry]]:
        items = yield from _list_plan(self._history_ns)
        return sorted((HistoryEntry.model_validate(i.value) for i in items), key=lambda e: e.revision)

    # ------------------------------------------------------------------ deciders
    def _replace(self, library: ExperienceLibrary, expected_revision: int | None) -> Callable[..., Any]:
        def decide(before: StoredLibrary | None) -> tuple[ExperienceLibrary | None, None]:
            found = before.revision if before else 0
            if expected_revision is not None and found != expected_revision:
                raise LibraryConflictError(self.namespace, expected_revision, found)
            return library, None
        return decide

    def _edit(self, change: Callable[[ExperienceLibrary], T]) -> Callable[..., Any]:
        def decide(before: StoredLibrary | None) -> tuple[ExperienceLibrary, T]:
            library = before.library.model_copy(deep=True) if before else self._empty()
            return library, change(library)
        return decide

    def _publish(self, library: ExperienceLibrary, writer: str, base_digest: str | None,
                 ops: Iterable[ExperienceOp]) -> Callable[..., Any]:
        def decide(before: StoredLibrary | None) -> tuple[ExperienceLibrary | None, str]:
            if before is None or before.digest in (base_digest, library.digest()):
                if before is not None and before.digest == library.digest() and before.writers.get(writer) == \
                        library.step:
                    return None, "unchanged"
                return library, "replaced"
            if before.writers.get(writer, -1) >= library.step:
                return None, "already published"
            merged = before.library.model_copy(deep=True)
            merged.apply(list(ops), step=max(merged.step + 1, library.step), strict=False)
            logger.warning("store namespace %s was changed by another writer; step %d's ops were applied on top",
                           self.namespace, library.step)
            return merged, "rebased"
        return decide

    def _empty(self) -> ExperienceLibrary:
        library = ExperienceLibrary()
        library.meta.domain = self.domain or (self.namespace[1] if len(self.namespace) == 2 else None)
        return library

    # ------------------------------------------------------------------ locking
    def _locked(self, plan: Plan[T]) -> T:
        with (self._lock or lock_for(self.store, self.namespace)).hold():
            return _drive(self.store, plan)

    async def _alocked(self, plan: Plan[T]) -> T:
        lock = self._lock or await alock_for(self.store, self.namespace)
        async with lock.ahold():
            return await _adrive(self.store, plan)

    # ------------------------------------------------------------------ reads
    def version(self) -> LibraryVersion | None:
        """The revision and digest only: one small item, the cheap check before a re-read."""
        return _drive(self.store, self._version_plan())

    async def aversion(self) -> LibraryVersion | None:
        return await _adrive(self.store, self._version_plan())

    def read(self) -> StoredLibrary | None:
        """The current library and its version; ``None`` if nothing was written here."""
        return _drive(self.store, self._read_plan())

    async def aread(self) -> StoredLibrary | None:
        return await _adrive(self.store, self._read_plan())

    def history(self) -> list[HistoryEntry]:
        """Every write, oldest first."""
        return _drive(self.store, self._history_plan())

    async def ahistory(self) -> list[HistoryEntry]:
        return await _adrive(self.store, self._history_plan())

    # ------------------------------------------------------------------ writes
    def write(self, library: ExperienceLibrary, *, expected_revision: int | None = None,
              writer: str = "") -> StoredLibrary:
        """Replace the library; with ``expected_revision``, only if the store is still at it."""
        return self._locked(self._change_plan(self._replace(library, expected_revision), writer=writer))[0]

    async def awrite(self, library: ExperienceLibrary, *, expected_revision: int | None = None,
                     writer: str = "") -> StoredLibrary:
        plan = self._change_plan(self._replace(library, expected_revision), writer=writer)
        return (await self._alocked(plan))[0]

    def update(self, change: Callable[[ExperienceLibrary], T], *, writer: str = "") -> tuple[StoredLibrary, T]:
        """Edit the current library in place under the lock (``change`` gets a copy to edit)."""
        return self._locked(self._change_plan(self._edit(change), writer=writer))

    async def aupdate(self, change: Callable[[ExperienceLibrary], T], *,
                      writer: str = "") -> tuple[StoredLibrary, T]:
        return await self._alocked(self._change_plan(self._edit(change), writer=writer))

    def apply(self, ops: Iterable[ExperienceOp | Mapping[str, Any]], *, strict: bool = False,
              writer: str = "") -> ApplyReport:
        """Apply a batch of ops to whatever the store holds now, as one step; never conflicts."""
        batch = list(ops)
        return self.update(lambda library: library.apply(batch, strict=strict), writer=writer)[1]

    async def aapply(self, ops: Iterable[ExperienceOp | Mapping[str, Any]], *, strict: bool = False,
                     writer: str = "") -> ApplyReport:
        batch = list(ops)
        return (await self.aupdate(lambda library: library.apply(batch, strict=strict), writer=writer))[1]

    def publish(self, library: ExperienceLibrary, *, writer: str, base_digest: str | None = None,
                ops: Iterable[ExperienceOp] = ()) -> str:
        """A learner's step: see :meth:`apublish`."""
        plan = self._change_plan(self._publish(library, writer, base_digest, ops), writer=writer,
                                 writer_step=library.step)
        return self._locked(plan)[1]

    async def apublish(self, library: ExperienceLibrary, *, writer: str, base_digest: str | None = None,
                       ops: Iterable[ExperienceOp] = ()) -> str:
        """Publish a learner's library after a step.

        If the store still holds ``base_digest`` (what the learner started the step from), the
        library replaces it exactly. If another writer changed it meanwhile, the step's ``ops`` are
        applied on top instead, so neither loses lessons. Publishing a step again (a resumed run)
        writes nothing. Returns ``"replaced"``, ``"rebased"``, ``"unchanged"`` or ``"already published"``.
        """
        plan = self._change_plan(self._publish(library, writer, base_digest, ops), writer=writer,
                                 writer_step=library.step)
        return (await self._alocked(plan))[1]


def save_to_store(library: ExperienceLibrary, store: BaseStore, *, domain: str | None = None,
                  namespace: Sequence[str] | None = None) -> StoredLibrary:
    """Write ``library`` as the store's current library (whatever was there is replaced)."""
    domain = domain or library.meta.domain
    return StoreLibrary(store, namespace, domain=domain).write(library)


def load_from_store(store: BaseStore, *, domain: str | None = None, model_id: str | None = None,
                    namespace: Sequence[str] | None = None) -> ExperienceLibrary:
    """The store's current library; an empty library if none was written."""
    stored = StoreLibrary(store, namespace, domain=domain, model_id=model_id).read()
    if stored is not None:
        return stored.library
    library = ExperienceLibrary()
    library.meta.domain = domain
    return library
