"""`tfgrpo learn/eval --agent package.module:factory`, `--json`, `--version`, exit codes, and learning
from recorded trajectories, against the scripted OpenAI-compatible stub."""

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tests.scripted_world import TRUST, WorldChatModel
from tests.test_examples import shop_reply
from tfgrpo_agents.cli import app
from tfgrpo_agents.learning import LearnSettings, TrainingFreeGRPO, load_recorded
from tfgrpo_agents.testing import OpenAIStub

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
runner = CliRunner()


def shop_tasks(tmp_path) -> Path:
    sys.path.insert(0, str(EXAMPLES))
    try:
        from your_own_agent import tasks
    finally:
        sys.path.remove(str(EXAMPLES))
    path = tmp_path / "shop.jsonl"
    path.write_text("".join(t.model_dump_json() + "\n" for t in tasks()))
    return path


def tfgrpo(*args, env, cwd=EXAMPLES):
    return subprocess.run([sys.executable, "-m", "tfgrpo_agents.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_learn_and_eval_a_users_own_agent_with_json_output(tmp_path):
    tasks = shop_tasks(tmp_path)
    with OpenAIStub(reply_fn=shop_reply) as stub:
        env = {**os.environ, "OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "test", "COLUMNS": "120"}
        learned = tfgrpo("learn", "--agent", "your_own_agent:make_agent", "--grader", "your_own_agent:reward",
                         "--tasks", str(tasks), "--model", "m", "--base-url", stub.base_url, "--group-size", "3",
                         "--epochs", "1", "--batch-size", "2", "--out", str(tmp_path / "run"), "--json", env=env)
        assert learned.returncode == 0, learned.stderr[-3000:]
        result = json.loads(learned.stdout)
        assert result["experiences"] and result["step"] == 2
        evaluated = tfgrpo("eval", "--agent", "your_own_agent:make_agent", "--grader", "your_own_agent:reward",
                           "--tasks", str(tasks), "--model", "m", "--base-url", stub.base_url, "--k", "2",
                           "--experiences", result["library_path"], "--out", str(tmp_path / "eval"), "--json", env=env)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    report = json.loads(evaluated.stdout)
    assert report["arms"][0]["summary"]["mean_at_k"] is not None


def test_a_bad_agent_spec_is_a_usage_error(tmp_path):
    tasks = tmp_path / "t.jsonl"
    tasks.write_text(json.dumps({"question": "q?", "answer": "a"}) + "\n")
    for spec, words in (("nosuchmodule:make", "cannot import"), ("json:nothing_here", "has no"),
                        ("bogus", "unknown agent"), ("json:__doc__", "not a function")):
        result = runner.invoke(app, ["learn", "--agent", spec, "--tasks", str(tasks), "--model", "m",
                                     "--out", str(tmp_path / "r")])
        assert result.exit_code == 2 and words in result.output, (spec, result.output)


def test_version_and_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("tfgrpo 0.")
    assert "package.module:factory" in runner.invoke(app, ["learn", "--help"]).output


def test_library_import_of_an_unknown_domain_fails(tmp_path):
    from langgraph.store.sqlite import SqliteStore

    from tfgrpo_agents.experience import ExperienceLibrary, save_to_store

    store_path = tmp_path / "store.sqlite"
    library = ExperienceLibrary.from_texts(["Open the Call for Papers page for dates."])
    library.meta.domain = "web"
    with SqliteStore.from_conn_string(str(store_path)) as store:
        store.setup()
        save_to_store(library, store)
    result = runner.invoke(app, ["library", "import", str(tmp_path / "out.json"), "--sqlite", str(store_path),
                                 "--domain", "wbe"])
    assert result.exit_code == 2 and "holds no library under tfgrpo/wbe; it has: tfgrpo/web" in result.output
    assert not (tmp_path / "out.json").exists()


def _trace(reward: float, answer: str) -> dict:
    """One production trace of '2 + 5' as a tracing tool exports it: chat messages with a tool call."""
    call = {"id": "c1", "type": "function", "function": {"name": "python_exec", "arguments": '{"code": "print(2 + 5)"}'}}
    return {"task_id": "sum-1", "question": "[mixed] What is 2 + 5?", "answer": "7", "reward": reward,
            "messages": [{"role": "user", "content": "[mixed] What is 2 + 5?"},
                         {"role": "assistant", "content": "", "tool_calls": [call]},
                         {"role": "tool", "tool_call_id": "c1", "content": "7"},
                         {"role": "assistant", "content": f"Final answer: {answer}"}]}


RECORDED = [_trace(1.0, "7"), _trace(0.0, "8"),
            {"task_id": "sum-2", "question": "[right] What is 1 + 4?", "answer": "5", "reward": 1.0,
             "messages": [{"role": "user", "content": "[right] What is 1 + 4?"},
                          {"role": "assistant", "content": "Final answer: 5"}]}]


def test_learning_from_recorded_trajectories_runs_no_agent(tmp_path):
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(RECORDED))
    recorded = load_recorded(path)
    assert [t.final_answer for t in recorded] == ["7", "8", "5"] and recorded[0].tool_calls[0].output == "7"
    teacher = WorldChatModel(teacher_prompts=[])
    learner = TrainingFreeGRPO(teacher=teacher, run_dir=tmp_path / "run", settings=LearnSettings(batch_size=4))
    library = learner.learn_from_trajectories(recorded).library
    assert library.step == 1 and any(TRUST in text for text in library.texts())
    groups = json.loads((tmp_path / "run" / "steps" / "step-0001" / "groups.json").read_text())
    assert {g["task_id"]: g["reason"] for g in groups} == {"sum-1": "kept: rewards differ", "sum-2": "kept"}
    assert any("final answer: 8" in p.lower() for p in teacher.teacher_prompts), "the wrong trace reached the teacher"
    again = TrainingFreeGRPO(teacher=WorldChatModel(), run_dir=tmp_path / "run",
                             settings=LearnSettings(batch_size=4)).learn_from_trajectories(recorded).library
    assert again.texts() == library.texts(), "resumes from the run directory"


def test_learn_from_trajectories_on_the_command_line(tmp_path):
    path = tmp_path / "traces.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDED))
    from tests.scripted_world import openai_reply

    with OpenAIStub(reply_fn=openai_reply) as stub:
        env = {**os.environ, "OPENAI_API_KEY": "test"}
        done = tfgrpo("learn", "--from-trajectories", str(path), "--agent", "qa", "--model", "m", "--base-url",
                      stub.base_url, "--out", str(tmp_path / "run"), "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["experiences"]
