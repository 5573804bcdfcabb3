"""What every ``tfgrpo`` command shares: the app, the console, errors, option types and validators,
the run options, and the experiment a command builds from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

# rich_markup_mode=None: usage errors print as plain "Error: ..." lines that scripts can read
app = typer.Typer(help="Training-Free GRPO for tool-using LangGraph agents.", no_args_is_help=True,
                  rich_markup_mode=None)
console = Console(soft_wrap=True)
LibraryPath = Annotated[Path, typer.Argument(help="Experience library JSON file.")]


def print_error(message: str) -> None:
    """``error: <message>`` as one line on stderr (the message printed as it is, never read as markup)."""
    from rich.markup import escape

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def _fail(message: str, code: int = 2) -> None:
    """One line on stderr and a non-zero exit: 2 for bad input, 1 for a run that could not do its work."""
    print_error(message)
    raise typer.Exit(code=code)


def _json_mode(enabled: bool) -> None:
    """With --json, standard output carries one JSON document; progress and tables go to stderr."""
    if enabled:
        import sys

        console.file = sys.stderr


def _print_json(payload: Any) -> None:
    import sys

    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout (progress on stderr).")]
WorkersOpt = Annotated[int | None, typer.Option(
    help="Worker processes for the rollouts (default: more than one only for an endpoint with 32 or more "
         "rollouts in flight).", min=1)]
RpsOpt = Annotated[float | None, typer.Option(help="Cap requests per second to the endpoint (metered APIs).",
                                              callback=lambda v: _positive(v))]


def _at_least(minimum: float):
    def check(value: float | None) -> float | None:
        if value is not None and value < minimum:
            raise typer.BadParameter(f"must be at least {minimum:g}, got {value:g}")
        return value
    return check


def _positive(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise typer.BadParameter(f"must be more than 0, got {value:g}")
    return value


def _one_of(*allowed: str):
    def check(value: str | None) -> str | None:
        if value is not None and value not in allowed:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}")
        return value
    return check


def _delivery(value: str | list[str] | None) -> str | list[str] | None:
    from tfgrpo_agents.agents.delivery import LessonDelivery

    for spec in ([value] if isinstance(value, str) else value or []):
        try:
            LessonDelivery.parse(spec)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return value


def _existing(value: Path | None) -> Path | None:
    if value is not None and not value.exists():
        raise typer.BadParameter(f"{value} does not exist")
    return value


PLACEMENTS = ("system", "user")
STRUCTURED_METHODS = ("text", "json_mode", "json_schema", "function_calling")


def _load(path: Path, *, create: bool = False, model_id: str | None = None, domain: str | None = None):
    from tfgrpo_agents.experience import (
        ExperienceLibrary,
        LibraryFileError,
        LibraryMeta,
        load_library,
    )

    if create and not path.exists():
        return ExperienceLibrary(meta=LibraryMeta(model_id=model_id, domain=domain))
    try:
        return load_library(path, model_id=model_id)
    except LibraryFileError as exc:
        _fail(str(exc))


def _print_library(library, *, step: int | None = None) -> None:
    view = library if step is None else library.at_step(step)
    table = Table(title=f"step {view.step} · {len(view)} experiences · ~{view.token_count()} tokens")
    for column in ("id", "text", "helpful", "harmful", "updated", "from"):
        table.add_column(column, overflow="fold")
    for e in view.experiences:
        table.add_row(e.id, e.text, str(e.helpful), str(e.harmful), str(e.updated_step), ", ".join(e.sources) or "-")
    console.print(table)
    console.rule("prompt block")
    console.print(view.render() or "(empty library: nothing is injected)", markup=False, highlight=False)


class LearnOptions(BaseModel):
    """What ``tfgrpo learn`` was started with (saved as cli.json; the API key never is)."""

    tasks: str
    agent: str
    model: str
    base_url: str | None = None
    teacher_model: str | None = None
    teacher_base_url: str | None = None
    grader: str | None = None
    site: str | None = None
    public_url: str | None = None
    structured_method: str = "text"
    request_timeout: float = 120.0
    max_retries: int = 3
    limit: int | None = None
    requests_per_second: float | None = None
    from_trajectories: str | None = None
    store: str | None = None  # without a password: libpq reads PGPASSWORD or ~/.pgpass
    store_namespace: list[str] | None = None



def _recipe(model: str, base_url: str | None, temperature: float, options: LearnOptions):
    from tfgrpo_agents.session import ModelRecipe

    return ModelRecipe(model=model, base_url=base_url, temperature=temperature, timeout=options.request_timeout,
                       max_retries=options.max_retries, requests_per_second=options.requests_per_second)


def _chat_model(model: str, base_url: str | None, temperature: float, options: LearnOptions):
    """A chat model from the command's options; an embedded model that cannot start is a one-line error."""
    from tfgrpo_agents.models.local_model import LocalModelError

    try:
        return _recipe(model, base_url, temperature, options).build()
    except LocalModelError as exc:
        _fail(str(exc))


def _experiment(options: LearnOptions, temperature: float, max_steps: int, grader: str | None, placement: str,
                workers: int | None = None):
    """The command's experiment (domain, policy and teacher models, tool options, grader), built from a
    spec, so that its rollouts can also run in worker processes (``--workers``)."""
    from tfgrpo_agents.models.local_model import LocalModelError
    from tfgrpo_agents.session import ExperimentSpec

    spec = ExperimentSpec(
        domain=options.agent, policy=_recipe(options.model, options.base_url, temperature, options),
        teacher=_recipe(options.teacher_model or options.model, options.teacher_base_url or options.base_url, 0.0,
                        options),
        grader=grader, max_steps=max_steps, placement=placement,
        tool_options={"site": str(Path(options.site).resolve()) if options.site else None,
                      "public_url": options.public_url})
    if workers and workers > 1:  # before the model starts
        from tfgrpo_agents.sharding import check_workers

        try:
            check_workers(spec, workers)
        except ValueError as exc:
            _fail(f"--workers {workers}: {exc}")
    try:
        return spec.build()
    except LocalModelError as exc:
        _fail(str(exc))
    except ValueError as exc:  # an unknown or unimportable grader
        _fail(str(exc))


def _concurrency(value: int | None, model: str, base_url: str | None) -> int:
    """What was asked, else as many rollouts as the embedded model's server has slots, else 4."""
    from tfgrpo_agents.models.local_model import LOCAL_MODELS, ROLLOUT_SERVER

    if value is not None:
        return value
    return ROLLOUT_SERVER["parallel"] if model in LOCAL_MODELS and base_url is None else 4


def _runner(experiment, workers: int | None, concurrency: int):
    """The rollout runner for ``--workers`` (``None``: in this process), closed with the experiment; auto
    picks more than one only for an endpoint with enough rollouts in flight to keep a second event loop busy."""
    import os

    from tfgrpo_agents.sharding import ProcessRunner

    if workers is None:  # auto
        workers = 1 if experiment.spec.policy.embedded or concurrency < 32 else \
            min(os.cpu_count() or 1, concurrency // 32 + 1, 4)
    if workers <= 1:
        return None
    runner = ProcessRunner(experiment.spec, workers)  # checked by _experiment
    experiment.closing(runner.close)
    return runner


def _opened(experiment):
    """The experiment with its tools open; a sandbox that cannot contain code here is a one-line error."""
    from tfgrpo_agents.tools import SandboxUnavailable

    try:
        return experiment.__enter__()
    except SandboxUnavailable as exc:
        _fail(str(exc), code=1)


def _namespace_labels(text: str | None, option: str) -> list[str] | None:
    """A store namespace written as labels separated by ``/`` (LangGraph forbids dots and empty labels)."""
    if text is None:
        return None
    labels = text.strip("/").split("/")
    if not all(labels) or any("." in label for label in labels):
        _fail(f"{option} {text!r}: labels separated by /, none empty and none with a dot")
    return labels


def _domain(agent: str):
    """A ready set-up (math, web, qa) or the user's ``package.module:factory``; a bad name is a usage error."""
    from tfgrpo_agents.learning.domains import domain_for

    try:
        return domain_for(agent)
    except ValueError as exc:
        _fail(str(exc))


def _progress():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=False)


TasksOpt = Annotated[Path, typer.Option(help="Task file (jsonl or json).")]
AgentOpt = Annotated[str, typer.Option(help="Agent set-up: math-reason (reasons, then runs code; the default), math (code at once), web, web-walk (browse only), qa, or "
                                            "package.module:factory (your own).")]
ModelOpt = Annotated[str, typer.Option(help="Model name at the endpoint, or local / local-0.5b (embedded).")]
BaseUrlOpt = Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint (key from OPENAI_API_KEY).")]
KOpt = Annotated[int, typer.Option("--k", help="Samples per task.", callback=_at_least(1))]
TemperatureOpt = Annotated[float, typer.Option(help="Sampling temperature (the paper evaluates at 0.3).",
                                               callback=_at_least(0))]
SeedOpt = Annotated[int, typer.Option(help="Seed of the per-rollout seeds and the bootstrap.")]
ConcurrencyOpt = Annotated[int | None, typer.Option(
    help="Rollouts in flight at once (default: 4; with the embedded model, its server's slots).", callback=_at_least(1))]
MaxStepsOpt = Annotated[int, typer.Option(help="The agent's tool-step limit.", callback=_at_least(1))]
GraderOpt = Annotated[str | None, typer.Option(help="math, exact, short, judge or package.module:function "
                                                  "(default: the agent's).")]
SiteOpt = Annotated[Path | None, typer.Option(help="web agent: a site folder or .tar.gz to serve locally.",
                                              callback=_existing)]
PublicUrlOpt = Annotated[str | None, typer.Option(help="web agent: the site's public address.")]
LimitOpt = Annotated[int | None, typer.Option(help="Use only the first N tasks.", callback=_at_least(1))]
PlacementOpt = Annotated[str, typer.Option(help="system or user.", callback=_one_of(*PLACEMENTS))]
OutOpt = Annotated[Path, typer.Option(help="Output directory (a rerun resumes from its cache).")]
DeliveryOpt = Annotated[str, typer.Option(
    help="Which lessons a task sees and where they are said again: all (plain), or any of relevant (only "
         "the lessons matching the question), restate (under each tool result), check (once before the "
         "final answer), next (the check names the page a lesson points to; next2: and the page that one "
         "leads to), comma-separated.", callback=_delivery)]


def validation_verdict(validation: dict) -> str:
    """A validated update's verdict in one line."""
    unproven = len(validation.get("unproven_removals") or [])
    held = (f"; {unproven} deletion{'s' if unproven != 1 else ''} or rewrite{'s' if unproven != 1 else ''} "
            "of a lesson undone, no gain shown") if unproven else ""
    if not validation.get("tasks"):
        return "validation: the change alters no training task's lessons" + (held or ", kept untried")
    rolled = len(validation.get("rolled_back") or [])
    outcome = "kept" if validation.get("kept") else (f"{rolled} operation{'s' if rolled != 1 else ''} rolled back"
                                                     if rolled else "rolled back")
    settled = validation.get("settled_on") or []
    tasks = f"{len(settled)} task{'s' if len(settled) != 1 else ''}"
    again = f"; a one-rollout loss tried again on {tasks}" if settled else ""
    return (f"validation: {outcome} (mean reward {validation['mean_reward_before']} → "
            f"{validation['mean_reward_after']} on {validation['tasks']} tasks, {validation['rollouts']} new rollouts"
            f"{again}){held}")
