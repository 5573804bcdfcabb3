"""What a learning step and a learning run produce, as models (``report.json`` is a StepReport)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tfgrpo_agents.experience import ExperienceLibrary


class StageFailure(BaseModel):
    stage: str
    task_id: str
    error: str


class StepReport(BaseModel):
    """One learning step: its rollouts, the groups with signal, and what the library update did."""

    step: int
    tasks: int
    rollouts: int
    failed_rollouts: int = 0
    groups_with_signal: int = 0
    resampled: int = 0  # rollouts added to flat groups (LearnSettings.resample_flat)
    mean_reward: float | None = None
    mean_tool_calls: float | None = None
    stage_failures: list[StageFailure] = Field(default_factory=list)
    applied: list[dict[str, Any]] | str = Field(default_factory=list)  # "applied before resume" on a resumed step
    rejected: list[dict[str, Any]] = Field(default_factory=list)
    evicted: list[str] = Field(default_factory=list)
    library_size: int = 0
    validation: dict[str, Any] | None = None  # a validated update's verdict: kept or rolled back, and why


class LearnResult(BaseModel):
    """A finished (or resumed to the end) learning run."""

    library: ExperienceLibrary
    run_dir: str
    reports: list[StepReport] = Field(default_factory=list)
    summary: dict[str, Any] = Field(default_factory=dict)  # the ledger's: tokens by stage, ratio, dollars, time
