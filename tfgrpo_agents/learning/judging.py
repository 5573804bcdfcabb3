"""How a validated update is judged from its paired rewards.

Pure functions of the rewards keyed ``task/sample`` (as ``validation.json`` records them), so the
learner and a replay of a run's record judge alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfgrpo_agents.experience import ExperienceLibrary
from tfgrpo_agents.learning.settings import ValidationSettings

Rewards = dict[str, float]


@dataclass(frozen=True)
class Unit:
    """Operations judged together, on the validation tasks they alter; ``removals``: those of them that delete
    or rewrite a held lesson, kept only on a gain (``removals_must_gain``)."""

    ops: list[dict[str, Any]]
    tasks: frozenset[str]
    removals: list[dict[str, Any]]


def units_of(plan: list[dict[str, Any]], touched: list[set[str]], tried: set[str], before: ExperienceLibrary,
             checks: ValidationSettings) -> list[Unit]:
    """One unit per operation when each has its own tasks (``relevant`` delivery), else the whole plan."""
    groups = [([op], ids & tried) for op, ids in zip(plan, touched)] if len(touched) > 1 else [(plan, tried)]
    return [Unit(ops, frozenset(ids), [op for op in ops if checks.removals_must_gain and removes(op, before)])
            for ops, ids in groups]


def removes(op: dict[str, Any], library: ExperienceLibrary) -> bool:
    """Whether ``op`` deletes or rewrites one of ``library``'s lessons."""
    kind, held = str(op.get("op", "")).upper(), library.get(str(op.get("id")))
    return held is not None and (kind == "DELETE" or (kind == "UPDATE" and op.get("text") != held.text))


def on_tasks(rewards: Rewards, tasks: frozenset[str]) -> list[float]:
    return [reward for key, reward in rewards.items() if key.rsplit("/", 1)[0] in tasks]


def lost(old: Rewards, new: Rewards, tasks: frozenset[str]) -> float:
    """The reward a change lost on ``tasks``, summed over their paired rollouts (negative: a gain)."""
    return sum(on_tasks(old, tasks)) - sum(on_tasks(new, tasks))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def holds(old: Rewards, new: Rewards, tasks: frozenset[str], tolerance: float) -> bool:
    return _mean(on_tasks(new, tasks)) >= _mean(on_tasks(old, tasks)) - tolerance


def to_settle(units: list[Unit], old: Rewards, new: Rewards, checks: ValidationSettings) -> list[int]:
    """The units that lost at most one rollout's reward: tried again on more paired rollouts. A unit of
    removals only is not (it is kept only on a gain, which more rollouts after a loss will not show)."""
    if not checks.settle_samples:
        return []
    return [i for i, unit in enumerate(units) if not holds(old, new, unit.tasks, checks.tolerance)
            and lost(old, new, unit.tasks) <= 1.0 and len(unit.removals) < len(unit.ops)]


def judged(units: list[Unit], settling: list[int], old: Rewards, new: Rewards,
           checks: ValidationSettings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The operations kept, and the removals undone for want of a gain (the rewards include any settling).

    A unit passes if its tasks' mean reward did not drop (beyond ``tolerance``), or if it was settled and
    lost no more than one rollout's reward in all; a removal in a passing unit stays only if its tasks gained."""
    passed = [holds(old, new, unit.tasks, checks.tolerance) or (i in settling and lost(old, new, unit.tasks) <= 1.0)
              for i, unit in enumerate(units)]
    unproven = [op for unit, ok in zip(units, passed) if ok and lost(old, new, unit.tasks) >= 0
                for op in unit.removals]
    keep = [op for unit, ok in zip(units, passed) if ok for op in unit.ops if op not in unproven]
    return keep, unproven
