"""``TrainingFreeGRPO``: epochs of shuffled batches, one checkpointed step graph per batch."""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.store.base import BaseStore

from tfgrpo_agents._async import run_sync
from tfgrpo_agents.core.contract import AgentContract
from tfgrpo_agents.core.rewards import Grader, as_grader
from tfgrpo_agents.core.rollout import RolloutsFailedError, rollout_seed
from tfgrpo_agents.core.rundir import RunDir, rollout_key
from tfgrpo_agents.core.runner import RolloutBatch, RolloutJob, RolloutRunner
from tfgrpo_agents.core.tasks import Task
from tfgrpo_agents.core.trajectory import Trajectory, read_trajectories
from tfgrpo_agents.errors import TfgrpoError
from tfgrpo_agents.experience import (
    ExperienceLibrary,
    LibraryLimits,
    LibraryMeta,
    load_library,
    save_library,
)
from tfgrpo_agents.learning.events import (
    Event,
    RolloutFinished,
    RunStarted,
    SamplingIgnored,
    StepSkipped,
    StepStarted,
)
from tfgrpo_agents.learning.graph import CHECKPOINT_TYPES, AgentFactory, StepGraph
from tfgrpo_agents.learning.ledger import Ledger, Price, StepLedger, load_prices
from tfgrpo_agents.learning.publish import StepPublisher, open_publisher
from tfgrpo_agents.learning.reflection import Reflector
from tfgrpo_agents.learning.results import LearnResult, StepReport
from tfgrpo_agents.learning.settings import LearnSettings

logger = logging.getLogger(__name__)


class RunMismatchError(TfgrpoError, ValueError):
    """A resume was asked for with tasks or settings that differ from the saved run."""


def schedule(tasks: Sequence[Task], settings: LearnSettings) -> list[tuple[int, int, list[Task]]]:
    """``(step, epoch, batch)`` for the whole run: each epoch reshuffles with a seed of its own."""
    plan = []
    step = 0
    for epoch in range(1, settings.epochs + 1):
        order = list(tasks)
        random.Random(f"{settings.seed}:{epoch}").shuffle(order)
        for start in range(0, len(order), settings.batch_size):
            step += 1
            plan.append((step, epoch, order[start:start + settings.batch_size]))
    return plan


def validation_batch(tasks: Sequence[Task], settings: LearnSettings) -> list[Task]:
    """The training tasks a validated update may be tried on, in the order they are tried, drawn once per
    run with its seed (none when off): ``validation.tasks`` of them first — every change to a library
    shown whole is tried on those — then the others, for a change that only the tasks whose lessons it
    alters see (``relevant`` delivery): it is tried on the first ``validation.tasks`` of those."""
    if settings.validation is None:
        return []
    first = random.Random(f"{settings.seed}:validation").sample(list(tasks), min(settings.validation.tasks, len(tasks)))
    rest = [t for t in tasks if t not in first]
    random.Random(f"{settings.seed}:validation-rest").shuffle(rest)
    return first + rest


class TrainingFreeGRPO:
    """Learn an experience library for an agent from grouped rollouts, without touching weights.

    ``agent_factory(library)`` returns an agent that uses the given library: any compiled
    LangGraph graph (``create_agent`` with :class:`~tfgrpo_agents.agents.ExperienceMiddleware`,
    a custom ``StateGraph``, :func:`~tfgrpo_agents.agents.build_react_agent`) or any Runnable.
    ``input_mapper(task)``, ``output_mapper(state)`` and ``messages_key`` adapt other state
    shapes (see :mod:`tfgrpo_agents.core.contract`). With ``store`` (a ``BaseStore`` or a URL:
    ``postgresql://…``, ``sqlite:///…``) every finished step's library is also published to that
    store (namespace ``store_namespace``, default ``("tfgrpo", <domain>)``), where deployed agents
    read it through :class:`~tfgrpo_agents.experience.StoreSource`. With ``runner`` (see
    :mod:`tfgrpo_agents.core.runner`) each step's fresh rollouts run there first, e.g. in worker
    processes. With ``search`` (a query → result text function, e.g. the agent's own search tool) and
    ``settings.look_up_failures``, a group whose every attempt failed is compared with where the reference
    answer is. Each rollout's temperature and seed
    reach the agent through its config (see :mod:`tfgrpo_agents.agents.sampling`); a run whose
    model calls do not receive them is warned about, because identical rollouts teach nothing.
    """

    def __init__(
        self,
        *,
        agent_factory: AgentFactory | None = None,
        teacher: BaseChatModel,
        run_dir: str | os.PathLike[str],
        settings: LearnSettings | None = None,
        grader: Grader | Callable[..., Any] | None = None,
        initial_library: ExperienceLibrary | None = None,
        limits: LibraryLimits | None = None,
        prices: dict[str, Price] | str | os.PathLike[str] | None = None,
        on_event: Callable[[Event], None] | None = None,
        input_mapper: Callable[[Task], Any] | None = None,
        output_mapper: Callable[[Mapping[str, Any]], Any] | None = None,
        messages_key: str | None = None,
        store: BaseStore | str | None = None,
        store_namespace: Sequence[str] | None = None,
        runner: RolloutRunner | None = None,
        search: Callable[[str], str] | None = None,
    ) -> None:
        self.settings = settings or LearnSettings()
        if self.settings.look_up_failures and search is None:
            raise ValueError("look_up_failures needs search=: a function from a query to result text "
                             "(e.g. the agent's own search tool)")
        self.search = search
        self.contract = AgentContract(input_mapper=input_mapper, output_mapper=output_mapper,
                                      messages_key=messages_key)
        self.run_dir = RunDir(run_dir)
        self.agent_factory = agent_factory
        self._validation_tasks: list[Task] = []  # set by afit (validated updates)
        self.teacher = teacher
        self.grader = as_grader(grader)
        self.initial_library = initial_library
        self.limits = limits
        self.prices = prices if isinstance(prices, dict) else load_prices(prices)
        self.on_event = on_event
        self.store, self.store_namespace = store, store_namespace
        self.runner = runner
        reflection = self.settings.reflection.model_copy(update={"ground_truth": self.settings.ground_truth and self.grader is not None})
        bounds = limits or LibraryLimits()  # the one source of the word cap and the library size
        reflection = reflection.model_copy(update={"word_cap": bounds.word_cap,
                                                   "max_experiences": bounds.max_experiences
                                                   or reflection.max_experiences})
        self.reflector = Reflector(teacher, reflection)

    @classmethod
    def resume(cls, run_dir: str | os.PathLike[str], *, teacher: BaseChatModel,
               agent_factory: AgentFactory | None = None, **options: Any) -> TrainingFreeGRPO:
        """A learner for an existing run directory, with the settings it was started with
        (``learner.fit(learner.saved_tasks())`` then finishes it)."""
        directory = RunDir(run_dir)
        if not directory.config_path.exists():
            raise RunMismatchError(f"{directory.root} holds no run (no config.json)")
        settings = LearnSettings.model_validate(directory.read_json(directory.config_path))
        return cls(agent_factory=agent_factory, teacher=teacher, run_dir=run_dir, settings=settings, **options)

    def saved_tasks(self) -> list[Task]:
        """The tasks this run was started with (``tasks.jsonl`` in the run directory)."""
        path = self.run_dir.tasks_path
        return [Task.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    # -------------------------------------------------------------- library on disk
    def load_library(self) -> ExperienceLibrary:
        if self.run_dir.library_path.exists():
            return load_library(self.run_dir.library_path)
        if self.initial_library is not None:
            return self.initial_library.as_seed()
        meta = LibraryMeta(model_id=self.settings.model_id, domain=self.settings.domain,
                           description=f"Training-Free GRPO run {self.settings.name}")
        return ExperienceLibrary(meta=meta, limits=self.limits or LibraryLimits())

    def save_library(self, library: ExperienceLibrary) -> None:
        save_library(library, self.run_dir.library_path)

    # -------------------------------------------------------------- run
    def _check_resume(self, tasks: Sequence[Task]) -> None:
        path = self.run_dir.config_path
        saved_tasks = self.run_dir.tasks_path
        if path.exists():
            saved = LearnSettings.model_validate(self.run_dir.read_json(path))
            keys = ("group_size", "epochs", "batch_size", "seed", "ground_truth")
            changed = [k for k in keys if getattr(saved, k) != getattr(self.settings, k)]
            if changed:
                raise RunMismatchError(f"{self.run_dir.root} was started with different {', '.join(changed)}; "
                                       "use a new --out directory or the original settings")
            if saved_tasks.exists():
                ids = [json.loads(line)["id"] for line in saved_tasks.read_text().splitlines() if line.strip()]
                if ids != [t.id for t in tasks]:
                    raise RunMismatchError(f"{self.run_dir.root} was started with other tasks; resume with the same file")
        else:
            self.run_dir.write_json(path, self.settings.model_dump(mode="json"))
            self.run_dir.root.mkdir(parents=True, exist_ok=True)
            saved_tasks.write_text("".join(t.model_dump_json() + "\n" for t in tasks), encoding="utf-8")

    async def afit(self, tasks: Sequence[Task], config: RunnableConfig | None = None) -> LearnResult:
        """Run (or resume) every step; returns the result: the learned library (also in
        ``run_dir/library.json``), every step's report and the ledger summary.

        ``config`` (callbacks, tags, metadata) is passed on: each step is one run named
        ``tfgrpo step N`` with its rollouts, grading and teacher calls nested under it.
        """
        if not tasks:
            raise ValueError("no tasks to learn from")
        self._prepare(tasks)
        self._validation_tasks = validation_batch(tasks, self.settings)
        plan = schedule(tasks, self.settings)
        await self._run_steps([(step, epoch, batch, None) for step, epoch, batch in plan], config)
        return self.result()

    def _prepare(self, tasks: Sequence[Task]) -> None:
        """Before any step: the run directory matches (or is started), the teacher knows the tasks,
        the initial library is on disk."""
        self._check_resume(tasks)
        self.reflector.learn_vocabulary(tasks)
        if not self.run_dir.library_path.exists():
            self.save_library(self.load_library())

    async def _run_steps(self, plan: list[tuple[int, int, list[Task], dict[str, int] | None]],
                         config: RunnableConfig | None) -> None:
        """Run (or resume) each planned step through the checkpointed step graph."""
        steps = StepGraph(settings=self.settings, run_dir=self.run_dir, agent_factory=self.agent_factory,
                          reflector=self.reflector, grader=self.grader, library_loader=self.load_library,
                          library_saver=self.save_library, on_event=self.on_event, contract=self.contract,
                          validation_tasks=self._validation_tasks,
                          search=self.search if self.settings.look_up_failures else None)
        self._emit(RunStarted(steps=len(plan), rollouts_per_step=[
            sum(samples.values()) if samples else len(b) * self.settings.group_size for _, _, b, samples in plan]))
        publishing = open_publisher(self.store, namespace=self.store_namespace, domain=self.settings.domain,
                                    model_id=self.settings.model_id, run_dir=self.run_dir.root)
        async with publishing as publisher, \
                AsyncSqliteSaver.from_conn_string(str(self.run_dir.checkpoints_path)) as checkpointer:
            checkpointer.serde = JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)
            graph = steps.build(checkpointer)
            finished = self.run_dir.completed_steps()
            if publisher and finished:  # a run killed between a step and its publishing catches up
                await self._publish(publisher, max(finished))
            for step, epoch, batch, samples in plan:
                if self.run_dir.is_done(step):
                    self._emit(StepSkipped(step=step))
                    continue
                self._emit(StepStarted(step=step, epoch=epoch, tasks=len(batch)))
                if self.runner is not None and not samples:
                    await self._run_elsewhere(steps, step, batch)
                user = dict(config or {})
                step_config = {**user, "configurable": {**(user.get("configurable") or {}), "thread_id": f"step-{step}"},
                               "max_concurrency": self.settings.concurrency, "recursion_limit": 50,
                               "run_name": f"tfgrpo step {step}", "tags": [*(user.get("tags") or []), "tfgrpo:step"],
                               "metadata": {**(user.get("metadata") or {}), "step": step, "epoch": epoch,
                                            "run": self.settings.name,
                                            "library_digest": steps.library_for(step).digest()}}
                snapshot = await graph.aget_state(step_config)
                # Checkpoints are written before each next superstep starts ("sync"), so a kill never
                # leaves writes of a step the saved checkpoint does not know about.
                try:
                    if snapshot.next:
                        await graph.ainvoke(None, step_config, durability="sync")  # resume where it stopped
                    else:
                        payload = {"step": step, "tasks": list(batch)}
                        if samples:
                            payload["samples"] = samples
                        await graph.ainvoke(payload, step_config, durability="sync")
                except RolloutsFailedError:
                    # Forget the step's checkpoint and its failed rollouts, so that a resume (once the
                    # endpoint answers, or the agent is fixed) runs them again instead of replaying failures.
                    await checkpointer.adelete_thread(f"step-{step}")
                    self.run_dir.forget("rollout", [rollout_key(t.id, n, step) for t in batch
                                                    for n in range((samples or {}).get(t.id, self.settings.group_size))]
                                        if not samples else [])
                    raise
                self._check_sampling(step)
                if publisher:
                    await self._publish(publisher, step)

    async def alearn_from_trajectories(self, trajectories: Sequence[Trajectory],
                                       config: RunnableConfig | None = None) -> LearnResult:
        """Run the reflection stages over recorded rollouts (production traces, a LangSmith export,
        an earlier evaluation) instead of fresh ones: grouped by task, ``batch_size`` groups a step.

        Each trajectory needs ``task_id``, ``question`` and, for the groups to be compared, a
        ``reward`` (or a ``reference`` and a grader). No agent is run.
        """
        groups: dict[str, list[Trajectory]] = {}
        for trajectory in trajectories:
            groups.setdefault(trajectory.task_id, []).append(trajectory)
        if not groups:
            raise ValueError("no trajectories to learn from")
        tasks = [Task(id=task_id, question=members[0].question, answer=members[0].reference)
                 for task_id, members in groups.items()]
        rewarded = all(t.reward is not None and t.reference is not None for t in trajectories)
        if self.grader is None and rewarded and self.settings.ground_truth:  # the recorded rewards stand in
            self.reflector.settings = self.reflector.settings.model_copy(update={"ground_truth": True})
        self._prepare(tasks)  # before the recorded rollouts are written into the run directory
        plan = []
        for index in range(0, len(tasks), self.settings.batch_size):
            step, batch = index // self.settings.batch_size + 1, tasks[index:index + self.settings.batch_size]
            for task in batch:  # the recorded rollouts stand in the cache where fresh ones would be written
                for sample, trajectory in enumerate(groups[task.id]):
                    key = rollout_key(task.id, sample, step)
                    if self.run_dir.cached("rollout", key) is None:
                        self.run_dir.cache("rollout", key, trajectory.model_copy(update={"sample": sample})
                                           .model_dump(mode="json"))
            plan.append((step, 1, batch, {task.id: len(groups[task.id]) for task in batch}))
        await self._run_steps(plan, config)
        return self.result()

    def learn_from_trajectories(self, trajectories: Sequence[Trajectory],
                                config: RunnableConfig | None = None) -> LearnResult:
        """:meth:`alearn_from_trajectories` from sync code."""
        return run_sync(self.alearn_from_trajectories(trajectories, config))

    def fit(self, tasks: Sequence[Task], config: RunnableConfig | None = None) -> LearnResult:
        """:meth:`afit` from sync code; also from inside a running event loop (Jupyter), in a worker thread."""
        return run_sync(self.afit(tasks, config))

    async def _run_elsewhere(self, steps: StepGraph, step: int, batch: list[Task]) -> None:
        """The step's rollouts that are not cached yet, through the runner (into the same cache)."""
        todo = [RolloutJob(task=task, sample=sample, seed=rollout_seed(self.settings.seed, step, task.id, sample),
                           key=key)
                for task in batch for sample in range(self.settings.group_size)
                if steps.cached_rollout(key := rollout_key(task.id, sample, step)) is None]
        if todo:
            await self.runner.fill(
                RolloutBatch(jobs=todo, library=steps.library_for(step), placement=self.settings.placement,
                             delivery=self.settings.delivery, settings=steps.rollout_settings(), run_dir=str(self.run_dir.root),
                             concurrency=self.settings.concurrency),
                # a failed one is not cached: the step graph runs it again here and reports it then
                lambda key, failed: None if failed else self._emit(RolloutFinished(key=key, failed=False)))

    async def _publish(self, publisher: StepPublisher, step: int) -> None:
        self._emit(await publisher.publish(self.load_library(), step))

    def _check_sampling(self, step: int) -> None:
        """Warn when the agent's model calls did not get the rollouts' temperature: the group is then
        G copies of one rollout and nothing is learned (a ``create_agent`` app without
        ExperienceMiddleware or SamplingMiddleware, a custom graph ignoring ``sampling_settings``)."""
        path = self.run_dir.step_dir(step) / "trajectories.jsonl"
        if self.settings.group_size < 2 or not path.exists():
            return
        seen = [t.sampling_seen for t in read_trajectories(path) if t.sampling_seen]
        wanted = self.settings.temperature
        if seen and all(s.get("temperature") != wanted for s in seen):
            message = (f"step {step}: the agent's model was called at temperature {seen[0].get('temperature')}, "
                       f"not the rollouts' {wanted}, so the {self.settings.group_size} rollouts of a group may be "
                       "identical; add ExperienceMiddleware or SamplingMiddleware to a create_agent app, or bind "
                       "sampling_settings(config) in a custom graph")
            logger.warning(message)
            self._emit(SamplingIgnored(step=step, message=message))

    def result(self) -> LearnResult:
        """The run as it stands: the library, every finished step's report, the ledger summary."""
        reports = [StepReport.model_validate(self.run_dir.read_json(self.run_dir.step_dir(step) / "report.json"))
                   for step in self.run_dir.completed_steps()]
        return LearnResult(library=self.load_library(), run_dir=str(self.run_dir.root), reports=reports,
                           summary=self.write_ledger())

    def ledger(self) -> Ledger:
        ledger = Ledger(policy_model=self.settings.model_id, teacher_model=self.settings.teacher_model_id)
        for step in self.run_dir.completed_steps():
            ledger.steps.append(StepLedger.model_validate(self.run_dir.read_json(self.run_dir.step_dir(step) / "ledger.json")))
        return ledger

    def write_ledger(self) -> dict[str, Any]:
        ledger = self.ledger()
        summary = ledger.summary(self.prices)
        self.run_dir.write_json(self.run_dir.ledger_path, {"summary": summary, **ledger.model_dump(mode="json")})
        return summary

    def _emit(self, event: Event) -> None:
        if self.on_event:
            self.on_event(event)

