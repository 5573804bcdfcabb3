"""Publish a run's library to a LangGraph store after every step, where deployed agents read it.

The run directory stays the learner's own record (resume, per-step files); the store is the
shared copy. Publishing is idempotent per step, so a resumed run re-publishes nothing, and it
rebases on lessons another writer added meanwhile instead of overwriting them.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from langgraph.store.base import BaseStore

from tfgrpo_agents.experience import ExperienceLibrary, StoreLibrary
from tfgrpo_agents.experience.connect import aopen_store
from tfgrpo_agents.learning.events import LibraryPublished


def writer_id(run_dir: Path) -> str:
    """Who publishes: this host and run directory, so two runs never pass for one."""
    return f"{socket.gethostname()}:{run_dir if run_dir.is_absolute() else run_dir.resolve()}"


class StepPublisher:
    """Writes a run's library, as it stood after a step, into one store namespace."""

    def __init__(self, target: StoreLibrary, writer: str) -> None:
        self.target, self.writer = target, writer

    async def publish(self, library: ExperienceLibrary, step: int) -> LibraryPublished:
        """The library after ``step`` replaces the store's if the store still holds the step's
        starting point; otherwise the step's ops are applied on top of what is there."""
        after = library.at_step(step) if library.step > step else library
        before = library.at_step(step - 1) if step > 0 else after
        ops = [applied.op for applied in library.snapshot(step).ops]
        outcome = await self.target.apublish(after, writer=self.writer, base_digest=before.digest(), ops=ops)
        version = await self.target.aversion()
        return LibraryPublished(step=step, outcome=outcome, namespace=self.target.namespace,
                                revision=version.revision if version else 0)


@contextlib.asynccontextmanager
async def open_publisher(store: BaseStore | str | None, *, namespace: Sequence[str] | None, domain: str | None,
                         model_id: str | None, run_dir: Path) -> AsyncIterator[StepPublisher | None]:
    """``None`` without a store; a URL (``postgresql://…``, ``sqlite:///…``, a path) is opened here."""
    if store is None:
        yield None
        return
    async with contextlib.AsyncExitStack() as stack:
        if isinstance(store, str):
            store = await stack.enter_async_context(aopen_store(store))
        yield StepPublisher(StoreLibrary(store, namespace, domain=domain, model_id=model_id), writer_id(run_dir))
