"""``tfgrpo library …``: inspect and edit experience libraries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tfgrpo_agents.cli.common import (
    LibraryPath,
    _fail,
    _load,
    _namespace_labels,
    _print_library,
    app,
    console,
)

library_app = typer.Typer(help="Inspect and edit experience libraries.", no_args_is_help=True,
                          rich_markup_mode=None)
app.add_typer(library_app, name="library")


def _read_ops(path: Path) -> list[Any]:
    """Ops as a JSON list, a JSON object with an ``ops`` list, or JSON lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot read ops file {path}: {exc}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data.append(json.loads(line))
            except json.JSONDecodeError as exc:
                _fail(f"{path}:{number} is not valid JSON ({exc.msg}); give a JSON list of ops or one op per line")
    if isinstance(data, dict) and isinstance(data.get("ops"), list):
        data = data["ops"]
    if not isinstance(data, list):
        _fail(f"{path} must hold a list of ops, an object with an 'ops' list, or one op per line")
    return data


@library_app.command("show")
def library_show(
    path: LibraryPath,
    step: Annotated[int | None, typer.Option(help="Show the library as it was after this step.")] = None,
) -> None:
    """Print the experiences and the exact prompt block an agent receives."""
    from tfgrpo_agents.experience import UnknownStepError

    library = _load(path)
    try:
        _print_library(library, step=step)
    except UnknownStepError as exc:
        _fail(str(exc))


@library_app.command("apply")
def library_apply(
    path: LibraryPath,
    ops_file: Annotated[Path, typer.Argument(help="Ops: JSON list, {'ops': [...]}, or JSON lines.")],
    lenient: Annotated[bool, typer.Option(help="Apply the valid ops and skip invalid ones.")] = False,
    model: Annotated[str | None, typer.Option(help="Model id recorded when creating a new library.")] = None,
    domain: Annotated[str | None, typer.Option(help="Domain recorded when creating a new library.")] = None,
) -> None:
    """Apply a batch of ADD/UPDATE/DELETE/NONE ops as one step (all-or-nothing unless --lenient)."""
    from tfgrpo_agents.experience import InvalidOpsError, save_library

    library = _load(path, create=True, model_id=model, domain=domain)
    ops = _read_ops(ops_file)
    try:
        report = library.apply(ops, strict=not lenient)
    except InvalidOpsError as exc:
        for rejected in exc.report.rejected:
            console.print(f"[red]rejected op #{rejected.index}:[/] {rejected.reason}")
        _fail(f"nothing applied; {path} is unchanged (fix the ops or pass --lenient)")
    save_library(library, path)
    for applied in report.applied:
        note = f" ({applied.note})" if applied.note else ""
        console.print(f"op #{applied.index} {applied.op.op}: {applied.outcome} {applied.experience_id or ''}{note}")
    for rejected in report.rejected:
        console.print(f"[yellow]skipped op #{rejected.index}:[/] {rejected.reason}")
    for evicted in report.evicted:
        console.print(f"[yellow]evicted by budget:[/] [{evicted.id}] {evicted.text}")
    console.print(library.diff(library.steps[-2]).render(), markup=False, highlight=False)
    _print_library(library)


@library_app.command("history")
def library_history(path: LibraryPath) -> None:
    """List the library's steps with what each one changed."""
    library = _load(path)
    table = Table(title=str(path))
    for column in ("step", "experiences", "ops", "evicted", "saved at"):
        table.add_column(column)
    for snapshot in library.history:
        outcomes = ", ".join(f"{a.outcome} {a.experience_id or ''}".strip() for a in snapshot.ops) or "-"
        table.add_row(str(snapshot.step), str(len(snapshot.experiences)), outcomes,
                      ", ".join(snapshot.evicted) or "-", snapshot.created_at.isoformat(timespec="seconds"))
    console.print(table)


@library_app.command("diff")
def library_diff(
    path: LibraryPath,
    from_step: Annotated[int, typer.Argument(help="Older step.")],
    to_step: Annotated[int | None, typer.Argument(help="Newer step (default: current).")] = None,
) -> None:
    """Show what changed between two steps."""
    from tfgrpo_agents.experience import UnknownStepError

    library = _load(path)
    try:
        console.print(library.diff(from_step, to_step).render(), markup=False, highlight=False)
    except UnknownStepError as exc:
        _fail(str(exc))


@library_app.command("rollback")
def library_rollback(path: LibraryPath, step: Annotated[int, typer.Argument(help="Step to return to.")]) -> None:
    """Return the library to an earlier step (later steps are discarded)."""
    from tfgrpo_agents.experience import UnknownStepError, save_library

    library = _load(path)
    try:
        library.rollback(step)
    except UnknownStepError as exc:
        _fail(str(exc))
    save_library(library, path)
    _print_library(library)


StoreOpt = Annotated[str, typer.Option("--store", "--sqlite", help="The store: postgresql://user@host/db, "
                                                                  "sqlite:///file.db or a SQLite file path.")]
NamespaceOpt = Annotated[str | None, typer.Option(help="Namespace in the store, labels separated by / "
                                                       "(default: tfgrpo/<domain>).")]


@library_app.command("export")
def library_export(
    path: LibraryPath,
    store: StoreOpt,
    domain: Annotated[str | None, typer.Option(help="Namespace domain (default: the library's).")] = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Copy a library file into a LangGraph store, as its current library (history kept there)."""
    from tfgrpo_agents.experience import StoreLibrary
    from tfgrpo_agents.experience.connect import (
        StoreUrlError,
        describe_store,
        open_store,
    )

    library = _load(path)
    domain = domain or library.meta.domain
    try:
        with open_store(store) as opened:
            target = StoreLibrary(opened, _namespace_labels(namespace, "--namespace"), domain=domain)
            stored = target.write(library, writer="tfgrpo library export")
    except StoreUrlError as exc:
        _fail(str(exc))
    console.print(f"saved {len(library)} experiences to {describe_store(store)} under {'/'.join(target.namespace)} "
                  f"(revision {stored.revision})")


@library_app.command("import")
def library_import(
    path: LibraryPath,
    store: StoreOpt,
    domain: Annotated[str | None, typer.Option(help="Namespace domain.")] = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Copy a store's current library into a JSON file."""
    from tfgrpo_agents.experience import StoreLibrary, save_library
    from tfgrpo_agents.experience.connect import (
        StoreUrlError,
        describe_store,
        open_store,
        store_kind,
    )

    try:
        kind, target = store_kind(store)
        if kind == "sqlite" and target != ":memory:" and not Path(target).exists():
            _fail(f"no SQLite store at {target}")
        with open_store(store) as opened:
            source = StoreLibrary(opened, _namespace_labels(namespace, "--namespace"), domain=domain)
            stored = source.read()
            if stored is None:
                found = sorted("/".join(ns[:-1]) for ns in opened.list_namespaces(suffix=("library",)))
                _fail(f"{describe_store(store)} holds no library under {'/'.join(source.namespace)}; "
                      f"it has: {', '.join(found) or 'none'}")
    except StoreUrlError as exc:
        _fail(str(exc))
    save_library(stored.library, path)
    _print_library(stored.library)

