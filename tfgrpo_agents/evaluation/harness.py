"""Run configurations of an agent on the same tasks, k samples each, and keep every trajectory."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from tfgrpo_agents.agents import LessonDelivery, Placement
from tfgrpo_agents.core.contract import AgentContract
from tfgrpo_agents.core.grading import grade_trajectories
from tfgrpo_agents.core.rewards import Grader, as_grader
from tfgrpo_agents.core.rollout import (
    RolloutSettings,
    RolloutsFailedError,
    check_not_all_failed,
    rollout_seed,
    run_rollout,
    worth_caching,
)
from tfgrpo_agents.core.rundir import RunDir, rollout_key
from tfgrpo_agents.core.runner import (
    RolloutBatch,
    RolloutJob,
    RolloutRunner,
    missing_jobs,
)
from tfgrpo_agents.core.tasks import Task
from tfgrpo_agents.core.trajectory import (
    Trajectory,
    read_trajectories,
    write_trajectories,
)
from tfgrpo_agents.evaluation.metrics import EvalSummary, summarize
from tfgrpo_agents.experience import ExperienceLibrary, load_library

logger = logging.getLogger(__name__)

AgentBuilder = Callable[..., Any]  # (library, placement) -> agent; also given a LessonDelivery when an arm sets one


class EvalConfig(BaseModel):
    """One arm: which library (none for the baseline), which snapshot of it, where it is injected, and
    which of its lessons a task sees and where they are said again (``delivery``)."""

    name: str
    library: str | None = None
    step: int | None = None
    placement: Placement = Placement.SYSTEM
    delivery: LessonDelivery = LessonDelivery()

    def load(self) -> ExperienceLibrary:
        if self.library is None:
            return ExperienceLibrary()
        library = load_library(self.library)
        return library.at_step(self.step) if self.step is not None else library


class EvalSettings(BaseModel):
    k: int = Field(default=4, ge=1)
    temperature: float = 0.3
    seed: int = 0
    concurrency: int = Field(default=4, ge=1)
    max_steps: int = 8
    timeout_s: float = 300.0
    retries: int = 1
    model_id: str | None = None
    # the agent set-up (prompt, tools, limits): recorded rollouts of another set-up are not reused
    agent_digest: str | None = None


class EvalRun(BaseModel):
    config: EvalConfig
    summary: EvalSummary
    trajectories_path: str


async def evaluate(builder: AgentBuilder, config: EvalConfig, tasks: Sequence[Task], grader: Grader | None,
                   settings: EvalSettings, out_dir: str | Path,
                   on_rollout: Callable[[], None] | None = None,
                   contract: AgentContract | None = None,
                   runner: RolloutRunner | None = None) -> tuple[EvalRun, list[Trajectory]]:
    """Evaluate one configuration; rollouts are cached under ``out_dir/<name>/`` (a rerun resumes).

    ``contract`` adapts an agent with another state shape (see :mod:`tfgrpo_agents.core.contract`);
    ``runner`` runs the rollouts that are not cached elsewhere first (see :mod:`tfgrpo_agents.core.runner`).
    """
    contract = contract or AgentContract()
    run_dir = RunDir(Path(out_dir) / config.name)
    library = config.load()
    # a builder of two arguments (library, placement) still works for arms that deliver lessons plainly
    plain = config.delivery == LessonDelivery()
    agent = builder(library, config.placement) if plain else builder(library, config.placement, config.delivery)
    if not plain and settings.agent_digest:
        settings = settings.model_copy(update={"agent_digest": hashlib.sha256(
            f"{settings.agent_digest}:{config.delivery.fingerprint}".encode()).hexdigest()[:16]})
    rollout = RolloutSettings(temperature=settings.temperature, max_steps=settings.max_steps,
                              timeout_s=settings.timeout_s, retries=settings.retries, model_id=settings.model_id)
    gate = asyncio.Semaphore(settings.concurrency)
    digest = library.digest()
    recorded = _recorded_rollouts(run_dir, tasks, settings.temperature, library.step, digest, settings.agent_digest)
    counted: set[str] = set()
    if runner is not None:
        jobs = [RolloutJob(task=t, sample=s, seed=rollout_seed(settings.seed, 0, t.id, s), key=rollout_key(t.id, s))
                for t in tasks for s in range(settings.k) if rollout_key(t.id, s) not in recorded]
        todo = missing_jobs(jobs, run_dir.root, lambda record: _same_setup(record, library.step, digest,
                                                                           settings.agent_digest))
        if todo:
            def finished(key: str, failed: bool) -> None:
                counted.add(key)
                if on_rollout:
                    on_rollout()

            await runner.fill(RolloutBatch(jobs=todo, library=library, placement=config.placement,
                                           delivery=config.delivery, settings=rollout,
                                           run_dir=str(run_dir.root), concurrency=settings.concurrency,
                                           agent_digest=settings.agent_digest), finished)

    async def one(task: Task, sample: int) -> Trajectory:
        key = rollout_key(task.id, sample)
        cached = run_dir.cached("rollout", key)
        if cached is not None and not _same_setup(cached, library.step, digest, settings.agent_digest):
            cached = None  # this arm's name was reused for another library or agent: run it again
        cached = cached or recorded.get(key)
        if cached is None:
            async with gate:
                # The same seed for a task and sample in every arm: arms differ only in what they inject.
                trajectory = await run_rollout(agent, task, sample, seed=rollout_seed(settings.seed, 0, task.id, sample),
                                               settings=rollout, library_step=library.step,
                                               library_digest=digest, contract=contract)
            trajectory = trajectory.model_copy(update={"agent_digest": settings.agent_digest})
            cached = trajectory.model_dump(mode="json")
            if worth_caching(trajectory):
                # fsync off the event loop: at 64 rollouts in flight a blocking write stalls all of them
                cached = await asyncio.to_thread(run_dir.cache, "rollout", key, cached)
        if on_rollout and key not in counted:
            on_rollout()
        return Trajectory.model_validate(cached)

    trajectories = await asyncio.gather(*(one(t, s) for t in tasks for s in range(settings.k)))
    try:
        check_not_all_failed(list(trajectories), f"arm {config.name!r}")
    except RolloutsFailedError:
        run_dir.forget("rollout", [rollout_key(t.id, s) for t in tasks for s in range(settings.k)])  # rerun after a fix
        raise
    graded = grade_all(list(trajectories), {t.id: t for t in tasks}, grader, run_dir, settings.concurrency)
    path = write_trajectories(run_dir.root / "trajectories.jsonl", graded)
    summary = summarize(config.name, graded, settings.k, seed=settings.seed)
    run_dir.write_json(run_dir.root / "summary.json", summary.model_dump(mode="json"))
    return EvalRun(config=config, summary=summary, trajectories_path=str(path)), graded


def _same_setup(record: dict[str, Any], library_step: int, digest: str, agent_digest: str | None) -> bool:
    """A rollout was made with this agent set-up (when the caller names one: a record without it is
    of an unknown set-up) and this library: same content, or, for records older than the digest,
    the same step."""
    if agent_digest is not None and record.get("agent_digest") != agent_digest:
        return False
    if record.get("library_digest"):
        return record["library_digest"] == digest
    return (record.get("library_step") or 0) == library_step


def _recorded_rollouts(run_dir: RunDir, tasks: Sequence[Task], temperature: float,
                       library_step: int, digest: str, agent_digest: str | None) -> dict[str, dict[str, Any]]:
    """Rollouts of an earlier run of this arm, read from its ``trajectories.jsonl``.

    The per-rollout cache is scratch space (not committed with results); the trajectories file is
    the record. An arm whose file is at hand is not rerun, as long as each recorded rollout is of the
    same question, at the same temperature, with the same library (its digest; its step for records
    made before rollouts carried one).
    """
    path = run_dir.root / "trajectories.jsonl"
    if not path.exists():
        return {}
    try:
        records = read_trajectories(path)
    except ValueError as exc:
        logger.warning("ignoring %s: %s", path, exc)
        return {}
    questions = {t.id: t.question for t in tasks}
    dumped = (r.model_dump(mode="json") for r in records)
    usable = {rollout_key(r['task_id'], r['sample']): r for r in dumped
              if questions.get(r["task_id"]) == r["question"] and r["temperature"] == temperature
              and _same_setup(r, library_step, digest, agent_digest)}
    if usable:
        logger.info("%s: %d rollouts taken from %s", run_dir.root.name, len(usable), path)
    return usable


def grade_all(trajectories: list[Trajectory], tasks: dict[str, Task], grader: Grader | None, run_dir: RunDir,
              concurrency: int) -> list[Trajectory]:
    """Rewards for every trajectory (cached, so an LLM judge is not asked twice)."""
    grader = as_grader(grader)
    if grader is None:
        return trajectories
    return grade_trajectories(trajectories, tasks, grader, run_dir, concurrency=concurrency)[0]
