"""The shared library in a store: read cost per model call, concurrent writers, torn reads.

    python bench/store_bench.py [--steps 200] [--reads 2000] [--writers 2 --adds 40] [--step-pause 0.02]

Runs against an InMemoryStore and a throwaway PostgreSQL server on 127.0.0.1 (Debian's binaries,
started by ``tfgrpo_agents.testing.postgres``):

* read cost: a library learned over ``--steps`` publishes (an ADD every step, an UPDATE every
  third, a DELETE every fifth; history kept), then ``StoreSource.acurrent()`` — what
  ``ExperienceMiddleware`` calls before every model call — timed ``--reads`` times with the library
  unchanged (a cached read: one small version item), and with a write before each read (a re-read);
* writers: ``--writers`` processes each apply ``--adds`` ADDs, one op per write, to one
  PostgreSQL library at once; every lesson must survive;
* torn reads: a reader reads the library over and over while a learner publishes ``--steps``
  steps (``--step-pause`` apart; only reads made while it publishes count); a read is torn when its experiences are not those of the history entry with its revision,
  or its digest does not match its experiences.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import platform
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from langgraph.store.memory import InMemoryStore

from tfgrpo_agents.experience import (
    ExperienceLibrary,
    LibraryLimits,
    StoreLibrary,
    StoreSource,
)

NAMESPACE = ("tfgrpo", "bench")
LIMITS = LibraryLimits(max_experiences=40, max_tokens=None)


def lesson(tag: str, number: int) -> str:
    words = hashlib.sha256(f"{tag}{number}".encode()).hexdigest()
    return f"Check {words[:10]} before {words[10:20]}, then {words[20:30]}."


def step_ops(library: ExperienceLibrary, step: int) -> list[dict]:
    ops: list[dict] = [{"op": "ADD", "text": lesson("step", step)}]
    if library.experiences and step % 3 == 0:
        ops.append({"op": "UPDATE", "id": library.experiences[0].id, "text": lesson("edit", step)})
    if len(library.experiences) > 2 and step % 5 == 0:
        ops.append({"op": "DELETE", "id": library.experiences[-1].id})
    return ops


def learn(target: StoreLibrary, steps: int, pause_s: float = 0.0) -> None:
    """``steps`` publishes, as a learner makes them (the run's library with its history)."""
    library = ExperienceLibrary(limits=LIMITS)
    for step in range(1, steps + 1):
        time.sleep(pause_s)
        base = library.digest()
        ops = step_ops(library, step)
        library.apply(ops, step=step, strict=False)
        target.publish(library, writer="bench", base_digest=base, ops=ops)


def timed_reads(opener, reads: int, write_between: bool = False, refresh_every: float = 0.0,
                raw: bool = False) -> dict:
    """``StoreSource.acurrent()`` timed ``reads`` times, through the async store ``opener()`` yields
    (``raw``: the store's own ``aget`` of the version item instead, the floor of a version check)."""

    async def run() -> list[float]:
        async with opener() as store:
            source = StoreSource(store, namespace=NAMESPACE, refresh_every=refresh_every)
            target = StoreLibrary(store, NAMESPACE)
            first = (await target.aread()).library.experiences[0].id

            def read():
                return store.aget((*NAMESPACE, "library"), "version") if raw else source.acurrent()

            await read()  # warm: the first read fills the cache
            times = []
            for number in range(reads):
                if write_between:
                    await target.aapply([{"op": "UPDATE", "id": first, "text": lesson("reread", number)}])
                start = time.perf_counter()
                await read()
                times.append((time.perf_counter() - start) * 1000)
            return times

    times = sorted(asyncio.run(run()))
    return {"reads": reads, "median_ms": round(statistics.median(times), 3),
            "p90_ms": round(times[int(0.9 * len(times))], 3), "mean_ms": round(statistics.fmean(times), 3)}


def read_cost(store, opener, label: str, steps: int, reads: int) -> dict:
    """Learn ``steps`` steps into ``store``, then time reads through ``opener`` (the same data, async)."""
    target = StoreLibrary(store, NAMESPACE)
    started = time.perf_counter()
    learn(target, steps)
    learn_s = time.perf_counter() - started
    stored = target.read()
    history = target.history()
    current_bytes = len(json.dumps(stored.model_dump(mode="json")))
    result = {"store": label, "steps": steps, "experiences": len(stored.library), "history_entries": len(history),
              "current_item_bytes": current_bytes, "publish_s_per_step": round(learn_s / steps, 4),
              "unchanged": timed_reads(opener, reads),
              "unchanged_refresh_every_1s": timed_reads(opener, reads, refresh_every=1.0),
              "store_aget_floor": timed_reads(opener, reads, raw=True),
              "changed": timed_reads(opener, max(reads // 10, 20), write_between=True)}
    print(f"{label}: cached read {result['unchanged']['median_ms']} ms median (the store's own aget: "
          f"{result['store_aget_floor']['median_ms']} ms; refresh_every=1s: "
          f"{result['unchanged_refresh_every_1s']['median_ms']} ms), re-read {result['changed']['median_ms']} ms "
          f"({result['experiences']} experiences, {len(history)} history items)")
    return result


WRITER = """
import sys
from langgraph.store.postgres import PostgresStore
from tfgrpo_agents.experience import StoreLibrary
sys.path.insert(0, sys.argv[4])
from store_bench import lesson
url, name, adds = sys.argv[1], sys.argv[2], int(sys.argv[3])
with PostgresStore.from_conn_string(url) as store:
    target = StoreLibrary(store, ("tfgrpo", "writers"))
    for number in range(adds):
        target.apply([{"op": "ADD", "text": lesson(name, number)}], writer=name)
"""


def writers(url: str, count: int, adds: int) -> dict:
    from langgraph.store.postgres import PostgresStore

    with PostgresStore.from_conn_string(url) as store:
        store.setup()
        StoreLibrary(store, ("tfgrpo", "writers")).write(
            ExperienceLibrary(limits=LibraryLimits(max_experiences=None, max_tokens=None)))
    names = [f"w{i}" for i in range(count)]
    started = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, url, name, str(adds), str(Path(__file__).parent)])
                 for name in names]
    codes = [process.wait(timeout=600) for process in processes]
    wall = time.perf_counter() - started
    with PostgresStore.from_conn_string(url) as store:
        stored = StoreLibrary(store, ("tfgrpo", "writers")).read()
    expected = {lesson(name, number) for name in names for number in range(adds)}
    present = len(expected & set(stored.library.texts()))
    print(f"writers: {present} of {len(expected)} lessons present, revision {stored.revision}, {wall:.1f} s")
    return {"processes": count, "adds_each": adds, "exit_codes": codes, "expected": len(expected),
            "present": present, "revision": stored.revision, "wall_s": round(wall, 2)}


def torn_reads(url: str, steps: int, pause_s: float) -> dict:
    from langgraph.store.postgres import PostgresStore

    namespace = ("tfgrpo", "torn")
    seen: list[tuple[int, str, list[str], bool]] = []
    with PostgresStore.from_conn_string(url) as writer_store, PostgresStore.from_conn_string(url) as reader_store:
        target = StoreLibrary(writer_store, namespace)
        done = threading.Event()

        def learner() -> None:
            learn(target, steps, pause_s)
            done.set()

        thread = threading.Thread(target=learner)
        thread.start()
        reader = StoreLibrary(reader_store, namespace)
        while not done.is_set():
            stored = reader.read()
            if stored is not None:
                seen.append((stored.revision, stored.digest, [e.id + e.text for e in stored.library.experiences],
                             stored.library.digest() == stored.digest))
        thread.join()
        history = {entry.revision: entry for entry in reader.history()}
    torn = [revision for revision, digest, shown, consistent in seen
            if not consistent or history[revision].digest != digest
            or [e.id + e.text for e in history[revision].snapshot.experiences] != shown]
    distinct = len({revision for revision, *_ in seen})
    print(f"torn reads: {len(torn)} of {len(seen)} reads ({distinct} distinct revisions seen) during {steps} steps")
    if len(seen) < 1000:
        print("note: fewer than 1,000 reads during the steps; raise --step-pause")
    return {"steps": steps, "reads": len(seen), "distinct_revisions_seen": distinct, "torn": len(torn)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--adds", type=int, default=40)
    parser.add_argument("--step-pause", type=float, default=0.02,
                        help="seconds between the torn-read learner's steps (a real step takes minutes)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/store.json"))
    args = parser.parse_args()

    from langgraph.store.postgres import AsyncPostgresStore, PostgresStore

    from tfgrpo_agents.testing.postgres import TemporaryPostgres

    results: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "machine": f"{platform.machine()}, {platform.python_version()}, "
                                f"{__import__('os').cpu_count()} cores",
                     "command": " ".join(["python", *sys.argv])}
    memory = InMemoryStore()

    @contextlib.asynccontextmanager
    async def same_memory():
        yield memory

    results["read_cost"] = [read_cost(memory, same_memory, "InMemoryStore", args.steps, args.reads)]
    with TemporaryPostgres() as server:
        with PostgresStore.from_conn_string(server.url) as store:
            store.setup()
            results["read_cost"].append(read_cost(store, lambda: AsyncPostgresStore.from_conn_string(server.url),
                                                  "AsyncPostgresStore", args.steps, args.reads))
        results["writers"] = writers(server.url, args.writers, args.adds)
        results["torn"] = torn_reads(server.url, args.steps, args.step_pause)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
