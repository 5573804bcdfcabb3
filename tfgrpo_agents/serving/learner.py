"""A learner graph for LangGraph Server (``langgraph.json``): learn, and publish each step into the
server's own store, where the served agents read it through ``StoreSource``.

The learning itself runs in a child process (``tfgrpo learn``, the one orchestration path): it does
file and SQLite I/O on its event loop, which a server's loop must never do (``langgraph dev``
raises ``BlockingError``), and a worker thread with a loop of its own would still be such a loop.
This graph only starts the child, watches the run directory from a worker thread, and publishes
each finished step with the server store's async API, on the server's loop.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_store, get_stream_writer
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, Field

from tfgrpo_agents.core.rundir import RunDir
from tfgrpo_agents.core.tasks import Task
from tfgrpo_agents.errors import TfgrpoError
from tfgrpo_agents.experience import ExperienceLibrary, StoreLibrary, load_library
from tfgrpo_agents.learning.publish import StepPublisher, writer_id


class LearnerError(TfgrpoError, RuntimeError):
    """The learning process failed; the message is its last error line, the log is in the run directory.

    A RuntimeError, so LangGraph Server shows clients the message (it masks unknown exception types)."""


class LearnRequest(BaseModel):
    """What a client sends to the learner graph: the tasks and the ``tfgrpo learn`` options."""

    tasks: list[Task]
    agent: str = Field(description="package.module:factory of the agent to learn for (or math, web, qa)")
    model: str
    base_url: str | None = None
    grader: str | None = None
    group_size: int = 5
    epochs: int = 3
    batch_size: int = 8
    concurrency: int = 4
    namespace: list[str] | None = Field(default=None, description="store namespace (default tfgrpo/<agent>)")
    run_name: str | None = Field(default=None, description="run directory name (default: the thread id); "
                                                            "a run that exists is resumed")
    extra_args: list[str] = Field(default_factory=list, description="more tfgrpo learn options")


class LearnOutcome(BaseModel):
    run_dir: str
    published: list[int]
    library_step: int
    experiences: list[str]
    revision: int


class LearnerState(BaseModel):
    request: LearnRequest
    outcome: LearnOutcome | None = None


def _command(request: LearnRequest, run_dir: Path, resume: bool) -> list[str]:
    command = [sys.executable, "-m", "tfgrpo_agents.cli", "learn"]
    if resume:
        return [*command, "--resume", str(run_dir), *(["--base-url", request.base_url] if request.base_url else [])]
    command += ["--tasks", str(run_dir / "request-tasks.jsonl"), "--agent", request.agent, "--model", request.model,
                "--group-size", str(request.group_size), "--epochs", str(request.epochs),
                "--batch-size", str(request.batch_size), "--concurrency", str(request.concurrency),
                "--out", str(run_dir)]
    if request.base_url:
        command += ["--base-url", request.base_url]
    if request.grader:
        command += ["--grader", request.grader]
    return [*command, *request.extra_args]


def _start(request: LearnRequest, run_dir: Path, python_path: list[str], cwd: str | None) -> subprocess.Popen:
    """Write the tasks and start ``tfgrpo learn`` (blocking: called in a worker thread)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    resume = RunDir(run_dir).config_path.exists()
    if not resume:
        (run_dir / "request-tasks.jsonl").write_text("".join(t.model_dump_json() + "\n" for t in request.tasks),
                                                     encoding="utf-8")
    env = dict(os.environ)
    if python_path:
        env["PYTHONPATH"] = os.pathsep.join([*python_path, *filter(None, [env.get("PYTHONPATH")])])
    with open(run_dir / "learner.log", "ab") as log:
        return subprocess.Popen(_command(request, run_dir, resume), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=cwd)


def _last_error(run_dir: Path) -> str:
    lines = [line for line in (run_dir / "learner.log").read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def build_learner_graph(*, namespace: tuple[str, ...] | None = None, runs_root: str | os.PathLike[str] = "runs/served",
                        python_path: list[str] | None = None, cwd: str | None = None, poll_s: float = 0.5) -> Any:
    """The learner graph: input ``{"request": LearnRequest}``, output ``{"outcome": LearnOutcome}``.

    ``namespace`` is where steps are published unless a request names one (default
    ``("tfgrpo", <agent>)``); ``python_path`` is prepended to the child's ``PYTHONPATH`` (where the
    agent factory's module is). Each published step is also sent on the ``custom`` stream.
    """
    root = Path(runs_root).resolve()  # here, not in the node: resolving a relative path blocks on os.getcwd
    paths = [str(Path(p).resolve()) for p in python_path or []]

    async def learn(state: LearnerState, config: RunnableConfig) -> dict[str, Any]:
        request = state.request
        name = request.run_name or str((config.get("configurable") or {}).get("thread_id") or "learner")
        run_dir = root / name
        target = StoreLibrary(get_store(), request.namespace or namespace, domain=request.agent,
                              model_id=request.model)
        publisher = StepPublisher(target, writer_id(run_dir))
        emit = get_stream_writer()
        process = await asyncio.to_thread(_start, request, run_dir, paths, cwd)
        published: list[int] = []
        try:
            while True:
                code = await asyncio.to_thread(_wait, process, poll_s)
                fresh, library = await asyncio.to_thread(_finished_since, run_dir, published)
                if fresh:
                    for step in fresh:
                        event = await publisher.publish(library, step)
                        published.append(step)
                        emit(event.model_dump(mode="json"))
                if code is not None:
                    break
        finally:
            if process.poll() is None:  # the run was cancelled: stop learning too
                process.terminate()
        if code != 0:
            raise LearnerError(f"tfgrpo learn exited with {code}: {await asyncio.to_thread(_last_error, run_dir)} "
                               f"(log: {run_dir / 'learner.log'})")
        stored = await target.aread()
        library = stored.library if stored else None
        return {"outcome": LearnOutcome(run_dir=str(run_dir), published=published,
                                        library_step=library.step if library else 0,
                                        experiences=library.texts() if library else [],
                                        revision=stored.revision if stored else 0)}

    graph = StateGraph(LearnerState)
    graph.add_node("learn", learn)
    graph.add_edge(START, "learn")
    graph.add_edge("learn", END)
    return graph.compile(name="tfgrpo-learner")


def _finished_since(run_dir: Path, published: list[int]) -> tuple[list[int], ExperienceLibrary | None]:
    """Steps finished and not yet published, with the run's library (file I/O: in a worker thread)."""
    directory = RunDir(run_dir)
    fresh = [step for step in directory.completed_steps() if step not in published]
    return fresh, load_library(directory.library_path) if fresh else None


def _wait(process: subprocess.Popen, seconds: float) -> int | None:
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None
