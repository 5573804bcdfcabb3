"""Keep a library in any LangGraph ``BaseStore`` (in-memory, SQLite, Postgres, …).

Layout, for domain ``d``: one item per experience under ``("tfgrpo", d, "experiences")`` keyed by
experience id (so apps can list or search them), and one item ``library`` under
``("tfgrpo", d, "meta")`` holding metadata, limits, step and history. Everything is written in
one ``store.batch`` call.
"""

from __future__ import annotations

from typing import Any

from langgraph.store.base import BaseStore, PutOp

from tfgrpo_agents.experience.files import check_model
from tfgrpo_agents.experience.library import ExperienceLibrary
from tfgrpo_agents.experience.models import Experience

ROOT = "tfgrpo"
DEFAULT_DOMAIN = "default"
META_KEY = "library"
_PAGE = 500


def experiences_namespace(domain: str | None) -> tuple[str, ...]:
    return (ROOT, domain or DEFAULT_DOMAIN, "experiences")


def meta_namespace(domain: str | None) -> tuple[str, ...]:
    return (ROOT, domain or DEFAULT_DOMAIN, "meta")


def _list_items(store: BaseStore, namespace: tuple[str, ...]) -> list[Any]:
    items: list[Any] = []
    while True:
        page = store.search(namespace, limit=_PAGE, offset=len(items))
        items.extend(item for item in page if item.namespace == namespace)
        if len(page) < _PAGE:
            return items


def save_to_store(library: ExperienceLibrary, store: BaseStore, *, domain: str | None = None) -> None:
    """Write the library into ``store``; experiences no longer in the library are removed."""
    domain = domain or library.meta.domain
    namespace = experiences_namespace(domain)
    keep = {e.id for e in library.experiences}
    stale = [item.key for item in _list_items(store, namespace) if item.key not in keep]
    ops: list[PutOp] = [
        PutOp(namespace, e.id, e.model_dump(mode="json"), index=["text"]) for e in library.experiences
    ]
    ops += [PutOp(namespace, key, None) for key in stale]
    ops.append(
        PutOp(
            meta_namespace(domain),
            META_KEY,
            library.model_dump(mode="json", exclude={"experiences"}),
            index=False,
        )
    )
    store.batch(ops)


def load_from_store(
    store: BaseStore, *, domain: str | None = None, model_id: str | None = None
) -> ExperienceLibrary:
    """Read a library saved with :func:`save_to_store`; an empty library if none was saved."""
    meta_item = store.get(meta_namespace(domain), META_KEY)
    experiences = [Experience.model_validate(item.value) for item in _list_items(store, experiences_namespace(domain))]
    if meta_item is None:
        library = ExperienceLibrary(experiences=experiences)
        library.meta.domain = domain
        return library
    library = ExperienceLibrary.model_validate({**meta_item.value, "experiences": experiences})
    check_model(library, model_id, origin=f"store namespace {experiences_namespace(domain)}")
    return library
