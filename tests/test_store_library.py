"""A library in a LangGraph store: layout, versions, locked writes, cached reads, async stores, PostgreSQL."""

import asyncio
import hashlib
import subprocess
import sys
import threading

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.store.memory import InMemoryStore
from langgraph.store.sqlite import SqliteStore

from tfgrpo_agents.experience import (
    ExperienceError,
    ExperienceLibrary,
    LibraryConflictError,
    LibraryLimits,
    StoreLibrary,
    StoreSource,
    library_namespace,
)
from tfgrpo_agents.experience.models import ExperienceOp, OpKind

UNBOUNDED = LibraryLimits(max_experiences=None, max_tokens=None)


def lesson(writer: str, number: int) -> str:
    """Distinct lessons (no two are near-duplicates of each other)."""
    words = hashlib.sha256(f"{writer}{number}".encode()).hexdigest()
    return f"Check {words[:10]} before {words[10:20]}, then {words[20:30]}."


def seeded(store, namespace=("tfgrpo", "web")) -> StoreLibrary:
    target = StoreLibrary(store, namespace)
    target.write(ExperienceLibrary(limits=UNBOUNDED))
    return target


class CountingStore(InMemoryStore):
    """Counts the ops a reader sends, to show what a cached read costs."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list = []

    def batch(self, ops):
        ops = list(ops)
        self.ops.extend(ops)
        return super().batch(ops)


# ---------------------------------------------------------------- layout and versions

def test_the_current_library_is_one_item_and_history_one_item_per_write():
    store = InMemoryStore()
    target = seeded(store)
    for number in range(5):
        target.apply([{"op": "ADD", "text": lesson("a", number)}])
    stored = target.read()
    assert stored.revision == 6 and len(stored.library) == 5 and stored.library.step == 5
    current = store.get(("tfgrpo", "web", "library"), "current").value
    assert "history" not in current["library"], "the current item must not grow with the history"
    assert [entry.revision for entry in target.history()] == [1, 2, 3, 4, 5, 6]
    assert [len(entry.snapshot.experiences) for entry in target.history()] == [0, 1, 2, 3, 4, 5]
    mirrored = {item.key for item in store.search(("tfgrpo", "web", "experiences"), limit=50)}
    assert mirrored == {e.id for e in stored.library.experiences}


def test_a_write_against_a_stale_revision_conflicts_and_writes_nothing():
    store = InMemoryStore()
    target = seeded(store)
    seen = target.read()
    target.apply([{"op": "ADD", "text": lesson("other", 1)}])
    mine = seen.library.model_copy(deep=True)
    mine.apply([{"op": "ADD", "text": lesson("me", 1)}])
    with pytest.raises(LibraryConflictError, match="revision 2, not 1"):
        target.write(mine, expected_revision=seen.revision)
    assert target.read().library.texts() == [lesson("other", 1)]
    target.write(mine, expected_revision=2)
    assert target.read().library.texts() == [lesson("me", 1)]


def test_threads_applying_ops_at_once_lose_nothing():
    store = InMemoryStore()
    target = seeded(store)

    def writer(name: str) -> None:
        mine = StoreLibrary(store, ("tfgrpo", "web"))
        for number in range(25):
            mine.apply([{"op": "ADD", "text": lesson(name, number)}], writer=name)

    threads = [threading.Thread(target=writer, args=(name,)) for name in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(target.read().library) == 75


def test_a_library_saved_by_the_old_layout_is_still_read():
    store = InMemoryStore()
    old = ExperienceLibrary.from_texts(["Open the changelog first."])
    store.put(("tfgrpo", "web", "experiences"), "G0", old.experiences[0].model_dump(mode="json"))
    store.put(("tfgrpo", "web", "meta"), "library", old.model_dump(mode="json", exclude={"experiences"}))
    target = StoreLibrary(store, domain="web")
    assert target.read().library.texts() == ["Open the changelog first."]
    target.apply([{"op": "ADD", "text": "Answer with the number only."}])
    assert target.read().library.texts() == ["Open the changelog first.", "Answer with the number only."]


def test_publishing_replaces_rebases_and_is_idempotent():
    store = InMemoryStore()
    target = StoreLibrary(store, domain="web")
    learner = ExperienceLibrary(limits=UNBOUNDED)
    base = learner.digest()
    ops = [ExperienceOp(op=OpKind.ADD, text=lesson("learner", 1))]
    learner.apply(ops)
    assert target.publish(learner, writer="run-1", base_digest=base, ops=ops) == "replaced"
    assert target.publish(learner, writer="run-1", base_digest=base, ops=ops) == "unchanged"
    target.apply([{"op": "ADD", "text": lesson("app", 1)}], writer="app")
    base = learner.digest()
    ops = [ExperienceOp(op=OpKind.ADD, text=lesson("learner", 2))]
    learner.apply(ops)
    assert target.publish(learner, writer="run-1", base_digest=base, ops=ops) == "rebased"
    assert sorted(target.read().library.texts()) == sorted(
        [lesson("learner", 1), lesson("app", 1), lesson("learner", 2)])
    assert target.publish(learner, writer="run-1", base_digest=base, ops=ops) == "already published"


# ---------------------------------------------------------------- readers

def test_an_unchanged_library_costs_one_small_read_per_call():
    store = CountingStore()
    target = seeded(store)
    for number in range(200):
        target.apply([{"op": "ADD", "text": lesson("a", number % 40)}] if number < 40 else [])
    source = StoreSource(store, namespace=("tfgrpo", "web"))
    assert len(source.current()) == 40
    store.ops.clear()
    for _ in range(10):
        assert len(source.current()) == 40
    assert len(store.ops) == 10 and all(op.key == "version" for op in store.ops)
    target.apply([{"op": "ADD", "text": lesson("b", 1)}])
    assert len(source.current()) == 41, "a new version is picked up on the next call"


def test_refresh_every_skips_even_the_version_check():
    store = CountingStore()
    seeded(store)
    source = StoreSource(store, namespace=("tfgrpo", "web"), refresh_every=60)
    source.current()
    store.ops.clear()
    source.current()
    assert store.ops == []


def test_a_namespace_template_gives_each_user_their_own_library():
    store = InMemoryStore()
    StoreLibrary(store, ("tfgrpo", "alice", "web")).apply([{"op": "ADD", "text": "Alice likes tables."}])
    StoreLibrary(store, ("tfgrpo", "bob", "web")).apply([{"op": "ADD", "text": "Bob wants one line."}])
    source = StoreSource(store, namespace=("tfgrpo", "{user_id}", "web"))

    from langchain_core.runnables import RunnableLambda

    read = RunnableLambda(lambda _: source.current().texts())
    assert read.invoke(None, RunnableConfig(configurable={"user_id": "alice"})) == ["Alice likes tables."]
    assert read.invoke(None, RunnableConfig(configurable={"user_id": "bob"})) == ["Bob wants one line."]
    with pytest.raises(ExperienceError, match="needs 'user_id'"):
        read.invoke(None)


def test_a_source_without_a_store_outside_a_graph_says_what_to_do():
    with pytest.raises(ExperienceError, match="pass store="):
        StoreSource().current()


def test_the_default_namespace_is_per_domain():
    assert library_namespace("web") == ("tfgrpo", "web")
    assert library_namespace(None) == ("tfgrpo", "default")


# ---------------------------------------------------------------- async stores and agents

def _agent_seeing(store, source):
    from langchain.agents import create_agent

    from tests.fakes import scripted
    from tfgrpo_agents import ExperienceMiddleware

    model = scripted("done")
    agent = create_agent(model, [], system_prompt="Be brief.", middleware=[ExperienceMiddleware(source)],
                         store=store)
    return agent, model


def _shown(model) -> str:
    return "\n".join(str(m.content) for m in model.calls[-1]["messages"])


def test_an_ainvoke_agent_reads_an_async_sqlite_store(tmp_path):
    from langgraph.store.sqlite.aio import AsyncSqliteStore

    async def run() -> str:
        async with AsyncSqliteStore.from_conn_string(str(tmp_path / "store.db")) as store:
            await store.setup()
            await StoreLibrary(store, domain="web").aapply([{"op": "ADD", "text": "Open the API page first."}])
            agent, model = _agent_seeing(store, StoreSource(domain="web"))  # the graph's own store
            await agent.ainvoke({"messages": [("user", "hi")]})
            return _shown(model)

    assert "Open the API page first." in asyncio.run(run())


def test_the_react_agent_reads_an_async_store_under_ainvoke(tmp_path):
    from langgraph.store.sqlite.aio import AsyncSqliteStore

    from tests.fakes import scripted
    from tfgrpo_agents import build_react_agent

    async def run() -> str:
        async with AsyncSqliteStore.from_conn_string(str(tmp_path / "store.db")) as store:
            await store.setup()
            await StoreLibrary(store, domain="web").aapply([{"op": "ADD", "text": "Open the API page first."}])
            model = scripted("done")
            agent = build_react_agent(model, [], experiences=StoreSource(store, domain="web"))
            await agent.ainvoke({"messages": [("user", "hi")]})
            return _shown(model)

    assert "Open the API page first." in asyncio.run(run())


# ---------------------------------------------------------------- real databases, several processes

WRITER = """
import hashlib, sys
from tests.test_store_library import lesson
from tfgrpo_agents.experience import StoreLibrary
kind, url, name = sys.argv[1:4]
if kind == "postgres":
    from langgraph.store.postgres import PostgresStore as Store
else:
    from langgraph.store.sqlite import SqliteStore as Store
with Store.from_conn_string(url) as store:
    target = StoreLibrary(store, ("tfgrpo", "shared"))
    for number in range(40):
        target.apply([{"op": "ADD", "text": lesson(name, number)}], writer=name)
"""


def _two_writers(kind: str, url: str) -> None:
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, kind, url, name]) for name in ("a", "b")]
    assert [process.wait(timeout=240) for process in processes] == [0, 0]


def test_two_processes_adding_40_lessons_each_to_postgres_keep_all_80(postgres_url):
    from langgraph.store.postgres import PostgresStore

    with PostgresStore.from_conn_string(postgres_url) as store:
        store.setup()
        seeded(store, ("tfgrpo", "shared"))
        _two_writers("postgres", postgres_url)
        stored = StoreLibrary(store, ("tfgrpo", "shared")).read()
    expected = {lesson(name, number) for name in "ab" for number in range(40)}
    assert set(stored.library.texts()) == expected and stored.revision == 81


def test_two_processes_adding_to_one_sqlite_file_keep_all_80(tmp_path):
    path = str(tmp_path / "store.db")
    with SqliteStore.from_conn_string(path) as store:
        store.setup()
        seeded(store, ("tfgrpo", "shared"))
    _two_writers("sqlite", path)
    with SqliteStore.from_conn_string(path) as store:
        assert len(StoreLibrary(store, ("tfgrpo", "shared")).read().library) == 80


def test_readers_never_see_a_half_written_library_on_postgres(postgres_url):
    from langgraph.store.postgres import PostgresStore

    torn, reads = [], 0
    with PostgresStore.from_conn_string(postgres_url) as writer_store, \
            PostgresStore.from_conn_string(postgres_url) as reader_store:
        writer_store.setup()
        target = seeded(writer_store, ("tfgrpo", "torn"))
        done = threading.Event()

        def learner() -> None:
            for step in range(60):
                ops = [{"op": "ADD", "text": lesson("step", step)}]
                if step % 3 == 2:
                    ops.append({"op": "DELETE", "id": f"G{step - 2}"})
                target.apply(ops)
            done.set()

        thread = threading.Thread(target=learner)
        thread.start()
        reader = StoreLibrary(reader_store, ("tfgrpo", "torn"))
        while not done.is_set() or reads < 300:
            stored = reader.read()
            reads += 1
            if stored.library.digest() != stored.digest or stored.library.step != stored.revision - 1:
                torn.append(stored.revision)
        thread.join()
        history = {entry.revision: entry for entry in reader.history()}
        final = reader.read()
    assert reads >= 300 and torn == []
    assert [e.id for e in history[61].snapshot.experiences] == [e.id for e in final.library.experiences]


def test_an_ainvoke_agent_reads_an_async_postgres_store(postgres_url):
    from langgraph.store.postgres import AsyncPostgresStore

    async def run() -> str:
        async with AsyncPostgresStore.from_conn_string(postgres_url) as store:
            await store.setup()
            await StoreLibrary(store, ("tfgrpo", "async")).aapply([{"op": "ADD", "text": "Read the table."}])
            agent, model = _agent_seeing(store, StoreSource(namespace=("tfgrpo", "async")))
            await agent.ainvoke({"messages": [("user", "hi")]})
            return _shown(model)

    assert "Read the table." in asyncio.run(run())
