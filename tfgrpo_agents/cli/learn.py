"""``tfgrpo learn``: learn a library (resumable), from fresh rollouts or recorded ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tfgrpo_agents.cli.common import (
    PLACEMENTS,
    STRUCTURED_METHODS,
    DeliveryOpt,
    JsonOpt,
    LearnOptions,
    RpsOpt,
    WorkersOpt,
    _at_least,
    _concurrency,
    _domain,
    _existing,
    _experiment,
    _fail,
    _json_mode,
    _namespace_labels,
    _one_of,
    _opened,
    _positive,
    _print_json,
    _print_library,
    _progress,
    _runner,
    app,
    console,
    validation_verdict,
)


@app.command("learn")
def learn(
    tasks: Annotated[Path | None, typer.Option(help="Task file (jsonl or json).")] = None,
    agent: Annotated[str, typer.Option(help="Agent set-up: math-reason (reasons, then runs code; the default), math (code at once), web, web-walk (browse only), qa, or "
                                            "package.module:factory for your own "
                                            "agent (factory(library) returns it).")] = "math-reason",
    model: Annotated[str | None, typer.Option(help="Model name at the endpoint, or local / local-0.5b.")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint (key from OPENAI_API_KEY).")] = None,
    teacher_model: Annotated[str | None, typer.Option(help="Teacher model (default: the policy model at temperature 0).")] = None,
    teacher_base_url: Annotated[str | None, typer.Option(help="Teacher endpoint (default: --base-url).")] = None,
    group_size: Annotated[int, typer.Option(help="G: rollouts per task.", callback=_at_least(1))] = 5,
    epochs: Annotated[int, typer.Option(help="Passes over the tasks.", callback=_at_least(1))] = 3,
    batch_size: Annotated[int, typer.Option(help="Tasks per learning step.", callback=_at_least(1))] = 8,
    concurrency: Annotated[int | None, typer.Option(
        help="Rollouts and teacher calls in flight at once (default: 4; with the embedded model, its server's slots).",
        callback=_at_least(1))] = None,
    temperature: Annotated[float, typer.Option(help="Rollout temperature.", callback=_at_least(0))] = 0.7,
    max_steps: Annotated[int, typer.Option(help="The agent's tool-step limit.", callback=_at_least(1))] = 8,
    seed: Annotated[int, typer.Option(help="Seed for shuffling and per-rollout seeds.")] = 0,
    grader: Annotated[str | None, typer.Option(help="math, exact, short, judge or package.module:function "
                                                   "(default: the agent's).")] = None,
    no_ground_truth: Annotated[bool, typer.Option("--no-ground-truth", help="Learn without reference answers.")] = False,
    placement: Annotated[str, typer.Option(help="Where experiences go: system or user.",
                                           callback=_one_of(*PLACEMENTS))] = "system",
    delivery: DeliveryOpt = "all",
    validate: Annotated[int, typer.Option(help="Validated updates: keep a step's change only if it does not lower "
                                               "the mean reward on N training tasks (0: off, as in the paper).",
                                          callback=_at_least(0))] = 0,
    validate_samples: Annotated[int, typer.Option(help="Validated updates: rollouts per validation task (one is "
                                                       "noisy with small models).", callback=_at_least(1))] = 1,
    validate_settle: Annotated[int, typer.Option(help="Validated updates: an operation that lost by one rollout gets "
                                                      "N more paired rollouts a task; kept if it loses no more.",
                                                 callback=_at_least(0))] = 0,
    look_up_failures: Annotated[bool, typer.Option(
        "--look-up-failures", help="web agent: a group whose every rollout failed is compared with where the "
                                   "answer is, looked up with the agent's search tool.")] = False,
    evidence_lessons: Annotated[bool, typer.Option(
        "--evidence-lessons", help="a group whose every lesson the teacher wrote was refused gets the lesson "
                                   "its evidence states: the question's kind, the words before the answer, its "
                                   "page.")] = False,
    resample_flat: Annotated[int, typer.Option(help="N more rollouts, once, for a task whose G rewards are all "
                                                    "equal (0: such a group is skipped, as in the paper).",
                                               callback=_at_least(0))] = 0,
    site: Annotated[Path | None, typer.Option(help="web agent: a site folder or .tar.gz to serve locally.",
                                              callback=_existing)] = None,
    public_url: Annotated[str | None, typer.Option(help="web agent: the site's public address, mapped to the local copy.")] = None,
    limit: Annotated[int | None, typer.Option(help="Use only the first N tasks.", callback=_at_least(1))] = None,
    rollout_timeout: Annotated[float, typer.Option(help="Seconds before a rollout is given up.",
                                                   callback=_positive)] = 300.0,
    structured_method: Annotated[str, typer.Option(help="text, json_mode, json_schema or function_calling.",
                                                   callback=_one_of(*STRUCTURED_METHODS))] = "text",
    summaries: Annotated[str, typer.Option(help="Rollout summaries: teacher (a teacher call each) or trace (built "
                                                "from the recorded trace; no tokens, faithful with small teachers).",
                                           callback=_one_of("teacher", "trace"))] = "teacher",
    prices: Annotated[Path | None, typer.Option(help="JSON price table overriding the built-in one.",
                                                callback=_existing)] = None,
    store: Annotated[str | None, typer.Option(help="Also publish each step's library to this store, where deployed "
                                                   "agents read it: postgresql://user@host/db, sqlite:///file.db or "
                                                   "a file path (a password is never saved: use PGPASSWORD).")] = None,
    store_namespace: Annotated[str | None, typer.Option(help="Namespace in the store, labels separated by / "
                                                             "(default: tfgrpo/<agent>).")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory (default: runs/<agent>-<time>).")] = None,
    resume: Annotated[Path | None, typer.Option(help="Resume the run in this directory.")] = None,
    from_trajectories: Annotated[Path | None, typer.Option(
        help="Learn from recorded rollouts (trajectories.jsonl, or a JSON list of runs with messages and rewards) "
             "instead of running the agent.", callback=_existing)] = None,
    requests_per_second: RpsOpt = None,
    workers: WorkersOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Learn an experience library with Training-Free GRPO (resumable: rerun with --resume DIR)."""
    import logging
    import time

    from tfgrpo_agents.agents import LessonDelivery
    from tfgrpo_agents.experience.connect import store_kind, without_password
    from tfgrpo_agents.learning import (
        LearnSettings,
        RunDir,
        TaskFileError,
        ValidationSettings,
        load_prices,
        load_recorded,
        load_tasks,
    )

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _json_mode(json_output)
    if resume is not None:
        run_dir = resume
        try:
            saved = LearnOptions.model_validate_json(RunDir(run_dir).cli_options_path.read_text())
            settings = LearnSettings.model_validate_json(RunDir(run_dir).config_path.read_text())
        except (OSError, ValueError) as exc:
            _fail(f"cannot resume from {run_dir}: {exc}")
        options = saved.model_copy(update={k: v for k, v in {"base_url": base_url, "teacher_base_url": teacher_base_url,
                                                              "requests_per_second": requests_per_second,
                                                              "store": store}.items() if v})
    else:
        if (tasks is None and from_trajectories is None) or model is None:
            _fail("--tasks (or --from-trajectories) and --model are required (or --resume a run directory)")
        domain = _domain(agent)
        run_dir = out or Path("runs") / f"{agent}-{time.strftime('%Y%m%d-%H%M%S')}"
        if RunDir(run_dir).config_path.exists():
            _fail(f"{run_dir} already holds a run; resume it with --resume {run_dir} or choose another --out")
        options = LearnOptions(tasks=str(tasks or ""), agent=agent, model=model, base_url=base_url,
                               from_trajectories=str(from_trajectories) if from_trajectories else None,
                               teacher_model=teacher_model, teacher_base_url=teacher_base_url, grader=grader,
                               site=str(site) if site else None, public_url=public_url,
                               structured_method=structured_method, limit=limit,
                               requests_per_second=requests_per_second, store=store,
                               store_namespace=_namespace_labels(store_namespace, "--store-namespace"))
        settings = LearnSettings(
            name=run_dir.name, domain=agent, group_size=group_size, epochs=epochs, batch_size=batch_size, seed=seed,
            temperature=temperature, max_steps=max_steps, rollout_timeout_s=rollout_timeout,
            concurrency=_concurrency(concurrency, model, base_url),
            ground_truth=not no_ground_truth, placement=placement, delivery=LessonDelivery.parse(delivery),
            resample_flat=resample_flat, look_up_failures=look_up_failures,
            validation=ValidationSettings(tasks=validate, samples=validate_samples, settle_samples=validate_settle)
            if validate else None,
            model_id=model, teacher_model_id=teacher_model or model,
            reflection=domain.reflection(method=structured_method, summaries=summaries,
                                         evidence_lessons=evidence_lessons),
        )
    try:  # checked before anything is written
        if options.from_trajectories:
            task_list = load_recorded(options.from_trajectories)
        else:
            task_list = load_tasks(options.tasks)[: options.limit]
        price_table = load_prices(prices)
        if options.store:
            store_kind(options.store)
    except (TaskFileError, ValueError, OSError) as exc:
        _fail(str(exc))
    if resume is None:
        from tfgrpo_agents._atomic import atomic_write_text

        saved_options = options.model_copy(update={"store": without_password(options.store) if options.store else None})
        atomic_write_text(RunDir(run_dir).cli_options_path, saved_options.model_dump_json(indent=2))
    _run_learning(run_dir, settings, options, task_list, price_table, json_output, workers)


def _run_learning(run_dir: Path, settings, options: LearnOptions, task_list, prices,
                  json_output: bool = False, workers: int | None = None) -> None:
    from tfgrpo_agents.experience.connect import StoreUrlError
    from tfgrpo_agents.learning import RolloutsFailedError
    from tfgrpo_agents.learning.events import (
        Event,
        GroupsResampled,
        LibraryPublished,
        RolloutFinished,
        RunStarted,
        StepFinished,
        StepSkipped,
        StepStarted,
        TeacherCallFinished,
    )

    experiment = _experiment(options, settings.temperature, settings.max_steps, options.grader, settings.placement,
                             workers)
    progress = _progress()
    bars: dict[str, Any] = {}

    def on_event(event: Event) -> None:
        if isinstance(event, RunStarted):
            bars["total"] = sum(event.rollouts_per_step)
            bars["rollouts"] = progress.add_task("rollouts", total=bars["total"])
            bars["steps"] = progress.add_task("steps", total=event.steps)
            bars["teacher"] = progress.add_task("teacher calls", total=None)
            bars["per_step"] = dict(enumerate(event.rollouts_per_step, start=1))
        elif isinstance(event, StepSkipped):
            progress.advance(bars["steps"])
            progress.advance(bars["rollouts"], bars["per_step"][event.step])
        elif isinstance(event, StepStarted):
            progress.update(bars["steps"], description=f"step {event.step} (epoch {event.epoch})")
        elif isinstance(event, RolloutFinished):
            progress.advance(bars["rollouts"])
        elif isinstance(event, GroupsResampled):
            bars["total"] += event.rollouts
            progress.update(bars["rollouts"], total=bars["total"])
        elif isinstance(event, TeacherCallFinished):
            progress.advance(bars["teacher"])
        elif isinstance(event, LibraryPublished):
            console.print(f"step {event.step}: library {event.outcome} in the store at {'/'.join(event.namespace)} "
                          f"(revision {event.revision})")
        elif isinstance(event, StepFinished):
            report = event.report
            progress.advance(bars["steps"])
            console.print(f"step {report.step}: mean reward {report.mean_reward}, groups with signal "
                          f"{report.groups_with_signal}/{report.tasks}, library {report.library_size} experiences")
            if report.validation:
                console.print(f"step {report.step}: {validation_verdict(report.validation)}")

    learner = experiment.learner(settings, run_dir, prices=prices, on_event=on_event, store=options.store,
                                 store_namespace=options.store_namespace,
                                 runner=None if options.from_trajectories else _runner(experiment, workers,
                                                                                       settings.concurrency))
    _opened(experiment)
    if settings.look_up_failures and experiment.search_tool() is None:
        experiment.__exit__(None, None, None)
        _fail(f"--look-up-failures looks answers up with the agent's web_search tool; the {options.agent} agent "
              "has none")
    try:
        with progress:
            if options.from_trajectories:
                result = learner.learn_from_trajectories(task_list)
            else:
                result = learner.fit(task_list)
    except RolloutsFailedError as exc:
        _fail(f"{exc}; the run can be resumed with --resume {run_dir}", code=1)
    except StoreUrlError as exc:
        _fail(f"{exc}; the run can be resumed with --resume {run_dir} (and --store)", code=1)
    finally:
        experiment.__exit__(None, None, None)
    library, summary = result.library, result.summary
    if json_output:
        _print_json({"run_dir": str(run_dir), "library_path": str(run_dir / "library.json"), "step": library.step,
                     "experiences": [e.model_dump(mode="json") for e in library.experiences], "cost": summary})
        return
    table = Table(title="learning cost")
    for column in ("stage", "input tokens", "output tokens", "calls", "dollars"):
        table.add_column(column)
    for stage, usage in summary["tokens_by_stage"].items():
        if not usage["calls"]:
            continue
        table.add_row(stage, str(usage["input"]), str(usage["output"]), str(usage["calls"]),
                      f"{summary['dollars_by_stage'].get(stage, 0):.4f}")
    console.print(table)
    console.print(f"reflection ÷ rollout tokens: {summary['reflection_to_rollout_ratio']}  ·  "
                  f"total ${summary['dollars_total']:.4f}  ·  wall time {summary['wall_time_s']} s")
    _print_library(library)
    console.print(f"run directory: {run_dir}  (library: {run_dir / 'library.json'})")
