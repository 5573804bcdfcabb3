"""The learner publishes every step's library to a store: replaced, idempotent on resume, rebased
over another writer's lessons; `tfgrpo learn --store` and `tfgrpo library export/import --store`
with SQLite and a real PostgreSQL."""

import json
import os
import uuid

import pytest
from langgraph.store.memory import InMemoryStore
from typer.testing import CliRunner

from tests.scripted_world import make_tasks
from tests.test_cli_own_agent import shop_tasks, tfgrpo
from tests.test_examples import shop_reply
from tests.test_learning_loop import KINDS, make_learner
from tfgrpo_agents.cli import app
from tfgrpo_agents.experience import (
    ExperienceLibrary,
    StoreLibrary,
    load_library,
    save_library,
)
from tfgrpo_agents.experience.connect import (
    StoreUrlError,
    describe_store,
    open_store,
    store_kind,
    without_password,
)
from tfgrpo_agents.learning import Task
from tfgrpo_agents.learning.events import LibraryPublished
from tfgrpo_agents.testing import OpenAIStub

runner = CliRunner()


def tasks():
    return [Task.model_validate(t) for t in make_tasks(KINDS)]


def shown(library):
    return [(e.id, e.text) for e in library.experiences]


def test_each_step_is_published_and_a_resume_publishes_nothing_new(tmp_path):
    store, events = InMemoryStore(), []
    learner = make_learner(tmp_path / "run")
    learner.store, learner.on_event = store, events.append
    library = learner.fit(tasks()).library
    published = [e for e in events if isinstance(e, LibraryPublished)]
    assert [e.step for e in published] == [1, 2, 3, 4]
    assert {e.outcome for e in published} == {"replaced"} and published[-1].namespace == ("tfgrpo", "math")
    stored = StoreLibrary(store, domain="math").read()
    assert shown(stored.library) == shown(library) and stored.library.step == 4 and stored.revision == 4
    assert [entry.snapshot.step for entry in StoreLibrary(store, domain="math").history()] == [1, 2, 3, 4]

    events.clear()
    again = make_learner(tmp_path / "run")
    again.store, again.on_event = store, events.append
    again.fit(tasks())
    assert [(e.step, e.outcome) for e in events if isinstance(e, LibraryPublished)] == [(4, "unchanged")]
    assert StoreLibrary(store, domain="math").version().revision == 4


def test_a_lesson_another_writer_adds_mid_run_is_kept(tmp_path):
    store = InMemoryStore()
    shared = StoreLibrary(store, ("team", "math"))
    outcomes = []

    def on_event(event):
        if isinstance(event, LibraryPublished):
            outcomes.append(event.outcome)
            if event.step == 1:
                shared.apply([{"op": "ADD", "text": "Check units before answering."}], writer="a colleague")

    learner = make_learner(tmp_path / "run")
    learner.store, learner.store_namespace, learner.on_event = store, ("team", "math"), on_event
    library = learner.fit(tasks()).library
    final = shared.read().library
    assert "Check units before answering." in final.texts()
    assert "Check units before answering." not in library.texts()  # the run directory stays the run's own
    assert set(library.texts()) <= set(final.texts())
    assert outcomes[0] == "replaced" and set(outcomes[1:]) == {"rebased"}


def test_a_store_url_is_opened_by_the_learner(tmp_path):
    learner = make_learner(tmp_path / "run")
    learner.store = f"sqlite:///{tmp_path / 'shared.db'}"
    library = learner.fit(tasks()).library
    with open_store(str(tmp_path / "shared.db")) as store:
        assert shown(StoreLibrary(store, domain="math").read().library) == shown(library)


def test_store_addresses():
    assert store_kind("sqlite:///lib.db") == ("sqlite", "lib.db")
    assert store_kind("sqlite:////abs/lib.db") == ("sqlite", "/abs/lib.db")
    assert store_kind("lib.db") == ("sqlite", "lib.db")
    url = "postgresql://ann:s3cret@db.example:5432/tfgrpo"
    assert store_kind(url) == ("postgres", url)
    assert describe_store(url) == "postgresql://ann:***@db.example:5432/tfgrpo"
    assert without_password(url) == "postgresql://ann@db.example:5432/tfgrpo"
    with pytest.raises(StoreUrlError, match="unknown store address 'mysql://u:\\*\\*\\*@h/db'|use postgresql"):
        store_kind("mysql://u:p@h/db")
    with pytest.raises(StoreUrlError, match="does not exist"):
        with open_store("/no/such/folder/lib.db"):
            pass


def test_cli_learn_publishes_to_postgres_and_keeps_no_password(tmp_path, postgres_url):
    namespace = f"tenant-{uuid.uuid4().hex[:8]}/shop"
    with OpenAIStub(reply_fn=shop_reply) as stub:
        env = {**os.environ, "OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "test", "COLUMNS": "120"}
        learned = tfgrpo("learn", "--agent", "your_own_agent:make_agent", "--grader", "your_own_agent:reward",
                         "--tasks", str(shop_tasks(tmp_path)), "--model", "m", "--base-url", stub.base_url,
                         "--group-size", "3", "--epochs", "1", "--batch-size", "2", "--out", str(tmp_path / "run"),
                         "--store", postgres_url, "--store-namespace", namespace, "--json", env=env)
    assert learned.returncode == 0, learned.stderr[-3000:]
    result = json.loads(learned.stdout)
    with open_store(postgres_url) as store:
        stored = StoreLibrary(store, tuple(namespace.split("/"))).read()
    assert stored is not None and stored.library.step == result["step"]
    assert [e.text for e in stored.library.experiences] == [e["text"] for e in result["experiences"]]
    saved = json.loads((tmp_path / "run" / "cli.json").read_text())
    assert saved["store"] == without_password(postgres_url) and saved["store_namespace"] == namespace.split("/")


def test_cli_learn_with_an_unreachable_store_fails_in_one_line_and_resumes(tmp_path):
    with OpenAIStub(reply_fn=shop_reply) as stub:
        env = {**os.environ, "OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "test"}
        failed = tfgrpo("learn", "--agent", "your_own_agent:make_agent", "--grader", "your_own_agent:reward",
                        "--tasks", str(shop_tasks(tmp_path)), "--model", "m", "--base-url", stub.base_url,
                        "--group-size", "2", "--epochs", "1", "--batch-size", "2", "--out", str(tmp_path / "run"),
                        "--store", "postgresql://nobody:pw@127.0.0.1:1/none", env=env)
        assert failed.returncode == 1
        message = failed.stderr.strip().splitlines()[-1]
        assert "cannot open the store postgresql://nobody:***@127.0.0.1:1/none" in message and "--resume" in message
        assert "pw@" not in failed.stderr + failed.stdout
        resumed = tfgrpo("learn", "--resume", str(tmp_path / "run"), "--store", str(tmp_path / "ok.db"), env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    with open_store(str(tmp_path / "ok.db")) as store:
        (found,) = store.list_namespaces(suffix=("library",))
        assert StoreLibrary(store, found[:-1]).read().library.step == 2


def test_library_export_import_through_postgres(tmp_path, postgres_url):
    library = ExperienceLibrary.from_texts(["Read the question twice.", "Show the arithmetic."])
    library.meta.domain = "math"
    save_library(library, tmp_path / "lib.json")
    namespace = f"t{uuid.uuid4().hex[:8]}/math"
    exported = runner.invoke(app, ["library", "export", str(tmp_path / "lib.json"), "--store", postgres_url,
                                   "--namespace", namespace])
    assert exported.exit_code == 0, exported.output
    assert "revision 1" in exported.output
    imported = runner.invoke(app, ["library", "import", str(tmp_path / "back.json"), "--store", postgres_url,
                                   "--namespace", namespace])
    assert imported.exit_code == 0, imported.output
    assert load_library(tmp_path / "back.json").texts() == library.texts()
    missing = runner.invoke(app, ["library", "import", str(tmp_path / "x.json"), "--store", postgres_url,
                                  "--namespace", "nobody/here"])
    assert missing.exit_code != 0 and namespace in missing.output and "holds no library under nobody/here" in \
        missing.output
