"""Rewards for a batch of trajectories, shared by learning steps and evaluations.

In parallel (an LLM judge is slow), cached per rollout (a resumed run never asks twice), and
metered: a grader takes no config, so the tokens a judge spends are caught by a collector bound
through a context variable (LangChain's configure hook, as ``get_usage_metadata_callback`` does;
that one drops replies that carry no model name, which some endpoints and fakes do).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar

from langchain_core.tracers.context import register_configure_hook

from tfgrpo_agents.core.rewards import Grade, Grader, grade_rollout
from tfgrpo_agents.core.rundir import RunDir, rollout_key
from tfgrpo_agents.core.tasks import Task
from tfgrpo_agents.core.trajectory import (
    TokenUsage,
    Trajectory,
    TrajectoryCollector,
)

_meter: ContextVar[TrajectoryCollector | None] = ContextVar("tfgrpo_grading_meter", default=None)
register_configure_hook(_meter, inheritable=True)


def _rollout_key(trajectory: Trajectory) -> str:
    return rollout_key(trajectory.task_id, trajectory.sample)


def grade_trajectories(trajectories: Sequence[Trajectory], tasks: Mapping[str, Task], grader: Grader,
                       run_dir: RunDir, *, concurrency: int = 4,
                       key: Callable[[Trajectory], str] = _rollout_key) -> tuple[list[Trajectory], TokenUsage]:
    """Each trajectory with its reward and the grader's reasoning, and the tokens grading spent.

    A failed rollout scores 0 without asking the grader; a grader that raises scores 0 and says why.
    A grader marked ``instant`` (a string comparison) is asked again each time, in this thread:
    a cache file and a worker thread would cost more than the grade.
    """
    instant = bool(getattr(grader, "instant", False))

    def ask(trajectory: Trajectory) -> Grade:
        try:
            return grade_rollout(grader, tasks[trajectory.task_id], trajectory)
        except Exception as exc:
            return Grade(reward=0.0, reasoning=f"grader failed: {type(exc).__name__}: {exc}")

    def one(trajectory: Trajectory) -> tuple[Trajectory, TokenUsage]:
        if trajectory.failed:
            return trajectory.model_copy(update={"reward": 0.0,
                                                 "grader_reasoning": f"rollout failed ({trajectory.failure})"}), TokenUsage()
        if instant:
            cached = ask(trajectory).model_dump()
        elif (cached := run_dir.cached("grade", key(trajectory))) is None:
            meter = TrajectoryCollector()
            token = _meter.set(meter)  # set in this worker thread, seen by every model call below
            try:
                grade = ask(trajectory)
            finally:
                _meter.reset(token)
            usage = TokenUsage.sum(meter.llm_calls)
            cached = run_dir.cache("grade", key(trajectory), {**grade.model_dump(), "usage": usage.model_dump()})
        graded = trajectory.model_copy(update={"reward": cached["reward"], "grader_reasoning": cached["reasoning"]})
        return graded, TokenUsage.model_validate(cached.get("usage") or {})

    if instant:
        results = [one(trajectory) for trajectory in trajectories]
    else:
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            results = list(pool.map(one, trajectories))
    return [graded for graded, _ in results], TokenUsage.sum(usage for _, usage in results)
