"""PNG plots for reports (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

try:
    import matplotlib
except ImportError as error:  # pragma: no cover - exercised by the lean-install test
    from tfgrpo_agents._extras import missing_extra

    raise missing_extra("eval", error) from error

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from tfgrpo_agents.core.trajectory import Trajectory  # noqa: E402
from tfgrpo_agents.evaluation.metrics import EvalSummary  # noqa: E402

_STYLE = {"figure.dpi": 120, "font.size": 11, "axes.spines.top": False, "axes.spines.right": False}


def plot_learning_curve(steps: Sequence[int], summaries: Sequence[EvalSummary], path: str | Path) -> Path:
    """Mean@k per learning step with its 95% CI band."""
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        means = [s.mean_at_k for s in summaries]
        ax.fill_between(steps, [s.ci_low for s in summaries], [s.ci_high for s in summaries], alpha=0.25,
                        color="tab:blue", label="95% bootstrap CI")
        ax.plot(steps, means, marker="o", color="tab:blue", label=f"Mean@{summaries[0].k}")
        ax.set_xlabel("learning step (library snapshot)")
        ax.set_ylabel(f"Mean@{summaries[0].k} accuracy")
        ax.set_ylim(0, 1)
        ax.set_xticks(list(steps))
        ax.set_title("Accuracy per learning step")
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
    return Path(path)


def plot_tool_calls_by_step(steps: Sequence[int], summaries: Sequence[EvalSummary], path: str | Path) -> Path:
    """Average tool calls per rollout at each learning step, stacked by tool."""
    tools = sorted({tool for s in summaries for tool in s.tool_calls_by_tool})
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        bottom = [0.0] * len(steps)
        for tool in tools:
            values = [s.tool_calls_by_tool.get(tool, 0.0) for s in summaries]
            ax.bar(steps, values, bottom=bottom, label=tool)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_xlabel("learning step (library snapshot)")
        ax.set_ylabel("tool calls per rollout")
        ax.set_xticks(list(steps))
        ax.set_title("Tool calls per learning step")
        if tools:
            ax.legend()
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
    return Path(path)


def plot_tool_call_histogram(before: Sequence[Trajectory], after: Sequence[Trajectory], path: str | Path,
                             labels: tuple[str, str] = ("before", "after")) -> Path:
    """How many tool calls rollouts made, before vs after learning."""
    counts_before = [len(t.tool_calls) for t in before]
    counts_after = [len(t.tool_calls) for t in after]
    top = max([0, *counts_before, *counts_after])
    bins = [x - 0.5 for x in range(top + 2)]
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        ax.hist([counts_before, counts_after], bins=bins, label=list(labels), color=["tab:gray", "tab:green"])
        ax.set_xlabel("tool calls in a rollout")
        ax.set_ylabel("rollouts")
        ax.set_xticks(range(top + 1))
        ax.set_title("Tool calls per rollout, before vs after learning")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
    return Path(path)


def plot_comparison(summaries: Sequence[EvalSummary], path: str | Path) -> Path:
    """Mean@k of each configuration with its 95% CI as error bars."""
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(summaries)), 4.2))
        names = [s.name for s in summaries]
        means = [s.mean_at_k for s in summaries]
        errors = [[m - s.ci_low for m, s in zip(means, summaries, strict=True)],
                  [s.ci_high - m for m, s in zip(means, summaries, strict=True)]]
        ax.bar(names, means, yerr=errors, capsize=6, color="tab:blue", alpha=0.8)
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"Mean@{summaries[0].k} accuracy")
        ax.set_title("Accuracy by configuration (95% CI)")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
    return Path(path)
