"""JSON files (atomic, validated, provenance-checked) and LangGraph BaseStore round trips."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest
from langgraph.store.memory import InMemoryStore
from langgraph.store.sqlite import SqliteStore

from tfgrpo_agents.experience import (
    ExperienceLibrary,
    LibraryFileError,
    LibraryMeta,
    ModelMismatchWarning,
    experiences_namespace,
    load_from_store,
    load_library,
    save_library,
    save_to_store,
)


@pytest.fixture
def library() -> ExperienceLibrary:
    library = ExperienceLibrary.from_texts(
        ["Deadlines live on the Important Dates page.", "Answer with the value only."],
        meta=LibraryMeta(model_id="qwen2.5-coder-1.5b", domain="web"),
    )
    library.apply([{"op": "ADD", "text": "Staff pages list emails."}, {"op": "DELETE", "id": "G1"}])
    return library


def test_json_round_trip_keeps_everything(tmp_path, library):
    path = save_library(library, tmp_path / "lib.json")
    loaded = load_library(path)
    assert loaded.model_dump(exclude={"history"}) == library.model_dump(exclude={"history"})
    assert loaded.meta.model_id == "qwen2.5-coder-1.5b" and loaded.meta.domain == "web"
    assert loaded.diff(0).render() == library.diff(0).render()


def test_json_without_history(tmp_path, library):
    path = save_library(library, tmp_path / "lib.json", include_history=False)
    assert "history" not in json.loads(path.read_text())
    loaded = load_library(path)
    assert loaded.texts() == library.texts() and loaded.steps == [1]


def test_crash_during_replace_leaves_old_file_and_no_temp(tmp_path, library, monkeypatch):
    path = save_library(library, tmp_path / "lib.json")
    before = path.read_bytes()
    library.apply([{"op": "ADD", "text": "Never saved."}])

    def crash(*args, **kwargs):
        raise OSError("simulated power loss")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        save_library(library, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib.json"]


WRITER = """
import sys
from tfgrpo_agents.experience import ExperienceLibrary, LibraryLimits, save_library
lib = ExperienceLibrary(limits=LibraryLimits(max_experiences=None, max_tokens=None, word_cap=32))
lib.apply([{"op": "ADD", "text": f"lesson {i} " + " ".join(f"w{i}x{j}" for j in range(20))} for i in range(400)])
print("ready", flush=True)
n = 0
while True:
    n += 1
    lib.apply([{"op": "UPDATE", "id": "G0", "text": f"rewrite {n}"}])
    save_library(lib, sys.argv[1])
"""


def test_kill_9_mid_write_never_leaves_a_corrupt_library(tmp_path):
    path = tmp_path / "lib.json"
    for delay in (0.3, 0.55, 0.8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        loaded = load_library(path)
        assert len(loaded) == 400 and loaded.get("G0").text.startswith("rewrite ")
    leftovers = [p for p in tmp_path.iterdir() if p.name != "lib.json"]
    assert all(p.name.endswith(".tmp") for p in leftovers), "only orphaned temp files may remain"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('["a list"]', "not an experience library"),
        ('{"experiences": [{"text": "no id"}]}', "experiences.0.id"),
    ],
)
def test_malformed_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(LibraryFileError, match=message) as info:
        load_library(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(LibraryFileError, match="no library file at"):
        load_library(tmp_path / "absent.json")


def test_loading_with_another_model_warns(tmp_path, library):
    path = save_library(library, tmp_path / "lib.json")
    with pytest.warns(ModelMismatchWarning, match="learned with model 'qwen2.5-coder-1.5b'"):
        load_library(path, model_id="gpt-4o-mini")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_library(path, model_id="qwen2.5-coder-1.5b")


def _round_trip(store, library):
    save_to_store(library, store)
    loaded = load_from_store(store, domain="web")
    assert loaded.model_dump(exclude={"history"}) == library.model_dump(exclude={"history"})
    keys = sorted(item.key for item in store.search(experiences_namespace("web"), limit=50))
    assert keys == ["G0", "G2"]
    library.apply([{"op": "DELETE", "id": "G0"}, {"op": "ADD", "text": "Prices are on the Shop page."}])
    save_to_store(library, store)
    keys = sorted(item.key for item in store.search(experiences_namespace("web"), limit=50))
    assert keys == ["G2", "G3"], "deleted experiences are removed from the store"
    assert load_from_store(store, domain="web").texts() == library.texts()


def test_in_memory_store_round_trip(library):
    _round_trip(InMemoryStore(), library)


def test_sqlite_store_round_trip_survives_reopen(tmp_path, library):
    db = str(tmp_path / "store.sqlite")
    with SqliteStore.from_conn_string(db) as store:
        store.setup()
        _round_trip(store, library)
    with SqliteStore.from_conn_string(db) as reopened:
        loaded = load_from_store(reopened, domain="web")
    assert loaded.texts() == library.texts() and loaded.step == library.step


def test_empty_store_gives_an_empty_library():
    loaded = load_from_store(InMemoryStore(), domain="math")
    assert len(loaded) == 0 and loaded.meta.domain == "math"


def test_store_load_warns_on_model_mismatch(library):
    store = InMemoryStore()
    save_to_store(library, store)
    with pytest.warns(ModelMismatchWarning):
        load_from_store(store, domain="web", model_id="other-model")


def test_atomic_writes_are_readable_by_others_and_keep_a_files_mode(tmp_path):
    import stat

    from tfgrpo_agents._atomic import atomic_write_text

    fresh = atomic_write_text(tmp_path / "library.json", "{}")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644, "not the private mode of a temporary file"
    fresh.chmod(0o600)
    atomic_write_text(fresh, "{}\n")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
