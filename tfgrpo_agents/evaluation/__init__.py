"""Evaluation: Mean@k, Pass@k, tool calls and tokens, paired bootstrap comparisons, curves, reports."""

from tfgrpo_agents.evaluation.harness import (
    AgentBuilder,
    EvalConfig,
    EvalRun,
    EvalSettings,
    evaluate,
)
from tfgrpo_agents.evaluation.metrics import (
    EvalSummary,
    PairedDifference,
    bootstrap_ci,
    mean_at_k,
    paired_bootstrap,
    pass_at_k,
    per_task_rewards,
    summarize,
)
from tfgrpo_agents.evaluation.report import (
    Comparison,
    compare,
    comparison_markdown,
    learning_curve,
)
from tfgrpo_agents.evaluation.splits import (
    parse_ratio,
    stratified_sample,
    train_test_split,
)
from tfgrpo_agents.evaluation.tips import generate_direct_tips
from tfgrpo_agents.learning.evidence import repeated_calls

__all__ = [
    "AgentBuilder", "Comparison", "EvalConfig", "EvalRun", "EvalSettings", "EvalSummary", "PairedDifference",
    "bootstrap_ci", "compare", "comparison_markdown", "evaluate", "generate_direct_tips", "learning_curve",
    "mean_at_k", "paired_bootstrap", "parse_ratio", "pass_at_k", "per_task_rewards", "repeated_calls",
    "stratified_sample", "summarize", "train_test_split",
]
