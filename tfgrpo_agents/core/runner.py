"""Rollouts run elsewhere: the contract between the learner or the harness and a rollout runner.

Learning and evaluation run their rollouts in this process by default. A runner (for example the
multi-process one in :mod:`tfgrpo_agents.sharding`) is handed the rollouts that are not cached yet
and fills the run directory's rollout cache with them; the caller then proceeds as if it had run
them itself, so resume, grading, the ledger and the run directory are the same either way. A
rollout a runner could not finish (a transient failure is never cached) is simply run here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from tfgrpo_agents.agents import LessonDelivery, Placement
from tfgrpo_agents.core.rollout import RolloutSettings
from tfgrpo_agents.core.rundir import RunDir
from tfgrpo_agents.core.tasks import Task
from tfgrpo_agents.experience import ExperienceLibrary


class RolloutJob(BaseModel):
    """One rollout to run: the task, its sample number and seed, and its cache key."""

    task: Task
    sample: int
    seed: int
    key: str


class RolloutBatch(BaseModel):
    """Rollouts that share an agent: one library, one placement, one set of settings, one run directory."""

    jobs: list[RolloutJob]
    library: ExperienceLibrary
    placement: Placement = Placement.SYSTEM
    delivery: LessonDelivery = LessonDelivery()
    settings: RolloutSettings
    run_dir: str
    concurrency: int = 4
    agent_digest: str | None = None  # stamped on each trajectory (see EvalSettings.agent_digest)


class RolloutRunner(Protocol):
    async def fill(self, batch: RolloutBatch, on_rollout: Callable[[str, bool], None] | None = None) -> None:
        """Run ``batch`` and cache each finished rollout under ``run_dir/cache/rollout/<key>.json``;
        ``on_rollout(key, failed)`` is called for each one."""
        ...


def missing_jobs(jobs: Sequence[RolloutJob], run_dir: str | Path, usable: Callable[[dict], bool]) -> list[RolloutJob]:
    """The jobs without a usable cached rollout."""
    directory = RunDir(run_dir)
    return [job for job in jobs if (record := directory.cached("rollout", job.key)) is None or not usable(record)]
