"""Run configurations of an agent on the same tasks, k samples each, and keep every trajectory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from tfgrpo_agents.agents import Placement
from tfgrpo_agents.evaluation.metrics import EvalSummary, summarize
from tfgrpo_agents.experience import ExperienceLibrary, load_library
from tfgrpo_agents.learning.grading import grade_trajectories
from tfgrpo_agents.learning.rewards import Grader
from tfgrpo_agents.learning.rollout import RolloutSettings, rollout_seed, run_rollout
from tfgrpo_agents.learning.rundir import RunDir
from tfgrpo_agents.learning.tasks import Task
from tfgrpo_agents.learning.trajectory import Trajectory, write_trajectories

logger = logging.getLogger(__name__)

AgentBuilder = Callable[[ExperienceLibrary, Placement], Any]


class EvalConfig(BaseModel):
    """One arm: which library (none for the baseline), which snapshot of it, where it is injected."""

    name: str
    library: str | None = None
    step: int | None = None
    placement: Placement = Placement.SYSTEM

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


class EvalRun(BaseModel):
    config: EvalConfig
    summary: EvalSummary
    trajectories_path: str


async def evaluate(builder: AgentBuilder, config: EvalConfig, tasks: Sequence[Task], grader: Grader | None,
                   settings: EvalSettings, out_dir: str | Path,
                   on_rollout: Callable[[], None] | None = None) -> tuple[EvalRun, list[Trajectory]]:
    """Evaluate one configuration; rollouts are cached under ``out_dir/<name>/`` (a rerun resumes)."""
    run_dir = RunDir(Path(out_dir) / config.name)
    library = config.load()
    agent = builder(library, config.placement)
    rollout = RolloutSettings(temperature=settings.temperature, max_steps=settings.max_steps,
                              timeout_s=settings.timeout_s, retries=settings.retries, model_id=settings.model_id)
    gate = asyncio.Semaphore(settings.concurrency)

    async def one(task: Task, sample: int) -> Trajectory:
        key = f"{task.id}-{sample}"
        cached = run_dir.cached("rollout", key)
        if cached is None:
            async with gate:
                # The same seed for a task and sample in every arm: arms differ only in what they inject.
                trajectory = await run_rollout(agent, task, sample, seed=rollout_seed(settings.seed, 0, task.id, sample),
                                               settings=rollout, library_step=library.step)
            # fsync off the event loop: at 64 rollouts in flight a blocking write stalls all of them
            cached = await asyncio.to_thread(run_dir.cache, "rollout", key, trajectory.model_dump(mode="json"))
        if on_rollout:
            on_rollout()
        return Trajectory.model_validate(cached)

    trajectories = await asyncio.gather(*(one(t, s) for t in tasks for s in range(settings.k)))
    graded = grade_all(list(trajectories), {t.id: t for t in tasks}, grader, run_dir, settings.concurrency)
    path = write_trajectories(run_dir.root / "trajectories.jsonl", graded)
    summary = summarize(config.name, graded, settings.k, seed=settings.seed)
    run_dir.write_json(run_dir.root / "summary.json", summary.model_dump(mode="json"))
    return EvalRun(config=config, summary=summary, trajectories_path=str(path)), graded


def grade_all(trajectories: list[Trajectory], tasks: dict[str, Task], grader: Grader | None, run_dir: RunDir,
              concurrency: int) -> list[Trajectory]:
    """Rewards for every trajectory (cached, so an LLM judge is not asked twice)."""
    if grader is None:
        return trajectories
    return grade_trajectories(trajectories, tasks, grader, run_dir, concurrency=concurrency)[0]
