"""`tfgrpo learn` killed with SIGKILL at several points resumes to the same library, and a run
through langchain-openai survives 429s, 500s, timeouts and malformed JSON without losing anything."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI

from tests.scripted_world import make_tasks, openai_reply
from tfgrpo_agents.agents import build_react_agent
from tfgrpo_agents.experience import load_library
from tfgrpo_agents.learning import (
    LearnSettings,
    MathGrader,
    Task,
    TrainingFreeGRPO,
    read_trajectories,
    schedule,
)
from tfgrpo_agents.testing import OpenAIStub
from tfgrpo_agents.tools import python_exec_tool

KINDS = ["right", "wrong", "mixed", "mixed", "mixed", "right"]
ARGS = ["--agent", "math", "--model", "gpt-4o-mini", "--group-size", "3", "--epochs", "2", "--batch-size", "3",
        "--seed", "7", "--concurrency", "2"]


@pytest.fixture
def task_file(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in make_tasks(KINDS)))
    return path


def learn(*extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tfgrpo_agents.cli", "learn", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "120"})


def run_to_end(*extra: str) -> None:
    process = learn(*extra)
    _, err = process.communicate(timeout=180)
    assert process.returncode == 0, err.decode()[-3000:]


def kill_when(process: subprocess.Popen, condition, timeout: float = 90) -> bool:
    """SIGKILL the process as soon as ``condition()`` holds; False if it finished first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.02)
    process.kill()
    raise AssertionError("condition never held")


def count(run: Path, pattern: str) -> int:
    return len(list(run.glob(pattern)))


def library_state(path: Path):
    library = load_library(path)
    return [(s.step, [(e.id, e.text, e.helpful) for e in s.experiences]) for s in library.history]


def test_kill_9_at_several_points_then_resume_gives_the_same_library(tmp_path, task_file):
    with OpenAIStub(reply_fn=openai_reply, delay_s=0.03) as stub:
        reference = tmp_path / "reference"
        run_to_end("--tasks", str(task_file), "--base-url", stub.base_url, "--out", str(reference), *ARGS)
        reference_requests = len(stub.requests)
        stub.requests.clear()

        run = tmp_path / "killed"
        kills = 0
        first = learn("--tasks", str(task_file), "--base-url", stub.base_url, "--out", str(run), *ARGS)
        kills += kill_when(first, lambda: count(run, "cache/rollout/*.json") >= 4)
        points = [
            lambda: count(run, "cache/summarize/*.json") >= 2,               # mid-reflection, step 1
            lambda: count(run, "steps/*/report.json") >= 1 and count(run, "cache/rollout/step2-*.json") >= 2,
            lambda: count(run, "cache/consolidate/*.json") >= 2,             # between consolidation and snapshot
        ]
        for point in points:
            kills += kill_when(learn("--resume", str(run)), point)
        run_to_end("--resume", str(run))
        resumed_requests = len(stub.requests)

    assert kills >= 3, "the run was really interrupted"
    for step_dir in sorted((run / "steps").iterdir()):
        assert len((step_dir / "trajectories.jsonl").read_text().splitlines()) == 9, f"{step_dir.name}: no duplicates"
    assert library_state(run / "library.json") == library_state(reference / "library.json")
    assert json.loads((run / "ledger.json").read_text())["summary"]["tokens_by_stage"] == \
        json.loads((reference / "ledger.json").read_text())["summary"]["tokens_by_stage"]
    # Finished work is not redone: only calls in flight at each kill can be repeated.
    assert resumed_requests <= reference_requests + kills * 2 * 2


def test_resume_of_an_unknown_directory_is_a_clear_error(tmp_path):
    process = learn("--resume", str(tmp_path / "nothing"))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2


def faults(number: int, body: dict) -> str | None:
    teacher = any("[stage:" in (m.get("content") or "") for m in body["messages"])
    if number % 7 == 3:
        return "429"
    if number % 11 == 5:
        return "500"
    if number % 13 == 6:
        return "timeout"
    if teacher and number % 3 == 1:
        return "malformed"
    return None


def test_faults_at_a_steady_rate_lose_nothing(tmp_path):
    tasks = [Task.model_validate(t) for t in make_tasks(KINDS)]
    with OpenAIStub(reply_fn=openai_reply, fault_fn=faults, hang_s=3) as stub:
        model = ChatOpenAI(model="gpt-4o-mini", base_url=stub.base_url, api_key="test", timeout=1.0, max_retries=4)
        tool = python_exec_tool()
        settings = LearnSettings(group_size=3, epochs=2, batch_size=3, seed=7, max_steps=4, concurrency=3,
                                 rollout_timeout_s=30, rollout_retries=1, model_id="gpt-4o-mini")
        learner = TrainingFreeGRPO(
            agent_factory=lambda library: build_react_agent(model, [tool], system_prompt="Add.", experiences=library,
                                                            max_steps=4),
            teacher=model, run_dir=tmp_path / "run", settings=settings, grader=MathGrader())
        library = learner.fit(tasks).library
        injected = list(stub.faults)
    assert {"429", "500", "timeout", "malformed"} <= set(injected)
    for step, _, batch in schedule(tasks, settings):
        trajectories = read_trajectories(learner.run_dir.step_dir(step) / "trajectories.jsonl")
        assert len(trajectories) == 3 * len(batch), "every rollout is accounted for"
        for t in trajectories:
            assert t.failed == (t.failure in ("timeout", "api_error", "error"))
            assert t.failed or t.final_answer
        report = json.loads((learner.run_dir.step_dir(step) / "report.json").read_text())
        assert report["rollouts"] == 3 * len(batch)
    assert library.steps == [0, 1, 2, 3, 4]
    assert library.texts(), "lessons were still learned through the faults"
    assert load_library(tmp_path / "run" / "library.json").texts() == library.texts()
