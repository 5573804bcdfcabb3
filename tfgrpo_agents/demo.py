"""``tfgrpo demo``: the whole method, offline, on the embedded model and the synthetic web.

Baseline on the test sites → Training-Free GRPO on the train sites → the learned library on the
test sites → before/after table, report and plots.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel

from tfgrpo_agents._async import run_sync
from tfgrpo_agents.agents import LessonDelivery
from tfgrpo_agents.datasets.synthetic_web import PUBLIC_ROOT, generate
from tfgrpo_agents.evaluation import (
    EvalConfig,
    EvalSettings,
    parse_ratio,
    stratified_sample,
)
from tfgrpo_agents.evaluation.report import Comparison
from tfgrpo_agents.learning import (
    LearnSettings,
    ShortAnswerGrader,
    ValidationSettings,
    load_tasks,
)
from tfgrpo_agents.learning.domains import DOMAINS
from tfgrpo_agents.learning.events import Event, RolloutFinished
from tfgrpo_agents.models.local_model import LlamaServer
from tfgrpo_agents.session import Experiment

REPO_TASKS = Path(__file__).resolve().parent.parent / "tasks" / "synthetic_web"


class ServerReady(Event):
    kind: ClassVar[str] = "server"
    url: str
    model: str
    seconds: float


class PhaseStarted(Event):
    """baseline, learning or learned: ``rollouts`` is how many come."""

    kind: ClassVar[str] = "phase"
    name: str
    rollouts: int


class DemoDone(Event):
    kind: ClassVar[str] = "done"
    seconds: float


class DemoPlan(BaseModel):
    test_tasks: int
    k: int
    train_tasks: int
    group_size: int
    epochs: int
    batch_size: int
    max_steps: int = 5
    max_tokens: int = 256  # a policy reply; a long first reply is re-asked as a tool call anyway
    # easy:medium:hard of the training tasks: a group teaches only where its rollouts differ, and with
    # two training tasks the easy ones the agent always gets right leave nothing to compare
    train_mix: str = "4:7:6"
    # how the learned library reaches the agent: the placement under which hand-written lessons gained
    # beyond noise on held-out webs (BENCHMARKS.md §1o); the baseline has no lessons, so no checks
    delivery: LessonDelivery = LessonDelivery.parse("relevant,next2")
    # the learning step's change is tried on the training tasks whose lessons it alters, each operation
    # on its own (BENCHMARKS.md §1q: validated libraries were no worse than none, in-domain and held out)
    validation: ValidationSettings | None = ValidationSettings(tasks=4, samples=2)


# Sized to stay under 6 minutes (default) and 4 (--quick) on an idle 2-core machine (BENCHMARKS.md, "tfgrpo demo").
PLANS = {
    "default": DemoPlan(test_tasks=10, k=1, train_tasks=4, group_size=3, epochs=1, batch_size=4),
    "quick": DemoPlan(test_tasks=4, k=1, train_tasks=2, group_size=3, epochs=1, batch_size=2, max_steps=4,
                      train_mix="0:1:1"),
}


def synthetic_web_dir(cache: Path) -> Path:
    """The committed task set when running from a checkout; else generated (same bytes) into ``cache``."""
    if (REPO_TASKS / "test.jsonl").exists():
        return REPO_TASKS
    target = cache / "synthetic_web"
    if not (target / "test.jsonl").exists():
        generate(target, seed=0)
    return target


def run_demo(out: Path, *, plan: DemoPlan, model: str = "local", seed: int = 0,
             on_event: Callable[[Event], None] | None = None) -> Comparison:
    """Events: :class:`ServerReady`, :class:`PhaseStarted`, a :class:`RolloutFinished` per rollout
    (evaluation and learning alike), the learner's other events, :class:`DemoDone`."""
    emit = on_event or (lambda event: None)

    def rollout_done() -> None:
        emit(RolloutFinished(key="", failed=False))
    data = synthetic_web_dir(out / "data")
    train = stratified_sample(load_tasks(data / "train.jsonl"), plan.train_tasks, ratio=parse_ratio(plan.train_mix),
                              seed=seed)
    test = stratified_sample(load_tasks(data / "test.jsonl"), plan.test_tasks, ratio=parse_ratio("4:7:6"), seed=seed)
    started = time.monotonic()
    with LlamaServer.for_rollouts(model) as server:
        emit(ServerReady(url=server.base_url, model=server.model_id, seconds=round(time.monotonic() - started, 1)))
        web = DOMAINS["web"]
        experiment = Experiment(web, server.chat_model(temperature=0.7, max_tokens=plan.max_tokens),
                                server.chat_model(temperature=0.0, max_tokens=700), grader=ShortAnswerGrader(),
                                # search and browse only: its questions need no arithmetic, and a third
                                # tool's schema on every call costs time on CPU (BENCHMARKS.md, 1g)
                                tool_options={"site": str(data / "site"), "public_url": PUBLIC_ROOT, "python": False},
                                max_steps=plan.max_steps)
        settings = EvalSettings(k=plan.k, temperature=0.3, seed=seed, concurrency=server.parallel,
                                max_steps=plan.max_steps,
                                model_id=server.model_id, timeout_s=240)
        with experiment:
            emit(PhaseStarted(name="baseline", rollouts=len(test) * plan.k))
            run_sync(experiment.aevaluate(EvalConfig(name="baseline"), test, settings, out / "eval",
                                          on_rollout=rollout_done))
            emit(PhaseStarted(name="learning", rollouts=len(train) * plan.group_size * plan.epochs))
            learner = experiment.learner(
                LearnSettings(name="demo", domain="web", group_size=plan.group_size, epochs=plan.epochs,
                              batch_size=plan.batch_size, seed=seed, max_steps=plan.max_steps,
                              concurrency=server.parallel,
                              rollout_timeout_s=240, model_id=server.model_id,
                              # the embedded model invents steps when it summarizes; the trace does not. A group
                              # whose every lesson it wrote was refused gets the one its evidence states (§1s)
                              reflection=web.reflection(retries=2, summaries="trace", evidence_lessons=True),
                              delivery=plan.delivery, validation=plan.validation),
                out / "learn", on_event=emit)
            learner.fit(train)
            emit(PhaseStarted(name="learned", rollouts=len(test) * plan.k))
            learned = EvalConfig(name="learned", library=str(out / "learn" / "library.json"),
                                 delivery=plan.delivery)
            run_sync(experiment.aevaluate(learned, test, settings, out / "eval", on_rollout=rollout_done))
            # both arms are read back from their records: the progress above counted each rollout once
            comparison = experiment.compare([EvalConfig(name="baseline"), learned], test, settings, out / "eval")
    emit(DemoDone(seconds=round(time.monotonic() - started, 1)))
    return comparison


def what_it_shows(comparison: Comparison, lessons: int, groups_with_signal: int = 0,
                  rolled_back: int = 0) -> list[str]:
    """The demo's closing lines: the learned arm against the baseline in plain words, without claiming
    more than a run of this size can show (``rolled_back``: operations validation undid)."""
    base, learned = comparison.arms[0], comparison.arms[-1]
    d = learned.versus_baseline
    lines = []
    if lessons == 0 and rolled_back:
        lines.append(f"No lesson was kept: the teacher wrote {rolled_back} change(s) to the library and validation "
                     "rolled them back, because they lowered the reward of the training tasks they apply to (the "
                     "step's validation.json under learn/steps/ says by how much); the two rows differ only by chance.")
    elif lessons == 0 and groups_with_signal == 0:
        lines.append("No lesson was learned: every training group's rollouts scored alike, so there was "
                     "nothing to compare (the method skips such groups); the two rows differ only by chance.")
    elif lessons == 0:
        lines.append(f"No lesson was learned: {groups_with_signal} training group(s) had rollouts that scored "
                     "differently, but no lesson came out of the teacher's replies (a 1.5B teacher often fails "
                     "the format and generality checks; the step report under learn/steps/ says why); the two "
                     "rows differ only by chance.")
    if d is not None:
        size = f"{d.tasks} tasks × k={comparison.settings.k}"
        if d.significant:
            judged = "a difference beyond chance at this size" + (
                "" if d.difference > 0 else ": the library made the agent worse")
        else:
            judged = f"inside the noise: on {size} a difference this small cannot be told from chance"
        lines.append(f"The learned library ({lessons} lesson{'s' if lessons != 1 else ''}) scored "
                     f"{learned.summary.mean_at_k:.3f} against the baseline's {base.summary.mean_at_k:.3f} "
                     f"({d.difference:+.3f}, paired 95% CI [{d.ci_low:+.3f}, {d.ci_high:+.3f}]): {judged}.")
    calls = learned.tool_call_reduction_pct
    if calls is not None:
        lines.append(f"Tool calls per rollout: {base.summary.avg_tool_calls:.2f} → {learned.summary.avg_tool_calls:.2f}"
                     f" ({abs(calls):.0f} % {'fewer' if calls >= 0 else 'more'}).")
    lines.append("The learned arm shows each question only the lessons whose condition matches it and, before the "
                 "answer, names the page a lesson points to (delivery relevant,next2). Hand-written lessons delivered "
                 "this way beat the plain agent beyond noise on held-out webs (BENCHMARKS.md §1o); libraries the "
                 "1.5B model learned as its own teacher gain 3 to 9 points, not yet beyond noise (§1–1s). The paper's "
                 "gains need a strong teacher: "
                 "`tfgrpo learn --model … --base-url …` on any OpenAI-compatible endpoint.")
    return lines
