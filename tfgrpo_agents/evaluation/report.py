"""Compare configurations on the same tasks, draw learning curves, and write the reports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from tfgrpo_agents._atomic import atomic_write_text
from tfgrpo_agents.core.contract import AgentContract
from tfgrpo_agents.core.rewards import Grader
from tfgrpo_agents.core.runner import RolloutRunner
from tfgrpo_agents.core.tasks import Task
from tfgrpo_agents.core.trajectory import Trajectory
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
    paired_bootstrap,
    task_means,
)
from tfgrpo_agents.evaluation.plots import (
    plot_comparison,
    plot_learning_curve,
    plot_tool_call_histogram,
    plot_tool_calls_by_step,
)
from tfgrpo_agents.experience import load_library


class TaskFlip(BaseModel):
    task_id: str
    question: str
    baseline_mean: float
    mean: float
    baseline_rollouts: str
    rollouts: str


class ArmResult(BaseModel):
    summary: EvalSummary
    trajectories_path: str
    versus_baseline: PairedDifference | None = None
    tool_call_reduction_pct: float | None = None
    wrong_to_right: list[TaskFlip] = Field(default_factory=list)
    right_to_wrong: list[TaskFlip] = Field(default_factory=list)


class Comparison(BaseModel):
    baseline: str
    settings: EvalSettings
    arms: list[ArmResult]
    plots: list[str] = Field(default_factory=list)


def _flips(base: Sequence[Trajectory], arm: Sequence[Trajectory], base_path: str, arm_path: str,
           questions: dict[str, str]) -> tuple[list[TaskFlip], list[TaskFlip]]:
    """Tasks whose majority outcome changed (mean reward crossing 0.5)."""
    before, after = task_means(base), task_means(arm)
    up, down = [], []
    for task_id in sorted(set(before) & set(after)):
        flip = TaskFlip(task_id=task_id, question=questions.get(task_id, ""), baseline_mean=before[task_id],
                        mean=after[task_id], baseline_rollouts=f"{base_path}#task_id={task_id}",
                        rollouts=f"{arm_path}#task_id={task_id}")
        if before[task_id] < 0.5 <= after[task_id]:
            up.append(flip)
        elif after[task_id] < 0.5 <= before[task_id]:
            down.append(flip)
    return up, down


async def compare(builder: AgentBuilder, configs: Sequence[EvalConfig], tasks: Sequence[Task], grader: Grader | None,
                  settings: EvalSettings, out_dir: str | Path,
                  on_rollout: Callable[[], None] | None = None, contract: AgentContract | None = None,
                  runner: RolloutRunner | None = None) -> Comparison:
    """Run every configuration on the same tasks; the first one is the baseline."""
    if not configs:
        raise ValueError("nothing to compare")
    out = Path(out_dir)
    runs: list[tuple[EvalRun, list[Trajectory]]] = []
    for config in configs:
        runs.append(await evaluate(builder, config, tasks, grader, settings, out, on_rollout, contract=contract,
                                   runner=runner))
    (base_run, base_traj), questions = runs[0], {t.id: t.question for t in tasks}
    arms = [ArmResult(summary=base_run.summary, trajectories_path=base_run.trajectories_path)]
    for run, trajectories in runs[1:]:
        difference = paired_bootstrap(task_means(base_traj), task_means(trajectories),
                                      names=(base_run.config.name, run.config.name), seed=settings.seed)
        base_calls = base_run.summary.avg_tool_calls
        reduction = (base_calls - run.summary.avg_tool_calls) / base_calls * 100 if base_calls else None
        up, down = _flips(base_traj, trajectories, base_run.trajectories_path, run.trajectories_path, questions)
        arms.append(ArmResult(summary=run.summary, trajectories_path=run.trajectories_path, versus_baseline=difference,
                              tool_call_reduction_pct=reduction, wrong_to_right=up, right_to_wrong=down))
    comparison = Comparison(baseline=base_run.config.name, settings=settings, arms=arms)
    comparison.plots.append(str(plot_comparison([a.summary for a in arms], out / "accuracy_by_config.png")))
    if len(runs) > 1:
        comparison.plots.append(str(plot_tool_call_histogram(
            base_traj, runs[1][1], out / "tool_calls_histogram.png", labels=(base_run.config.name, runs[1][0].config.name))))
    write_comparison(comparison, out)
    return comparison


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def comparison_markdown(comparison: Comparison) -> str:
    s = comparison.settings
    k = s.k
    pass_columns = sorted({1, k})
    lines = [
        "# Evaluation report", "",
        f"k = {k} samples per task at temperature {s.temperature}, seed {s.seed}. Baseline: `{comparison.baseline}`.",
        "",
        f"| configuration | Mean@{k} | 95% CI | " + " | ".join(f"Pass@{j}" for j in pass_columns)
        + " | tool calls | repeated calls | forced answers | answer chars | tokens in | tokens out | time (s) | failures |",
        "|---|---|---|" + "---|" * len(pass_columns) + "---|---|---|---|---|---|---|---|",
    ]
    for arm in comparison.arms:
        m = arm.summary
        failures = ", ".join(f"{kind} {n}" for kind, n in m.failures.items()) or "0"
        passes = " | ".join(_fmt(m.pass_at_k.get(j)) for j in pass_columns)
        lines.append(
            f"| {m.name} | {_fmt(m.mean_at_k)} | [{_fmt(m.ci_low)}, {_fmt(m.ci_high)}] | {passes} "
            f"| {_fmt(m.avg_tool_calls, 2)} | {_fmt(m.avg_repeated_calls, 2)} "
            f"| {_fmt(m.forced_answer_rate, 2)} | {m.avg_answer_chars:.0f} | {m.avg_input_tokens:.0f} "
            f"| {m.avg_output_tokens:.0f} "
            f"| {_fmt(m.avg_wall_time_s, 1)} | {failures} |")
    lines += ["", "## Against the baseline", ""]
    for arm in comparison.arms[1:]:
        d = arm.versus_baseline
        assert d is not None
        reduction = arm.tool_call_reduction_pct
        lines.append(
            f"- **{arm.summary.name}**: accuracy {d.difference:+.3f} (paired 95% CI [{d.ci_low:+.3f}, {d.ci_high:+.3f}] "
            f"over {d.tasks} tasks) — {d.verdict()}; tool calls "
            + ("unchanged" if reduction is None else f"{reduction:.1f}% fewer" if reduction >= 0
               else f"{-reduction:.1f}% more") + ".")
    for arm in comparison.arms[1:]:
        if arm.wrong_to_right or arm.right_to_wrong:
            lines += ["", f"## Tasks that changed with `{arm.summary.name}`", ""]
            for label, flips in (("wrong → right", arm.wrong_to_right), ("right → wrong", arm.right_to_wrong)):
                for flip in flips:
                    lines.append(f"- {label}: `{flip.task_id}` ({flip.baseline_mean:.2f} → {flip.mean:.2f}) "
                                 f"{flip.question[:90]} — rollouts: `{flip.rollouts}`, baseline: `{flip.baseline_rollouts}`")
    if comparison.plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in comparison.plots]
    return "\n".join(lines) + "\n"


def write_comparison(comparison: Comparison, out_dir: Path) -> None:
    atomic_write_text(out_dir / "report.json", comparison.model_dump_json(indent=2))
    atomic_write_text(out_dir / "report.md", comparison_markdown(comparison))


class CurvePoint(BaseModel):
    step: int
    summary: EvalSummary


async def learning_curve(builder: AgentBuilder, library_path: str | Path, tasks: Sequence[Task],
                         grader: Grader | None, settings: EvalSettings, out_dir: str | Path,
                         steps: Sequence[int] | None = None,
                         on_rollout: Callable[[], None] | None = None,
                         contract: AgentContract | None = None,
                         runner: RolloutRunner | None = None) -> list[CurvePoint]:
    """Evaluate the library as it stood after each learning step (all steps unless ``steps``)."""
    out = Path(out_dir)
    library = load_library(library_path)
    chosen = list(steps) if steps is not None else library.steps
    points, runs = [], []
    for step in chosen:
        config = EvalConfig(name=f"step-{step}", library=str(library_path), step=step)
        run, trajectories = await evaluate(builder, config, tasks, grader, settings, out, on_rollout, contract=contract,
                                           runner=runner)
        points.append(CurvePoint(step=step, summary=run.summary))
        runs.append(trajectories)
    summaries = [p.summary for p in points]
    plot_learning_curve(chosen, summaries, out / "accuracy_by_step.png")
    plot_tool_calls_by_step(chosen, summaries, out / "tool_calls_by_step.png")
    plot_tool_call_histogram(runs[0], runs[-1], out / "tool_calls_histogram.png",
                             labels=(f"step {chosen[0]}", f"step {chosen[-1]}"))
    rows = [f"| {p.step} | {p.summary.mean_at_k:.3f} | [{p.summary.ci_low:.3f}, {p.summary.ci_high:.3f}] "
            f"| {p.summary.avg_tool_calls:.2f} |" for p in points]
    markdown = "\n".join([f"# Learning curve of `{library_path}`", "",
                          f"| step | Mean@{settings.k} | 95% CI | tool calls |", "|---|---|---|---|", *rows, "",
                          "![accuracy](accuracy_by_step.png)", "![tool calls](tool_calls_by_step.png)",
                          "![histogram](tool_calls_histogram.png)"]) + "\n"
    atomic_write_text(out / "curve.md", markdown)
    atomic_write_text(out / "curve.json", "[" + ",\n".join(p.model_dump_json() for p in points) + "]\n")
    return points
