"""Accuracy and behaviour metrics over k samples per task, with bootstrap confidence intervals."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from math import comb

try:
    import numpy as np
except ImportError as error:  # pragma: no cover - exercised by the lean-install test
    from tfgrpo_agents._extras import missing_extra

    raise missing_extra("eval", error) from error
from pydantic import BaseModel, Field

from tfgrpo_agents.core.trajectory import Trajectory
from tfgrpo_agents.learning.evidence import repeated_calls


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased Pass@k from ``n`` samples with ``c`` correct: 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"Pass@{k} needs at least {k} samples per task, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def per_task_rewards(trajectories: Sequence[Trajectory]) -> dict[str, list[float]]:
    rewards: dict[str, list[float]] = {}
    for t in trajectories:
        rewards.setdefault(t.task_id, []).append(0.0 if t.failed or t.reward is None else float(t.reward))
    return rewards


def task_means(trajectories: Sequence[Trajectory]) -> dict[str, float]:
    """Each task's mean reward over its samples: what paired comparisons resample."""
    return {task: float(np.mean(values)) for task, values in per_task_rewards(trajectories).items()}


def mean_at_k(rewards: dict[str, list[float]]) -> float:
    """Average over tasks of the average reward over the task's k samples."""
    if not rewards:
        return 0.0
    return float(np.mean([np.mean(values) for values in rewards.values()]))


def bootstrap_ci(values: Sequence[float], *, iterations: int = 5000, seed: int = 0,
                 confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean, resampling tasks."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(iterations, data.size))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


class PairedDifference(BaseModel):
    """``b - a`` on the same tasks, with a paired bootstrap CI (tasks resampled together)."""

    a: str
    b: str
    tasks: int
    difference: float
    ci_low: float
    ci_high: float
    probability_not_better: float = Field(description="share of resamples where b - a <= 0")

    @property
    def significant(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0

    def verdict(self) -> str:
        if self.significant:
            return "a real difference (the 95% CI excludes 0)"
        return "inside the noise (the 95% CI includes 0)"


def paired_bootstrap(a: dict[str, float], b: dict[str, float], *, names: tuple[str, str] = ("a", "b"),
                     iterations: int = 5000, seed: int = 0, confidence: float = 0.95) -> PairedDifference:
    """Per-task scores of two configurations on the same tasks (only shared task ids count)."""
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ValueError("the two configurations share no tasks")
    diffs = np.asarray([b[t] - a[t] for t in shared], dtype=float)
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, diffs.size, size=(iterations, diffs.size))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    return PairedDifference(a=names[0], b=names[1], tasks=len(shared), difference=float(diffs.mean()),
                            ci_low=float(np.percentile(means, tail)), ci_high=float(np.percentile(means, 100 - tail)),
                            probability_not_better=float((means <= 0).mean()))


class EvalSummary(BaseModel):
    """Everything the before/after table reports for one configuration."""

    name: str
    tasks: int
    k: int
    mean_at_k: float
    ci_low: float
    ci_high: float
    pass_at_k: dict[int, float]
    avg_tool_calls: float
    tool_calls_by_tool: dict[str, float]
    avg_repeated_calls: float
    avg_model_calls: float
    forced_answer_rate: float
    avg_answer_chars: float
    avg_input_tokens: float
    avg_output_tokens: float
    avg_wall_time_s: float
    failures: dict[str, int]


def summarize(name: str, trajectories: Sequence[Trajectory], k: int, *, seed: int = 0) -> EvalSummary:
    """Metrics per rollout are averaged over all rollouts; accuracy is Mean@k over tasks."""
    rewards = per_task_rewards(trajectories)
    per_task = [float(np.mean(v)) for v in rewards.values()]
    low, high = bootstrap_ci(per_task, seed=seed)
    n = max(1, len(trajectories))
    by_tool: Counter[str] = Counter(call.name for t in trajectories for call in t.tool_calls)
    pass_ks = sorted({1, k})
    return EvalSummary(
        name=name, tasks=len(rewards), k=k, mean_at_k=mean_at_k(rewards), ci_low=low, ci_high=high,
        pass_at_k={j: float(np.mean([pass_at_k(len(v), int(sum(r >= 1.0 for r in v)), j) for v in rewards.values()]))
                   for j in pass_ks if all(len(v) >= j for v in rewards.values())},
        avg_tool_calls=sum(len(t.tool_calls) for t in trajectories) / n,
        tool_calls_by_tool={tool: count / n for tool, count in sorted(by_tool.items())},
        avg_repeated_calls=sum(repeated_calls(t) for t in trajectories) / n,
        avg_model_calls=sum(len(t.llm_calls) for t in trajectories) / n,
        forced_answer_rate=sum(t.forced_final for t in trajectories) / n,
        avg_answer_chars=sum(len(t.final_answer or "") for t in trajectories) / n,
        avg_input_tokens=sum(t.usage.input for t in trajectories) / n,
        avg_output_tokens=sum(t.usage.output for t in trajectories) / n,
        avg_wall_time_s=sum(t.wall_time_s for t in trajectories) / n,
        failures=dict(Counter(t.failure for t in trajectories if t.failure)),
    )
