"""One learning step as a LangGraph ``StateGraph``; each node is one stage of Training-Free GRPO.

    rollout ─► grade ─► select_groups ─► summarize ─► group_advantage ─► group_ops ─► consolidate
       ▲                      │   (Send per trajectory; then each kept group, in parallel) │
       └──────────────────────┘                                                            │
    flat groups: more rollouts, once (optional)                    snapshot ◄─ validate ◄─┘
    a group that all failed, kept with its answer looked up (optional)         (optional: kept or rolled back)

Rollouts and summaries fan out with ``Send``. The per-group stages run as single nodes over all
kept groups with bounded parallelism: a conditional edge on a ``Send``-fanned node would run once
per task and fan out again for each.

Every rollout and teacher answer is cached in the run directory the moment it finishes, and the
graph is checkpointed, so a run killed anywhere resumes without redoing finished work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from pydantic import BaseModel, Field, ValidationError
from rapidfuzz import fuzz

from tfgrpo_agents.agents.delivery import matching_lessons, question_of
from tfgrpo_agents.core.contract import AgentContract, task_prompt
from tfgrpo_agents.core.grading import grade_trajectories
from tfgrpo_agents.core.rewards import Grader
from tfgrpo_agents.core.rollout import (
    RolloutSettings,
    check_not_all_failed,
    child_config,
    rollout_seed,
    run_rollout,
    worth_caching,
)
from tfgrpo_agents.core.rundir import RunDir, group_key, rollout_key
from tfgrpo_agents.core.tasks import Task
from tfgrpo_agents.core.trajectory import (
    TokenUsage,
    Trajectory,
    TrajectoryCollector,
    write_trajectories,
)
from tfgrpo_agents.experience import ExperienceLibrary
from tfgrpo_agents.learning.events import (
    Event,
    GroupsResampled,
    GroupsSelected,
    RolloutFinished,
    StepFinished,
    TeacherCallFinished,
)
from tfgrpo_agents.learning import judging
from tfgrpo_agents.learning.evidence import look_up_reference
from tfgrpo_agents.learning.ledger import StepLedger
from tfgrpo_agents.learning.lessons import carried_by, edit_report, unsupported_words
from tfgrpo_agents.learning.reflection import Reflector
from tfgrpo_agents.learning.results import StageFailure, StepReport
from tfgrpo_agents.learning.settings import LearnSettings

logger = logging.getLogger(__name__)

AgentFactory = Callable[[ExperienceLibrary], Any]


def merge_by_key(current: dict[str, Any] | None, update: dict[str, Any] | None) -> dict[str, Any]:
    """Fan-out results keyed by identity (``task/sample``): a result delivered twice — a resumed
    task whose write had already been saved — replaces itself instead of being counted again."""
    return {**(current or {}), **(update or {})}


class StageResult(BaseModel):
    """One teacher call's outcome (cached as JSON): its value or the error, and the tokens it spent."""

    ok: bool
    value: Any = None
    error: str | None = None
    usage: TokenUsage = Field(default_factory=TokenUsage)
    task_id: str | None = None
    sample: int | None = None


class StepState(TypedDict, total=False):
    """What flows through one step's graph, as models (checkpointed with the types allowed below)."""

    step: int
    tasks: list[Task]
    samples: dict[str, int]  # recorded groups: rollouts per task (default: the group size)
    trajectories: Annotated[dict[str, Trajectory], merge_by_key]
    graded: list[Trajectory]
    kept: list[str]
    members: dict[str, list[int]]  # the samples of each kept group the teacher reads (G of a resampled group)
    resample: list[str]  # flat groups waiting for more rollouts (LearnSettings.resample_flat)
    found: dict[str, str]  # groups that all failed: the search result where the reference answer is
    summaries: Annotated[dict[str, StageResult], merge_by_key]
    advantages: list[StageResult]
    group_ops: list[StageResult]
    plan: list[dict[str, Any]]  # ops as the library's apply() takes them
    validation: dict[str, Any]  # the validated update's verdict (see LearnSettings.validation)
    report: StepReport


# The models a checkpoint may hold (LangGraph deserializes only the types it is told about).
CHECKPOINT_TYPES = [("tfgrpo_agents.core.tasks", "Task"), ("tfgrpo_agents.core.trajectory", "Trajectory"),
                    ("tfgrpo_agents.core.trajectory", "ToolCallRecord"), ("tfgrpo_agents.core.trajectory", "TokenUsage"),
                    ("tfgrpo_agents.learning.graph", "StageResult"), ("tfgrpo_agents.learning.results", "StepReport"),
                    ("tfgrpo_agents.learning.results", "StageFailure")]


class StageMeter(TrajectoryCollector):
    """Token usage of one teacher call (the collector's usage half)."""

    def usage(self) -> TokenUsage:
        return TokenUsage.sum(self.llm_calls)


class StepGraph:
    """Builds and runs the step graph for one learning run."""

    def __init__(
        self,
        *,
        settings: LearnSettings,
        run_dir: RunDir,
        agent_factory: AgentFactory,
        reflector: Reflector,
        grader: Grader | None,
        library_loader: Callable[[], ExperienceLibrary],
        library_saver: Callable[[ExperienceLibrary], None],
        on_event: Callable[[Event], None] | None = None,
        contract: AgentContract | None = None,
        validation_tasks: list[Task] | None = None,
        search: Callable[[str], str] | None = None,
    ) -> None:
        self.contract = contract or AgentContract()
        self.settings = settings
        self.run_dir = run_dir
        self.agent_factory = agent_factory
        self.reflector = reflector
        self.grader = grader
        self.load_library = library_loader
        self.save_library = library_saver
        self.on_event = on_event or (lambda event: None)
        self.validation_tasks = list(validation_tasks or [])
        self.search = search  # looks up where a reference answer is, for groups that all failed
        self._agents: dict[int, Any] = {}
        self._libraries: dict[int, ExperienceLibrary] = {}

    # -------------------------------------------------------------- helpers
    def library_for(self, step: int) -> ExperienceLibrary:
        """The library as it stood when ``step`` started (what every rollout of the step sees)."""
        if step not in self._libraries:
            library = self.load_library()
            self._libraries[step] = library.at_step(step - 1) if library.step >= step else library
        return self._libraries[step]

    def agent_for(self, step: int) -> Any:
        if step not in self._agents:
            self._agents[step] = self.agent_factory(self.library_for(step))
        return self._agents[step]

    def _teacher_call(self, stage: str, key: str, fn: Callable[[dict], Any],
                      parent: RunnableConfig | None = None) -> StageResult:
        """Run one teacher call through the cache; failures are recorded, never raised.

        The call nests under the step's run (``parent``'s callbacks), named by stage and key.
        """
        cached = self.run_dir.cached(stage, key)
        if cached is not None:
            try:
                return StageResult.model_validate(cached)
            except ValidationError:
                pass  # damaged: ask again
        meter = StageMeter()
        try:
            value = fn(child_config(parent, meter, f"{stage} {key}", {"stage": stage, "key": key}))
            result = StageResult(ok=True, value=value, usage=meter.usage())
        except Exception as exc:
            logger.warning("%s %s skipped: %s", stage, key, exc)
            result = StageResult(ok=False, error=f"{type(exc).__name__}: {exc}", usage=meter.usage())
        self.on_event(TeacherCallFinished(stage=stage, key=key, ok=result.ok))
        self.run_dir.cache(stage, key, result.model_dump(mode="json"))
        return result

    # -------------------------------------------------------------- nodes
    def fan_out_rollouts(self, state: StepState) -> list[Send]:
        if self.run_dir.cached("started", f"step{state['step']}") is None:
            self.run_dir.cache("started", f"step{state['step']}", {"at": time.time()})
        counts = state.get("samples") or {}
        return [Send("rollout", {"step": state["step"], "task": task, "sample": sample})
                for task in state["tasks"] for sample in range(counts.get(task.id, self.settings.group_size))]

    async def rollout(self, payload: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        step, task, sample = payload["step"], payload["task"], payload["sample"]
        key = rollout_key(task.id, sample, step)
        trajectory = self.cached_rollout(key)
        if trajectory is None:
            trajectory = await self._run_rollout(step, task, sample, config)
            self.on_event(RolloutFinished(key=key, failed=trajectory.failed, error=trajectory.error))
            if worth_caching(trajectory):
                self.run_dir.cache("rollout", key, trajectory.model_dump(mode="json"))
        return {"trajectories": {key: trajectory}}

    def cached_rollout(self, key: str) -> Trajectory | None:
        """A finished rollout of this run; ``None`` if there is none, or it was written by an older
        version or damaged (then it is run again)."""
        cached = self.run_dir.cached("rollout", key)
        if cached is None:
            return None
        try:
            return Trajectory.model_validate(cached)
        except ValidationError:
            return None

    def rollout_settings(self) -> RolloutSettings:
        s = self.settings
        return RolloutSettings(temperature=s.temperature, max_steps=s.max_steps, timeout_s=s.rollout_timeout_s,
                               retries=s.rollout_retries, retry_wait_s=s.retry_wait_s, model_id=s.model_id)

    async def _run_rollout(self, step: int, task: Task, sample: int, config: RunnableConfig | None = None) -> Trajectory:
        library = self.library_for(step)
        return await run_rollout(
            self.agent_for(step), task, sample, seed=rollout_seed(self.settings.seed, step, task.id, sample),
            settings=self.rollout_settings(), library_step=library.step, library_digest=library.digest(),
            contract=self.contract, config=child_config(config, None, None, {"step": step}))

    def grade(self, state: StepState) -> dict[str, Any]:
        order = {task.id: index for index, task in enumerate(state["tasks"])}
        graded = sorted(state["trajectories"].values(), key=lambda t: (order[t.task_id], t.sample))
        check_not_all_failed(graded, f"step {state['step']}")
        if self.grader is not None and self.settings.ground_truth:
            tasks = {task.id: task for task in state["tasks"]}
            graded, _ = grade_trajectories(graded, tasks, self.grader, self.run_dir,
                                           concurrency=self.settings.concurrency,
                                           key=lambda t: rollout_key(t.task_id, t.sample, state["step"]))
        write_trajectories(self.run_dir.step_dir(state["step"]) / "trajectories.jsonl", graded)
        return {"graded": graded}

    def select_groups(self, state: StepState) -> dict[str, Any]:
        groups: dict[str, list[Trajectory]] = {}
        for trajectory in state["graded"]:
            groups.setdefault(trajectory.task_id, []).append(trajectory)
        kept, stats, resample, members_of, failed_all = [], [], [], {}, []
        for task_id, members in groups.items():
            usable = [t for t in members if not t.failed]
            rewards = [t.reward or 0.0 for t in members]
            mean = sum(rewards) / len(rewards) if rewards else 0.0
            rewarded = self.grader is not None or all(t.reward is not None for t in members)  # recorded rewards
            if len(members) == 1 or not self.settings.ground_truth or not rewarded:
                keep = bool(usable)
                reason = "kept" if keep else "every rollout failed"
            else:
                keep = 0.0 < mean < 1.0
                reason = "kept: rewards differ" if keep else ("all succeeded" if mean >= 1.0 else "all failed")
                if not keep and self._may_resample(state, len(members)):
                    resample.append(task_id)
                if mean <= 0.0:
                    failed_all.append(task_id)
                if len(members) > self.settings.group_size:
                    reason += f" ({len(members)} rollouts, {len(members) - self.settings.group_size} resampled)"
            stats.append({"task_id": task_id, "mean_reward": round(mean, 4), "kept": keep, "reason": reason})
            if keep:
                kept.append(task_id)
                members_of[task_id] = [t.sample for t in _contrast(members, self.settings.group_size)]
        if resample:  # back to the rollouts first; the groups are chosen once those are in
            return {"resample": resample}
        found, tasks, stat_of = {}, {t.id: t for t in state["tasks"]}, {s["task_id"]: s for s in stats}
        for task_id in failed_all:  # a group that all failed, compared with where the answer is
            text = self._looked_up(tasks[task_id])
            if text:
                found[task_id] = text
                stat = stat_of[task_id]
                stat.update(kept=True, reason=stat["reason"] + "; the answer looked up afterwards")
                kept.append(task_id)
                members_of[task_id] = [t.sample for t in _contrast(groups[task_id], self.settings.group_size)]
        self.run_dir.write_json(self.run_dir.step_dir(state["step"]) / "groups.json", stats)
        self.on_event(GroupsSelected(kept=len(kept), groups=len(groups)))
        return {"kept": kept, "members": members_of, "resample": [], "found": found}

    def _looked_up(self, task: Task) -> str | None:
        """The search result holding ``task``'s reference answer (cached: a resumed run decides the same)."""
        if self.search is None or self.grader is None or not self.settings.ground_truth:
            return None
        cached = self.run_dir.cached("look_up", task.id)
        if cached is None:
            try:
                cached = {"found": look_up_reference(self.search, task)}
            except Exception as exc:  # a search that fails leaves the group skipped, as without it
                logger.warning("looking up the answer of %s failed: %s", task.id, exc)
                return None
            self.run_dir.cache("look_up", task.id, cached)
        return cached["found"]

    def _may_resample(self, state: StepState, rollouts: int) -> bool:
        """A flat group gets ``resample_flat`` more rollouts, once; recorded groups (no agent) never do."""
        return not state.get("samples") and rollouts < self.settings.group_size + self.settings.resample_flat

    def after_selection(self, state: StepState) -> list[Send] | str:
        if not state.get("resample"):
            return self.fan_out_summaries(state)
        tasks = {task.id: task for task in state["tasks"]}
        have: dict[str, int] = {}
        for trajectory in state["trajectories"].values():
            have[trajectory.task_id] = max(have.get(trajectory.task_id, 0), trajectory.sample + 1)
        extra = self.settings.group_size + self.settings.resample_flat
        sends = [Send("rollout", {"step": state["step"], "task": tasks[task_id], "sample": sample})
                 for task_id in state["resample"] for sample in range(have.get(task_id, 0), extra)]
        self.on_event(GroupsResampled(step=state["step"], groups=len(state["resample"]), rollouts=len(sends)))
        return sends

    def fan_out_summaries(self, state: StepState) -> list[Send] | str:
        kept, members = set(state["kept"]), state.get("members") or {}
        sends = [Send("summarize", {"step": state["step"], "tasks": state["tasks"], "trajectory": t})
                 for t in state["graded"] if t.task_id in kept and t.sample in members.get(t.task_id, [t.sample])]
        return sends or "group_advantage"

    def summarize(self, payload: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        trajectory = payload["trajectory"]
        task = next(t for t in payload["tasks"] if t.id == trajectory.task_id)
        key = rollout_key(trajectory.task_id, trajectory.sample, payload["step"])
        library = self.library_for(payload["step"])
        result = self._teacher_call("summarize", key,
                                    lambda cfg: self.reflector.summarize(task, trajectory, library, cfg), config)
        return {"summaries": {key: result.model_copy(update={"task_id": trajectory.task_id,
                                                             "sample": trajectory.sample})}}

    def _parallel(self, fn: Callable[[Any], dict[str, Any]], items: list[Any]) -> list[dict[str, Any]]:
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=max(1, min(self.settings.concurrency, len(items)))) as pool:
            return list(pool.map(fn, items))

    def group_advantage(self, state: StepState, config: RunnableConfig) -> dict[str, Any]:
        step = state["step"]
        tasks = {t.id: t for t in state["tasks"]}
        found = state.get("found") or {}  # groups that all failed: where the answer is
        groups = []
        for task_id in state["kept"]:
            summaries = sorted((s for s in state.get("summaries", {}).values() if s.task_id == task_id and s.ok),
                               key=lambda s: s.sample)
            if not summaries:
                logger.warning("group %s skipped: no usable summaries", task_id)
                continue
            by_sample = {t.sample: t for t in state["graded"] if t.task_id == task_id}
            groups.append((task_id, [(by_sample[s.sample], s.value) for s in summaries]))

        def run(group: tuple[str, list]) -> StageResult:
            task_id, attempts = group
            result = self._teacher_call("advantage", group_key(task_id, step),
                                        lambda cfg: self.reflector.advantage(tasks[task_id], attempts, cfg,
                                                                             found.get(task_id)), config)
            return result.model_copy(update={"task_id": task_id})

        return {"advantages": self._parallel(run, groups)}

    def group_ops(self, state: StepState, config: RunnableConfig) -> dict[str, Any]:
        step = state["step"]
        library = self.library_for(step)
        with_lessons = [a for a in state.get("advantages", []) if a.ok and a.value]

        def run(advantage: StageResult) -> StageResult:
            result = self._teacher_call("group_ops", group_key(advantage.task_id, step),
                                        lambda cfg: self.reflector.group_ops(advantage.value, library, cfg), config)
            return result.model_copy(update={"task_id": advantage.task_id})

        return {"group_ops": self._parallel(run, with_lessons)}

    def consolidate(self, state: StepState, config: RunnableConfig) -> dict[str, Any]:
        step = state["step"]
        order = {task.id: index for index, task in enumerate(state["tasks"])}
        proposals = [{**op, "sources": [f"step{step}:{group.task_id}"]}
                     for group in sorted(state.get("group_ops", []), key=lambda g: order[g.task_id])
                     if group.ok for op in group.value if str(op.get("op", "")).upper() != "NONE"]
        library = self.library_for(step)
        step_dir = self.run_dir.step_dir(step)
        summaries = sorted(state.get("summaries", {}).values(), key=lambda s: (order[s.task_id], s.sample))
        for name, items in (("summaries", summaries), ("advantages", state.get("advantages", [])),
                            ("group_ops", state.get("group_ops", []))):
            self.run_dir.write_json(step_dir / f"{name}.json", [item.model_dump(mode="json") for item in items])
        if not proposals:
            self.run_dir.write_json(step_dir / "consolidation.json", {"proposals": [], "plan": []})
            return {"plan": []}
        result = self._teacher_call("consolidate", f"step{step}",
                                    lambda cfg: self.reflector.consolidate(proposals, library, cfg), config)
        if result.ok:
            plan = result.value
        else:  # fall back to the groups' own proposals; the library engine drops what is invalid
            logger.warning("consolidation failed (%s); applying the groups' proposals directly", result.error)
            plan = proposals
        plan = _distinct([{**op, "sources": op.get("sources") or provenance(op, proposals)} for op in plan])
        # Whatever the teacher wrote, an experience's text is made of the step's lessons (and the experiences
        # it merges with): "The lesson has been updated to provide a more detailed guide …" never is.
        grounds = [lesson for a in state.get("advantages", []) if a.ok for lesson in a.value or []]
        grounds += [e.text for e in library.experiences]

        def ungrounded(op: dict[str, Any]) -> bool:
            return bool(op.get("text") and (unsupported_words(op["text"], grounds) or edit_report(op["text"])))

        dropped = [op for op in plan if ungrounded(op)]
        for op in dropped:
            logger.warning("step %d: %s dropped, its text is none of the lessons': %s", step, op.get("op"), op["text"])
        plan = [op for op in plan if not ungrounded(op)]
        if dropped and not plan:  # nothing left: the groups' own proposals, as when consolidation fails
            plan = [op for op in proposals if not ungrounded(op)]
        # with validated updates a lesson is judged by its validation, not by whether a small teacher's merge kept it
        restored = _lost_proposals(proposals, plan, library) if result.ok and self.settings.validation else []
        for op in restored:
            logger.warning("step %d: a proposal the consolidation lost is kept: %s %s", step, op["op"], op["text"])
        plan += restored
        self.run_dir.write_json(step_dir / "consolidation.json", {"proposals": proposals, "plan": plan,
                                                                  "dropped": dropped, "restored": restored,
                                                                  "fallback": not result.ok})
        return {"plan": plan}

    async def validate(self, state: StepState, config: RunnableConfig) -> dict[str, Any]:
        """Try the step's change on the validation tasks it touches against the library before it (same
        seeds); roll it back when the mean reward drops by more than the tolerance. With ``relevant``
        delivery each operation is judged on the tasks it touches, and only the ones that lowered
        theirs are rolled back (a small teacher's plan may hold a right lesson and a wrong one). With
        ``settle_samples``, a loss of one rollout is looked at again on more paired rollouts. Deleting or
        rewriting a lesson is kept only on a gain (:mod:`judging` decides from the paired rewards)."""
        checks = self.settings.validation
        plan = state.get("plan", [])
        if checks is None or not plan or not self.validation_tasks or self.grader is None:
            return {}
        step = state["step"]
        before = self.library_for(step)
        after = _applied(before, plan, step)
        digest_before, digest_after = before.digest(), after.digest()
        if digest_after == digest_before:
            return {}
        tasks, units = self.trial(before, after, plan, step)
        samples = range(checks.samples)
        old, new = await asyncio.gather(self._validation_rollouts(before, tasks, samples, config),
                                        self._validation_rollouts(after, tasks, samples, config))
        # A loss of one rollout is as likely noise as not, and a right lesson for tasks already solved can at best
        # tie: such an operation is tried on more paired rollouts of its tasks, and kept if it loses no more.
        settling = judging.to_settle(units, _rewards(old), _rewards(new), checks)
        settled = sorted(set().union(*(units[i].tasks for i in settling)))
        if settled:
            more = range(checks.samples, checks.samples + checks.settle_samples)
            again = [t for t in tasks if t.id in settled]
            extra_old, extra_new = await asyncio.gather(self._validation_rollouts(before, again, more, config),
                                                        self._validation_rollouts(after, again, more, config))
            old, new = old + extra_old, new + extra_new
        old_mean, new_mean = _mean([t.reward or 0.0 for t in old]), _mean([t.reward or 0.0 for t in new])
        keep, unproven = judging.judged(units, settling, _rewards(old), _rewards(new), checks)
        # the library before is usually the one an earlier step validated: its rollouts and their cost are that step's
        earlier = self._validated_before(step)
        old_fresh = [t for t in old if f"{digest_before}/{t.task_id}/{t.sample}" not in earlier]
        charged = [*old_fresh, *new]
        verdict = {"kept": len(keep) == len(plan), "mean_reward_before": old_mean, "mean_reward_after": new_mean,
                   "tasks": len(tasks), "rollouts": len(charged), "before_reused": len(old_fresh) < len(old),
                   "rolled_back": [op for op in plan if op not in keep], "settled_on": settled,
                   "unproven_removals": unproven,
                   "usage": TokenUsage.sum(c for t in charged for c in t.llm_calls).model_dump(),
                   "rollout_time_s": round(sum(t.wall_time_s for t in charged), 2)}
        self.run_dir.write_json(self.run_dir.step_dir(step) / "validation.json", {
            **verdict, "digest_before": digest_before, "digest_after": digest_after,
            "rewards_before": {f"{t.task_id}/{t.sample}": t.reward for t in old},
            "rewards_after": {f"{t.task_id}/{t.sample}": t.reward for t in new}})
        if len(keep) < len(plan):
            logger.warning("step %d: %d of %d operations rolled back (validation mean reward %.3f → %.3f)", step,
                           len(plan) - len(keep), len(plan), old_mean or 0.0, new_mean or 0.0)
        return {"plan": keep, "validation": verdict}

    def trial(self, before: ExperienceLibrary, after: ExperienceLibrary, plan: list[dict[str, Any]],
              step: int) -> tuple[list[Task], list[judging.Unit]]:
        """The validation tasks a plan is tried on, and its operations as they are judged on them."""
        checks = self.settings.validation
        touched = self._touched_by(before, after, plan, step)
        tasks = _round_robin(touched, checks.tasks)
        return tasks, judging.units_of(plan, [{t.id for t in ids} for ids in touched], {t.id for t in tasks},
                                       before, checks)

    def _touched_by(self, before: ExperienceLibrary, after: ExperienceLibrary, plan: list[dict[str, Any]],
                    step: int) -> list[list[Task]]:
        """The validation tasks, in their order, that the plan (``after``: ``before`` with it applied) can
        alter: one list for the whole plan when the agent is shown the whole library; with ``relevant``
        delivery, one per operation — the tasks whose selected lessons differ with and without it, the
        plan's other operations applied (the others' prompts, and so their paired rollouts, stay the same)."""
        delivery = self.settings.delivery
        if not delivery.relevant_only:
            return [list(self.validation_tasks)]
        questions = {t.id: question_of(self.contract.messages_of(self.contract.input_for(t))) or task_prompt(t)
                     for t in self.validation_tasks}

        def shown(library: ExperienceLibrary, task: Task) -> list[str]:
            return [e.text for e in matching_lessons(library.experiences, questions[task.id], delivery.limit)]

        whole = {t.id: shown(after, t) for t in self.validation_tasks}
        return [[t for t in self.validation_tasks if shown(without, t) != whole[t.id]]
                for without in (_applied(before, plan[:i] + plan[i + 1:], step) for i in range(len(plan)))]

    def _validated_before(self, step: int) -> set[str]:
        """``digest/task/sample`` of every validation rollout an earlier step rolled out (and was charged for)."""
        done: set[str] = set()
        for earlier in range(1, step):
            path = self.run_dir.step_dir(earlier) / "validation.json"
            record = self.run_dir.read_json(path) if path.exists() else {}
            for side in ("before", "after"):
                done |= {f"{record.get(f'digest_{side}')}/{key}" for key in record.get(f"rewards_{side}", {})}
        return done

    async def _validation_rollouts(self, library: ExperienceLibrary, tasks: list[Task], samples: range,
                                   config: RunnableConfig) -> list[Trajectory]:
        """The validation tasks' rollouts with ``library``, cached by its digest (the kept library's are
        the next step's "before"), graded."""
        if not tasks:  # a change no task's lessons see: no agent to build
            return []
        digest = library.digest()
        agent = self.agent_factory(library)
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(task: Task, sample: int) -> Trajectory:
            key = f"val-{digest}-{rollout_key(task.id, sample)}"
            cached = self.cached_rollout(key)
            if cached is not None:
                return cached
            async with gate:
                trajectory = await run_rollout(
                    agent, task, sample, seed=rollout_seed(self.settings.seed, 0, task.id, sample),
                    settings=self.rollout_settings(), library_step=library.step, library_digest=digest,
                    contract=self.contract, config=child_config(config, None, None, {"validation": digest}))
            if worth_caching(trajectory):
                self.run_dir.cache("rollout", key, trajectory.model_dump(mode="json"))
            return trajectory

        rollouts = await asyncio.gather(*(one(t, s) for t in tasks for s in samples))
        graded, _ = await asyncio.to_thread(
            grade_trajectories, rollouts, {t.id: t for t in tasks}, self.grader, self.run_dir,
            concurrency=self.settings.concurrency,
            key=lambda t: f"val-{digest}-{rollout_key(t.task_id, t.sample)}")
        return graded

    def snapshot(self, state: StepState) -> dict[str, Any]:
        step = state["step"]
        library = self.load_library()
        if library.step < step:  # not applied yet (a resumed run may have saved it already)
            report = library.apply(state.get("plan", []), step=step, strict=False)
            for rejected in report.rejected:
                logger.warning("step %d: op dropped: %s", step, rejected.reason)
            self.save_library(library)
        else:
            report = None
        step_dir = self.run_dir.step_dir(step)
        self.run_dir.write_json(step_dir / "library.json", library.at_step(step).model_dump(mode="json", exclude={"history"}))
        ledger = self.step_ledger(state)
        self.run_dir.write_json(step_dir / "ledger.json", ledger.model_dump(mode="json"))
        graded = state["graded"]
        summary = StepReport(
            step=step, tasks=len(state["tasks"]), rollouts=len(graded),
            failed_rollouts=sum(1 for t in graded if t.failed), groups_with_signal=len(state["kept"]),
            resampled=sum(1 for t in graded if t.sample >= self.settings.group_size) if not state.get("samples") else 0,
            mean_reward=_mean([t.reward for t in graded if t.reward is not None]),
            mean_tool_calls=_mean([len(t.tool_calls) for t in graded]),
            stage_failures=[StageFailure(stage=stage, task_id=item.task_id or "", error=item.error or "")
                            for stage, items in (("summaries", list(state.get("summaries", {}).values())),
                                                 ("advantages", state.get("advantages", [])),
                                                 ("group_ops", state.get("group_ops", [])))
                            for item in items if not item.ok],
            applied=[a.model_dump(mode="json") for a in report.applied] if report else "applied before resume",
            rejected=[r.model_dump(mode="json") for r in report.rejected] if report else [],
            evicted=[e.id for e in report.evicted] if report else [],
            library_size=len(library), validation=state.get("validation"))
        # written last: marks the step done
        self.run_dir.write_json(step_dir / "report.json", summary.model_dump(mode="json"))
        self.on_event(StepFinished(report=summary))
        return {"report": summary}

    def step_ledger(self, state: StepState) -> StepLedger:
        ledger = StepLedger(step=state["step"])
        for trajectory in state["graded"]:
            ledger.add("rollout", TokenUsage.sum(trajectory.llm_calls))
            ledger.rollout_time_s += trajectory.wall_time_s
        for stage, items in (("summarize", list(state.get("summaries", {}).values())),
                             ("advantage", state.get("advantages", [])),
                             ("group_ops", state.get("group_ops", []))):
            for item in items:
                ledger.add(stage, item.usage)
        started = self.run_dir.cached("started", f"step{state['step']}")
        if started:
            ledger.wall_time_s = round(time.time() - started["at"], 2)
        if state.get("validation"):
            ledger.add("validate", TokenUsage.model_validate(state["validation"]["usage"]))
        consolidation = self.run_dir.cached("consolidate", f"step{state['step']}")
        if consolidation:
            ledger.add("consolidate", TokenUsage.model_validate(consolidation["usage"]))
        for trajectory in state["graded"]:
            cached = self.run_dir.cached("grade", rollout_key(trajectory.task_id, trajectory.sample, state["step"]))
            if cached and cached.get("usage"):
                ledger.add("grade", TokenUsage.model_validate(cached["usage"]))
        return ledger

    # -------------------------------------------------------------- wiring
    def build(self, checkpointer: Any = None):
        graph = StateGraph(StepState)
        graph.add_node("rollout", self.rollout)
        graph.add_node("grade", self.grade)
        graph.add_node("select_groups", self.select_groups)
        graph.add_node("summarize", self.summarize)
        graph.add_node("group_advantage", self.group_advantage)
        graph.add_node("group_ops", self.group_ops)
        graph.add_node("consolidate", self.consolidate)
        graph.add_node("validate", self.validate)
        graph.add_node("snapshot", self.snapshot)
        graph.add_conditional_edges(START, self.fan_out_rollouts, ["rollout"])
        graph.add_edge("rollout", "grade")
        graph.add_edge("grade", "select_groups")
        graph.add_conditional_edges("select_groups", self.after_selection, ["rollout", "summarize", "group_advantage"])
        graph.add_edge("summarize", "group_advantage")
        graph.add_edge("group_advantage", "group_ops")
        graph.add_edge("group_ops", "consolidate")
        graph.add_edge("consolidate", "validate")
        graph.add_edge("validate", "snapshot")
        graph.add_edge("snapshot", END)
        return graph.compile(checkpointer=checkpointer, name="training_free_grpo_step")


def provenance(op: dict[str, Any], proposals: list[dict[str, Any]]) -> list[str]:
    """The groups a consolidated op came from: those whose proposals target its id or say nearly the same."""
    text = op.get("text") or ""
    sources = [source for proposal in proposals for source in proposal["sources"]
               if (op.get("id") and proposal.get("id") == op.get("id"))
               or (text and proposal.get("text") and fuzz.token_set_ratio(text, proposal["text"]) >= 70)]
    return list(dict.fromkeys(sources)) or list(dict.fromkeys(s for p in proposals for s in p["sources"]))


def _distinct(plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plan with each operation once, its repeats counted in its support: the 1.5B teacher wrote the same
    three operations five times, and validation, leaving one copy out at a time, saw no task touched."""
    merged: dict[tuple, dict[str, Any]] = {}
    for op in plan:
        key = (str(op.get("op", "")).upper(), op.get("id"), op.get("text"))
        if key in merged:
            first = merged[key]
            first["support"] = int(first.get("support") or 1) + int(op.get("support") or 1)
            first["sources"] = list(dict.fromkeys([*first.get("sources", []), *op.get("sources", [])]))
        else:
            merged[key] = dict(op)
    return list(merged.values())


def _lost_proposals(proposals: list[dict[str, Any]], plan: list[dict[str, Any]],
                    library: ExperienceLibrary) -> list[dict[str, Any]]:
    """The groups' ADD and UPDATE proposals that neither the plan nor the library holds, once each (their
    repeats' sources merged): told to merge a step's ten proposals, the 1.5B teacher wrote three updates
    of what the library already said, and the lessons for two kinds of task were gone unvalidated."""
    held = [op["text"] for op in plan if op.get("text")] + [e.text for e in library.experiences]
    lost: list[dict[str, Any]] = []
    for op in proposals:
        if str(op.get("op", "")).upper() not in ("ADD", "UPDATE") or not op.get("text") or carried_by(op["text"], held):
            continue
        same = next((kept for kept in lost if carried_by(op["text"], [kept["text"]])), None)
        if same is None:
            lost.append({"op": "ADD", "text": op["text"], "sources": list(op.get("sources", []))})
        else:
            same["sources"] = list(dict.fromkeys([*same["sources"], *op.get("sources", [])]))
    return lost


def _rewards(rollouts: list[Trajectory]) -> judging.Rewards:
    """Rewards keyed ``task/sample``, as ``validation.json`` records them (an ungraded rollout as 0)."""
    return {f"{t.task_id}/{t.sample}": t.reward or 0.0 for t in rollouts}


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _applied(library: ExperienceLibrary, plan: list[dict[str, Any]], step: int) -> ExperienceLibrary:
    changed = library.model_copy(deep=True)
    changed.apply(plan, step=step, strict=False)
    return changed


def _contrast(members: list[Trajectory], size: int) -> list[Trajectory]:
    """``size`` of a group's rollouts, every reward it has among them: a resampled group is cut back to G,
    so the teacher compares as many attempts as in any other group (with the rare outcome in them)."""
    ranked = sorted(members, key=lambda t: (t.failed, t.sample))
    chosen: list[Trajectory] = []
    for trajectory in ranked:
        if all((c.reward or 0.0) != (trajectory.reward or 0.0) for c in chosen):
            chosen.append(trajectory)
    chosen = chosen[:size] + [t for t in ranked if t not in chosen][: max(0, size - len(chosen))]
    return sorted(chosen, key=lambda t: t.sample)


def _round_robin(touched: list[list[Task]], cap: int) -> list[Task]:
    """Up to ``cap`` distinct tasks, taking each list's next task in turn, so every operation is tried."""
    chosen: list[Task] = []
    for rank in range(max((len(ids) for ids in touched), default=0)):
        for ids in touched:
            if rank < len(ids) and ids[rank] not in chosen and len(chosen) < cap:
                chosen.append(ids[rank])
    return chosen
