"""``tfgrpo eval / compare / curve``: measure libraries against the baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tfgrpo_agents.cli.common import (
    AgentOpt,
    BaseUrlOpt,
    ConcurrencyOpt,
    DeliveryOpt,
    GraderOpt,
    JsonOpt,
    KOpt,
    LearnOptions,
    LimitOpt,
    MaxStepsOpt,
    ModelOpt,
    OutOpt,
    PlacementOpt,
    PublicUrlOpt,
    RpsOpt,
    SeedOpt,
    SiteOpt,
    TasksOpt,
    TemperatureOpt,
    WorkersOpt,
    _concurrency,
    _delivery,
    _domain,
    _existing,
    _experiment,
    _fail,
    _json_mode,
    _opened,
    _print_json,
    _progress,
    _runner,
    app,
    console,
)


def _evaluation(tasks: Path, agent: str, model: str, base_url: str | None, k: int, temperature: float, seed: int,
                concurrency: int | None, max_steps: int, grader: str | None, site: Path | None, public_url: str | None,
                limit: int | None, requests_per_second: float | None = None, workers: int | None = None):
    """Everything an evaluation command needs: its tasks, its experiment (models, tools, grader) and settings."""
    from tfgrpo_agents.evaluation import EvalSettings
    from tfgrpo_agents.learning import TaskFileError, load_tasks

    _domain(agent)  # a bad name fails before any model starts
    try:
        task_list = load_tasks(tasks)[:limit]
    except TaskFileError as exc:
        _fail(str(exc))
    options = LearnOptions(tasks=str(tasks), agent=agent, model=model, base_url=base_url,
                           requests_per_second=requests_per_second, site=str(site) if site else None,
                           public_url=public_url)
    experiment = _experiment(options, temperature, max_steps, grader, "system", workers)
    settings = EvalSettings(k=k, temperature=temperature, seed=seed,
                            concurrency=_concurrency(concurrency, model, base_url), max_steps=max_steps,
                            model_id=model)
    return task_list, experiment, settings


def _run_with_progress(total: int, experiment, coroutine_factory):
    """Run the experiment's coroutine (tools open) with a progress bar; expected failures are one line."""
    from tfgrpo_agents._async import run_sync
    from tfgrpo_agents.experience import LibraryFileError
    from tfgrpo_agents.learning import RolloutsFailedError

    progress = _progress()
    _opened(experiment)
    try:
        with progress:
            bar = progress.add_task("rollouts", total=total)
            return run_sync(coroutine_factory(lambda: progress.advance(bar)))
    except LibraryFileError as exc:
        _fail(str(exc))
    except RolloutsFailedError as exc:
        _fail(str(exc), code=1)
    finally:
        experiment.__exit__(None, None, None)


@app.command("eval")
def eval_command(
    tasks: TasksOpt, model: ModelOpt, out: OutOpt, agent: AgentOpt = "math-reason", base_url: BaseUrlOpt = None,
    experiences: Annotated[Path | None, typer.Option(help="Library to inject (none: the baseline).",
                                                     callback=_existing)] = None,
    placement: PlacementOpt = "system", delivery: DeliveryOpt = "all",
    k: KOpt = 4, temperature: TemperatureOpt = 0.3, seed: SeedOpt = 0, concurrency: ConcurrencyOpt = None,
    max_steps: MaxStepsOpt = 8, grader: GraderOpt = None, site: SiteOpt = None, public_url: PublicUrlOpt = None,
    limit: LimitOpt = None, requests_per_second: RpsOpt = None, workers: WorkersOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Evaluate one configuration: Mean@k with its CI, Pass@k, tool calls, tokens, failures."""
    from tfgrpo_agents.agents import LessonDelivery
    from tfgrpo_agents.evaluation import EvalConfig, comparison_markdown

    _json_mode(json_output)
    task_list, experiment, settings = _evaluation(
        tasks, agent, model, base_url, k, temperature, seed, concurrency, max_steps, grader, site, public_url, limit,
        requests_per_second, workers)
    config = EvalConfig(name="with-library" if experiences else "baseline",
                        library=str(experiences) if experiences else None, placement=placement,
                        delivery=LessonDelivery.parse(delivery))
    runner = _runner(experiment, workers, settings.concurrency)
    result = _run_with_progress(len(task_list) * k, experiment, lambda tick: experiment.acompare(
        [config], task_list, settings, out, on_rollout=tick, runner=runner))
    if json_output:
        _print_json(result.model_dump(mode="json"))
        return
    console.print(comparison_markdown(result), markup=False, highlight=False)
    console.print(f"report: {out / 'report.md'}  ·  trajectories: {result.arms[0].trajectories_path}")


@app.command("compare")
def compare_command(
    tasks: TasksOpt, model: ModelOpt, out: OutOpt, agent: AgentOpt = "math-reason", base_url: BaseUrlOpt = None,
    library: Annotated[list[str] | None, typer.Option(help="NAME=PATH of a library arm (repeatable).")] = None,
    direct_tips: Annotated[int, typer.Option(help="Add an arm of N tips written without rollouts (0: none).")] = 0,
    user_placement: Annotated[bool, typer.Option(help="Add each library again, injected in the user message.")] = False,
    delivery: Annotated[list[str] | None, typer.Option(
        help="Add each library again with this lesson delivery (relevant, restate, check, next or nextN; comma-separated; "
             "repeatable).", callback=_delivery)] = None,
    k: KOpt = 3, temperature: TemperatureOpt = 0.3, seed: SeedOpt = 0, concurrency: ConcurrencyOpt = None,
    max_steps: MaxStepsOpt = 8, grader: GraderOpt = None, site: SiteOpt = None, public_url: PublicUrlOpt = None,
    limit: LimitOpt = None, requests_per_second: RpsOpt = None, workers: WorkersOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Run the baseline and each library arm on the same tasks; paired bootstrap CIs against the baseline."""
    from tfgrpo_agents.agents import LessonDelivery
    from tfgrpo_agents.evaluation import (
        EvalConfig,
        comparison_markdown,
        generate_direct_tips,
    )
    from tfgrpo_agents.experience import save_library

    _json_mode(json_output)
    task_list, experiment, settings = _evaluation(
        tasks, agent, model, base_url, k, temperature, seed, concurrency, max_steps, grader, site, public_url, limit,
        requests_per_second, workers)
    configs = [EvalConfig(name="baseline")]
    for item in library or []:
        name, sep, path = item.partition("=")
        if not sep or not Path(path).exists():
            _fail(f"--library takes NAME=PATH of an existing library file, got {item!r}")
        configs.append(EvalConfig(name=name, library=path))
    if direct_tips:
        tips_path = out / "direct_tips.json"
        if not tips_path.exists():
            tips = generate_direct_tips(experiment.teacher, task_list, count=direct_tips, model_id=model,
                                        settings=experiment.domain.reflection())
            save_library(tips, tips_path)
        configs.append(EvalConfig(name="direct-tips", library=str(tips_path)))
    plain = [c for c in configs if c.library]
    if user_placement:
        configs += [c.model_copy(update={"name": f"{c.name}@user", "placement": "user"}) for c in plain]
    for spec in delivery or []:
        chosen = LessonDelivery.parse(spec)
        configs += [c.model_copy(update={"name": f"{c.name}+{chosen.spec}", "delivery": chosen}) for c in plain]
    runner = _runner(experiment, workers, settings.concurrency)
    result = _run_with_progress(len(task_list) * k * len(configs), experiment, lambda tick: experiment.acompare(
        configs, task_list, settings, out, on_rollout=tick, runner=runner))
    if json_output:
        _print_json(result.model_dump(mode="json"))
        return
    console.print(comparison_markdown(result), markup=False, highlight=False)


@app.command("curve")
def curve_command(
    tasks: TasksOpt, model: ModelOpt, out: OutOpt,
    library: Annotated[Path, typer.Option(help="A learned library (its snapshots are the curve's points).")],
    agent: AgentOpt = "math-reason", base_url: BaseUrlOpt = None,
    steps: Annotated[str | None, typer.Option(help="Comma-separated steps (default: all).")] = None,
    k: KOpt = 3, temperature: TemperatureOpt = 0.3, seed: SeedOpt = 0, concurrency: ConcurrencyOpt = None,
    max_steps: MaxStepsOpt = 8, grader: GraderOpt = None, site: SiteOpt = None, public_url: PublicUrlOpt = None,
    limit: LimitOpt = None, workers: WorkersOpt = None,
) -> None:
    """Evaluate each snapshot of a library: accuracy and tool calls per learning step, with plots."""
    from tfgrpo_agents.experience import load_library

    task_list, experiment, settings = _evaluation(
        tasks, agent, model, base_url, k, temperature, seed, concurrency, max_steps, grader, site, public_url, limit,
        workers=workers)
    chosen = [int(x) for x in steps.split(",")] if steps else load_library(library).steps
    runner = _runner(experiment, workers, settings.concurrency)
    _run_with_progress(len(task_list) * k * len(chosen), experiment, lambda tick: experiment.acurve(
        library, task_list, settings, out, steps=chosen, on_rollout=tick, runner=runner))
    console.print((out / "curve.md").read_text(), markup=False, highlight=False)
