"""Token and cost accounting per stage, per step and in total."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field

from tfgrpo_agents.core.trajectory import TokenUsage

STAGES = ("rollout", "grade", "summarize", "advantage", "group_ops", "consolidate")
REFLECTION_STAGES = ("summarize", "advantage", "group_ops", "consolidate")


class Price(BaseModel):
    """US dollars per million tokens."""

    input: float
    output: float
    cached_input: float | None = None


# Public list prices (USD per 1M tokens) at the time of writing; prices change, so pass your own
# table (``--prices prices.json``) for real budgeting. Local models cost nothing per token.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(input=0.15, output=0.60, cached_input=0.075),
    "gpt-4o": Price(input=2.50, output=10.00, cached_input=1.25),
    "gpt-4.1-mini": Price(input=0.40, output=1.60, cached_input=0.10),
    "deepseek-chat": Price(input=0.27, output=1.10, cached_input=0.07),
    "deepseek-reasoner": Price(input=0.55, output=2.19, cached_input=0.14),
}


def load_prices(path: str | os.PathLike[str] | None) -> dict[str, Price]:
    """The default table, overridden by a JSON file ``{"model": {"input": .., "output": ..}}``."""
    prices = dict(DEFAULT_PRICES)
    if path:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("expected an object of model names")
            prices.update({name: Price.model_validate(value) for name, value in data.items()})
        except (OSError, ValueError, RecursionError) as exc:
            detail = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:160]
            raise ValueError(f"{path} is not a price table ({detail}); expected "
                             '{"model": {"input": dollars per 1M tokens, "output": ...}}') from None
    return prices


def cost(usage: TokenUsage, price: Price | None) -> float:
    if price is None:
        return 0.0
    cached_rate = price.cached_input if price.cached_input is not None else price.input
    fresh = max(0, usage.input - usage.cached)
    return (fresh * price.input + usage.cached * cached_rate + usage.output * price.output) / 1_000_000


class StepLedger(BaseModel):
    step: int
    stages: dict[str, TokenUsage] = Field(default_factory=dict)
    wall_time_s: float = 0.0  # from the step's start to its snapshot (a resumed step includes the pause)
    rollout_time_s: float = 0.0  # the rollouts' own times, summed (more than wall time when they overlap)

    def add(self, stage: str, usage: TokenUsage) -> None:
        self.stages[stage] = self.stages.get(stage, TokenUsage()) + usage


class Ledger(BaseModel):
    policy_model: str | None = None
    teacher_model: str | None = None
    steps: list[StepLedger] = Field(default_factory=list)

    def by_stage(self) -> dict[str, TokenUsage]:
        totals: dict[str, TokenUsage] = {}
        for step in self.steps:
            for stage, usage in step.stages.items():
                totals[stage] = totals.get(stage, TokenUsage()) + usage
        return totals

    def summary(self, prices: dict[str, Price] | None = None) -> dict:
        """Totals per stage, reflection ÷ rollout token ratio, and the dollar estimate."""
        prices = DEFAULT_PRICES if prices is None else prices
        stages = self.by_stage()
        rollout = stages.get("rollout", TokenUsage())
        reflection = TokenUsage.sum(stages.get(s, TokenUsage()) for s in REFLECTION_STAGES)
        policy_price = prices.get(self.policy_model or "")
        teacher_price = prices.get(self.teacher_model or self.policy_model or "")
        policy_stages = ("rollout", "validate")  # a validated update's rollouts are the policy's tokens too
        dollars = {stage: cost(usage, policy_price if stage in policy_stages else teacher_price)
                   for stage, usage in stages.items()}
        return {
            "tokens_by_stage": {stage: usage.model_dump() for stage, usage in stages.items()},
            "rollout_tokens": rollout.total,
            "reflection_tokens": reflection.total,
            "reflection_to_rollout_ratio": round(reflection.total / rollout.total, 4) if rollout.total else None,
            "total_tokens": rollout.total + reflection.total + stages.get("grade", TokenUsage()).total
            + stages.get("validate", TokenUsage()).total,
            "validation_tokens": stages.get("validate", TokenUsage()).total,
            "dollars_by_stage": {k: round(v, 6) for k, v in dollars.items()},
            "dollars_total": round(sum(dollars.values()), 6),
            "priced_models": {"policy": self.policy_model if policy_price else None,
                              "teacher": (self.teacher_model or self.policy_model) if teacher_price else None},
            "wall_time_s": round(sum(s.wall_time_s for s in self.steps), 2),
            "wall_time_s_by_step": [round(s.wall_time_s, 1) for s in self.steps],
        }
