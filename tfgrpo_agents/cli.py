"""``tfgrpo`` command line."""

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
library_app = typer.Typer(help="Inspect and edit experience libraries.", no_args_is_help=True,
                          rich_markup_mode=None)
app.add_typer(library_app, name="library")

console = Console(soft_wrap=True)
LibraryPath = Annotated[Path, typer.Argument(help="Experience library JSON file.")]


def _fail(message: str, code: int = 2) -> None:
    """One line on stderr and a non-zero exit: 2 for bad input, 1 for a run that could not do its work."""
    from rich.markup import escape

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)
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


def _read_ops(path: Path) -> list[Any]:
    """Ops as a JSON list, a JSON object with an ``ops`` list, or JSON lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot read ops file {path}: {exc}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data.append(json.loads(line))
            except json.JSONDecodeError as exc:
                _fail(f"{path}:{number} is not valid JSON ({exc.msg}); give a JSON list of ops or one op per line")
    if isinstance(data, dict) and isinstance(data.get("ops"), list):
        data = data["ops"]
    if not isinstance(data, list):
        _fail(f"{path} must hold a list of ops, an object with an 'ops' list, or one op per line")
    return data


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


@library_app.command("show")
def library_show(
    path: LibraryPath,
    step: Annotated[int | None, typer.Option(help="Show the library as it was after this step.")] = None,
) -> None:
    """Print the experiences and the exact prompt block an agent receives."""
    from tfgrpo_agents.experience import UnknownStepError

    library = _load(path)
    try:
        _print_library(library, step=step)
    except UnknownStepError as exc:
        _fail(str(exc))


@library_app.command("apply")
def library_apply(
    path: LibraryPath,
    ops_file: Annotated[Path, typer.Argument(help="Ops: JSON list, {'ops': [...]}, or JSON lines.")],
    lenient: Annotated[bool, typer.Option(help="Apply the valid ops and skip invalid ones.")] = False,
    model: Annotated[str | None, typer.Option(help="Model id recorded when creating a new library.")] = None,
    domain: Annotated[str | None, typer.Option(help="Domain recorded when creating a new library.")] = None,
) -> None:
    """Apply a batch of ADD/UPDATE/DELETE/NONE ops as one step (all-or-nothing unless --lenient)."""
    from tfgrpo_agents.experience import InvalidOpsError, save_library

    library = _load(path, create=True, model_id=model, domain=domain)
    ops = _read_ops(ops_file)
    try:
        report = library.apply(ops, strict=not lenient)
    except InvalidOpsError as exc:
        for rejected in exc.report.rejected:
            console.print(f"[red]rejected op #{rejected.index}:[/] {rejected.reason}")
        _fail(f"nothing applied; {path} is unchanged (fix the ops or pass --lenient)")
    save_library(library, path)
    for applied in report.applied:
        note = f" ({applied.note})" if applied.note else ""
        console.print(f"op #{applied.index} {applied.op.op}: {applied.outcome} {applied.experience_id or ''}{note}")
    for rejected in report.rejected:
        console.print(f"[yellow]skipped op #{rejected.index}:[/] {rejected.reason}")
    for evicted in report.evicted:
        console.print(f"[yellow]evicted by budget:[/] [{evicted.id}] {evicted.text}")
    console.print(library.diff(library.steps[-2]).render(), markup=False, highlight=False)
    _print_library(library)


@library_app.command("history")
def library_history(path: LibraryPath) -> None:
    """List the library's steps with what each one changed."""
    library = _load(path)
    table = Table(title=str(path))
    for column in ("step", "experiences", "ops", "evicted", "saved at"):
        table.add_column(column)
    for snapshot in library.history:
        outcomes = ", ".join(f"{a.outcome} {a.experience_id or ''}".strip() for a in snapshot.ops) or "-"
        table.add_row(str(snapshot.step), str(len(snapshot.experiences)), outcomes,
                      ", ".join(snapshot.evicted) or "-", snapshot.created_at.isoformat(timespec="seconds"))
    console.print(table)


@library_app.command("diff")
def library_diff(
    path: LibraryPath,
    from_step: Annotated[int, typer.Argument(help="Older step.")],
    to_step: Annotated[int | None, typer.Argument(help="Newer step (default: current).")] = None,
) -> None:
    """Show what changed between two steps."""
    from tfgrpo_agents.experience import UnknownStepError

    library = _load(path)
    try:
        console.print(library.diff(from_step, to_step).render(), markup=False, highlight=False)
    except UnknownStepError as exc:
        _fail(str(exc))


@library_app.command("rollback")
def library_rollback(path: LibraryPath, step: Annotated[int, typer.Argument(help="Step to return to.")]) -> None:
    """Return the library to an earlier step (later steps are discarded)."""
    from tfgrpo_agents.experience import UnknownStepError, save_library

    library = _load(path)
    try:
        library.rollback(step)
    except UnknownStepError as exc:
        _fail(str(exc))
    save_library(library, path)
    _print_library(library)


@library_app.command("export")
def library_export(
    path: LibraryPath,
    sqlite: Annotated[Path, typer.Option(help="SQLite file of a LangGraph SqliteStore.")],
    domain: Annotated[str | None, typer.Option(help="Namespace domain (default: the library's).")] = None,
) -> None:
    """Copy a library file into a LangGraph SqliteStore."""
    from langgraph.store.sqlite import SqliteStore

    from tfgrpo_agents.experience import experiences_namespace, save_to_store

    library = _load(path)
    with SqliteStore.from_conn_string(str(sqlite)) as store:
        store.setup()
        save_to_store(library, store, domain=domain)
    console.print(f"saved {len(library)} experiences to {sqlite} under {experiences_namespace(domain or library.meta.domain)}")


@library_app.command("import")
def library_import(
    path: LibraryPath,
    sqlite: Annotated[Path, typer.Option(help="SQLite file of a LangGraph SqliteStore.")],
    domain: Annotated[str | None, typer.Option(help="Namespace domain.")] = None,
) -> None:
    """Copy a library out of a LangGraph SqliteStore into a JSON file."""
    from langgraph.store.sqlite import SqliteStore

    from tfgrpo_agents.experience import load_from_store, save_library
    from tfgrpo_agents.experience.store import META_KEY, meta_namespace

    if not sqlite.exists():
        _fail(f"no SQLite store at {sqlite}")
    with SqliteStore.from_conn_string(str(sqlite)) as store:
        library = load_from_store(store, domain=domain)
        if not library.experiences and store.get(meta_namespace(domain), META_KEY) is None:
            found = sorted({ns[1] for ns in store.list_namespaces(prefix=("tfgrpo",)) if len(ns) > 1})
            _fail(f"{sqlite} holds no library for domain {domain!r}; it has: {', '.join(found) or 'none'}")
    save_library(library, path)
    _print_library(library)


SitePath = Annotated[Path, typer.Argument(help="A site folder or .tar.gz of HTML pages.")]


@app.command("serve")
def serve(
    site: SitePath,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: a free one).")] = 0,
) -> None:
    """Serve a site folder or tarball on 127.0.0.1 until Ctrl-C."""
    from tfgrpo_agents.tools import LocalSiteServer

    try:
        server = LocalSiteServer(site, port=port)
    except (FileNotFoundError, ValueError, OSError) as exc:
        _fail(str(exc))
    console.print(f"serving {site} at {server.url} (Ctrl-C to stop)")
    server.serve_forever()


@app.command("search")
def search(
    site: SitePath,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    results: Annotated[int, typer.Option("-n", "--results", help="How many hits.")] = 5,
) -> None:
    """Search a local site the way the agent does (the index is built once and cached)."""
    from tfgrpo_agents.tools import LocalWeb

    try:
        web = LocalWeb(site, max_results=results)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    with web:
        console.print(web.tools()[0].invoke({"query": query}), markup=False, highlight=False)


@app.command("browse")
def browse(
    url: Annotated[str, typer.Argument(help="URL, or a path on --site.")],
    goal: Annotated[str, typer.Option(help="What to find on the page.")] = "",
    site: Annotated[Path | None, typer.Option(help="Serve this site and browse it locally.", callback=_existing)] = None,
) -> None:
    """Show what the agent's web_browse tool returns for a page."""
    from tfgrpo_agents.tools import Browser, LocalWeb, web_browse_tool

    if site is None:
        console.print(web_browse_tool(Browser()).invoke({"url": url, "goal": goal}), markup=False, highlight=False)
        return
    with LocalWeb(site) as web:
        target = url if "://" in url else web.url + url.lstrip("/")
        console.print(web.tools()[1].invoke({"url": target, "goal": goal}), markup=False, highlight=False)


@app.command("exec")
def exec_code(
    file: Annotated[Path | None, typer.Argument(help="Python file to run (default: standard input).",
                                                callback=_existing)] = None,
    timeout: Annotated[float, typer.Option(help="Wall-clock limit in seconds.", callback=_positive)] = 10.0,
) -> None:
    """Run Python in the agent's sandbox and show the result and the containment in use."""
    import sys

    from tfgrpo_agents.tools import SandboxUnavailable, SubprocessExecutor

    try:
        code = file.read_text(encoding="utf-8") if file else sys.stdin.read()
    except UnicodeDecodeError:
        _fail(f"{file or 'standard input'} is not UTF-8 text; give a Python source file")
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror or exc}")
    try:
        executor = SubprocessExecutor(timeout=timeout)
    except SandboxUnavailable as exc:
        _fail(str(exc), code=1)
    plan = executor.plan
    console.print(f"[dim]sandbox: {plan.describe()}, pids cgroup {'on' if plan.pids_cgroup else 'off'}[/]")
    result = executor.run(code)
    console.print(result.render(), markup=False, highlight=False)
    raise typer.Exit(code=0 if result.exit_code == 0 else 1)


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




def _chat_model(model: str, base_url: str | None, temperature: float, options: LearnOptions):
    """A chat model from the command's options; an embedded model that cannot start is a one-line error."""
    from tfgrpo_agents.agents.local_model import LocalModelError
    from tfgrpo_agents.session import chat_model

    try:
        return chat_model(model, base_url, temperature=temperature, timeout=options.request_timeout,
                          max_retries=options.max_retries, requests_per_second=options.requests_per_second)
    except LocalModelError as exc:
        _fail(str(exc))


def _experiment(options: LearnOptions, temperature: float, max_steps: int, grader: str | None, placement: str):
    """The command's experiment: domain, policy and teacher models, tools options and grader."""
    from tfgrpo_agents.session import Experiment

    domain = _domain(options.agent)
    policy = _chat_model(options.model, options.base_url, temperature, options)
    teacher = _chat_model(options.teacher_model or options.model, options.teacher_base_url or options.base_url, 0.0,
                          options)
    try:
        return Experiment(domain, policy, teacher, grader=grader, max_steps=max_steps, placement=placement,
                          tool_options={"site": options.site, "public_url": options.public_url})
    except ValueError as exc:  # an unknown or unimportable grader
        _fail(str(exc))


def _opened(experiment):
    """The experiment with its tools open; a sandbox that cannot contain code here is a one-line error."""
    from tfgrpo_agents.tools import SandboxUnavailable

    try:
        return experiment.__enter__()
    except SandboxUnavailable as exc:
        _fail(str(exc), code=1)


@app.command("learn")
def learn(
    tasks: Annotated[Path | None, typer.Option(help="Task file (jsonl or json).")] = None,
    agent: Annotated[str, typer.Option(help="Agent set-up: math, web, qa, or package.module:factory for your own "
                                            "agent (factory(library) returns it).")] = "math",
    model: Annotated[str | None, typer.Option(help="Model name at the endpoint, or local / local-0.5b.")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint (key from OPENAI_API_KEY).")] = None,
    teacher_model: Annotated[str | None, typer.Option(help="Teacher model (default: the policy model at temperature 0).")] = None,
    teacher_base_url: Annotated[str | None, typer.Option(help="Teacher endpoint (default: --base-url).")] = None,
    group_size: Annotated[int, typer.Option(help="G: rollouts per task.", callback=_at_least(1))] = 5,
    epochs: Annotated[int, typer.Option(help="Passes over the tasks.", callback=_at_least(1))] = 3,
    batch_size: Annotated[int, typer.Option(help="Tasks per learning step.", callback=_at_least(1))] = 8,
    concurrency: Annotated[int, typer.Option(help="Rollouts and teacher calls in flight at once.",
                                             callback=_at_least(1))] = 4,
    temperature: Annotated[float, typer.Option(help="Rollout temperature.", callback=_at_least(0))] = 0.7,
    max_steps: Annotated[int, typer.Option(help="The agent's tool-step limit.", callback=_at_least(1))] = 8,
    seed: Annotated[int, typer.Option(help="Seed for shuffling and per-rollout seeds.")] = 0,
    grader: Annotated[str | None, typer.Option(help="math, exact, short, judge or package.module:function "
                                                   "(default: the agent's).")] = None,
    no_ground_truth: Annotated[bool, typer.Option("--no-ground-truth", help="Learn without reference answers.")] = False,
    placement: Annotated[str, typer.Option(help="Where experiences go: system or user.",
                                           callback=_one_of(*PLACEMENTS))] = "system",
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
    store: Annotated[Path | None, typer.Option(help="Also save the learned library into this SqliteStore file.")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory (default: runs/<agent>-<time>).")] = None,
    resume: Annotated[Path | None, typer.Option(help="Resume the run in this directory.")] = None,
    from_trajectories: Annotated[Path | None, typer.Option(
        help="Learn from recorded rollouts (trajectories.jsonl, or a JSON list of runs with messages and rewards) "
             "instead of running the agent.", callback=_existing)] = None,
    requests_per_second: RpsOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Learn an experience library with Training-Free GRPO (resumable: rerun with --resume DIR)."""
    import logging
    import time

    from tfgrpo_agents.learning import (
        LearnSettings,
        TaskFileError,
        load_prices,
        load_recorded,
        load_tasks,
    )

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _json_mode(json_output)
    if resume is not None:
        run_dir = resume
        try:
            saved = LearnOptions.model_validate_json((run_dir / "cli.json").read_text())
            settings = LearnSettings.model_validate_json((run_dir / "config.json").read_text())
        except (OSError, ValueError) as exc:
            _fail(f"cannot resume from {run_dir}: {exc}")
        options = saved.model_copy(update={k: v for k, v in {"base_url": base_url, "teacher_base_url": teacher_base_url,
                                                              "requests_per_second": requests_per_second}.items() if v})
    else:
        if (tasks is None and from_trajectories is None) or model is None:
            _fail("--tasks (or --from-trajectories) and --model are required (or --resume a run directory)")
        domain = _domain(agent)
        run_dir = out or Path("runs") / f"{agent}-{time.strftime('%Y%m%d-%H%M%S')}"
        if (run_dir / "config.json").exists():
            _fail(f"{run_dir} already holds a run; resume it with --resume {run_dir} or choose another --out")
        options = LearnOptions(tasks=str(tasks or ""), agent=agent, model=model, base_url=base_url,
                               from_trajectories=str(from_trajectories) if from_trajectories else None,
                               teacher_model=teacher_model, teacher_base_url=teacher_base_url, grader=grader,
                               site=str(site) if site else None, public_url=public_url,
                               structured_method=structured_method, limit=limit,
                               requests_per_second=requests_per_second)
        settings = LearnSettings(
            name=run_dir.name, domain=agent, group_size=group_size, epochs=epochs, batch_size=batch_size, seed=seed,
            temperature=temperature, max_steps=max_steps, rollout_timeout_s=rollout_timeout, concurrency=concurrency,
            ground_truth=not no_ground_truth, placement=placement, model_id=model, teacher_model_id=teacher_model or model,
            reflection=domain.reflection(method=structured_method, summaries=summaries),
        )
    try:  # checked before anything is written
        if options.from_trajectories:
            task_list = load_recorded(options.from_trajectories)
        else:
            task_list = load_tasks(options.tasks)[: options.limit]
        price_table = load_prices(prices)
    except (TaskFileError, ValueError, OSError) as exc:
        _fail(str(exc))
    if resume is None:
        from tfgrpo_agents._atomic import atomic_write_text

        atomic_write_text(run_dir / "cli.json", options.model_dump_json(indent=2))
    _run_learning(run_dir, settings, options, task_list, price_table, store, json_output)


def _domain(agent: str):
    """A ready set-up (math, web, qa) or the user's ``package.module:factory``; a bad name is a usage error."""
    from tfgrpo_agents.learning.domains import domain_for

    try:
        return domain_for(agent)
    except ValueError as exc:
        _fail(str(exc))


def _run_learning(run_dir: Path, settings, options: LearnOptions, task_list, prices, store: Path | None,
                  json_output: bool = False) -> None:
    from tfgrpo_agents.learning import RolloutsFailedError

    experiment = _experiment(options, settings.temperature, settings.max_steps, options.grader, settings.placement)
    progress = _progress()
    bars: dict[str, Any] = {}

    def on_event(kind: str, info: dict[str, Any]) -> None:
        if kind == "run":
            bars["rollouts"] = progress.add_task("rollouts", total=sum(info["rollouts_per_step"]))
            bars["steps"] = progress.add_task("steps", total=info["steps"])
            bars["teacher"] = progress.add_task("teacher calls", total=None)
            bars["per_step"] = dict(enumerate(info["rollouts_per_step"], start=1))
        elif kind == "step_skipped":
            progress.advance(bars["steps"])
            progress.advance(bars["rollouts"], bars["per_step"][info["step"]])
        elif kind == "step":
            progress.update(bars["steps"], description=f"step {info['step']} (epoch {info['epoch']})")
        elif kind == "rollout":
            progress.advance(bars["rollouts"])
        elif kind in ("summarize", "advantage", "group_ops", "consolidate", "grade"):
            progress.advance(bars["teacher"])
        elif kind == "snapshot":
            progress.advance(bars["steps"])
            console.print(f"step {info['step']}: mean reward {info['mean_reward']}, groups with signal "
                          f"{info['groups_with_signal']}/{info['tasks']}, library {info['library_size']} experiences")

    learner = experiment.learner(settings, run_dir, prices=prices, on_event=on_event)
    _opened(experiment)
    try:
        with progress:
            if options.from_trajectories:
                library = learner.learn_from_trajectories(task_list)
            else:
                library = learner.fit(task_list)
    except RolloutsFailedError as exc:
        _fail(f"{exc}; the run can be resumed with --resume {run_dir}", code=1)
    finally:
        experiment.__exit__(None, None, None)
    summary = learner.write_ledger()
    if store is not None:
        from langgraph.store.sqlite import SqliteStore

        from tfgrpo_agents.experience import save_to_store

        with SqliteStore.from_conn_string(str(store)) as sqlite_store:
            sqlite_store.setup()
            save_to_store(library, sqlite_store)
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
AgentOpt = Annotated[str, typer.Option(help="Agent set-up: math, web, qa, or package.module:factory (your own).")]
ModelOpt = Annotated[str, typer.Option(help="Model name at the endpoint, or local / local-0.5b (embedded).")]
BaseUrlOpt = Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint (key from OPENAI_API_KEY).")]
KOpt = Annotated[int, typer.Option("--k", help="Samples per task.", callback=_at_least(1))]
TemperatureOpt = Annotated[float, typer.Option(help="Sampling temperature (the paper evaluates at 0.3).",
                                               callback=_at_least(0))]
SeedOpt = Annotated[int, typer.Option(help="Seed of the per-rollout seeds and the bootstrap.")]
ConcurrencyOpt = Annotated[int, typer.Option(help="Rollouts in flight at once.", callback=_at_least(1))]
MaxStepsOpt = Annotated[int, typer.Option(help="The agent's tool-step limit.", callback=_at_least(1))]
GraderOpt = Annotated[str | None, typer.Option(help="math, exact, short, judge or package.module:function "
                                                  "(default: the agent's).")]
SiteOpt = Annotated[Path | None, typer.Option(help="web agent: a site folder or .tar.gz to serve locally.",
                                              callback=_existing)]
PublicUrlOpt = Annotated[str | None, typer.Option(help="web agent: the site's public address.")]
LimitOpt = Annotated[int | None, typer.Option(help="Use only the first N tasks.", callback=_at_least(1))]
PlacementOpt = Annotated[str, typer.Option(help="system or user.", callback=_one_of(*PLACEMENTS))]
OutOpt = Annotated[Path, typer.Option(help="Output directory (a rerun resumes from its cache).")]


def _evaluation(tasks: Path, agent: str, model: str, base_url: str | None, k: int, temperature: float, seed: int,
                concurrency: int, max_steps: int, grader: str | None, site: Path | None, public_url: str | None,
                limit: int | None, requests_per_second: float | None = None):
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
    experiment = _experiment(options, temperature, max_steps, grader, "system")
    settings = EvalSettings(k=k, temperature=temperature, seed=seed, concurrency=concurrency, max_steps=max_steps,
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
    tasks: TasksOpt, model: ModelOpt, out: OutOpt, agent: AgentOpt = "math", base_url: BaseUrlOpt = None,
    experiences: Annotated[Path | None, typer.Option(help="Library to inject (none: the baseline).",
                                                     callback=_existing)] = None,
    placement: PlacementOpt = "system",
    k: KOpt = 4, temperature: TemperatureOpt = 0.3, seed: SeedOpt = 0, concurrency: ConcurrencyOpt = 4,
    max_steps: MaxStepsOpt = 8, grader: GraderOpt = None, site: SiteOpt = None, public_url: PublicUrlOpt = None,
    limit: LimitOpt = None, requests_per_second: RpsOpt = None, json_output: JsonOpt = False,
) -> None:
    """Evaluate one configuration: Mean@k with its CI, Pass@k, tool calls, tokens, failures."""
    from tfgrpo_agents.evaluation import EvalConfig, comparison_markdown

    _json_mode(json_output)
    task_list, experiment, settings = _evaluation(
        tasks, agent, model, base_url, k, temperature, seed, concurrency, max_steps, grader, site, public_url, limit,
        requests_per_second)
    config = EvalConfig(name="with-library" if experiences else "baseline",
                        library=str(experiences) if experiences else None, placement=placement)
    result = _run_with_progress(len(task_list) * k, experiment, lambda tick: experiment.acompare(
        [config], task_list, settings, out, on_rollout=tick))
    if json_output:
        _print_json(result.model_dump(mode="json"))
        return
    console.print(comparison_markdown(result), markup=False, highlight=False)
    console.print(f"report: {out / 'report.md'}  ·  trajectories: {result.arms[0].trajectories_path}")


@app.command("compare")
def compare_command(
    tasks: TasksOpt, model: ModelOpt, out: OutOpt, agent: AgentOpt = "math", base_url: BaseUrlOpt = None,
    library: Annotated[list[str] | None, typer.Option(help="NAME=PATH of a library arm (repeatable).")] = None,
    direct_tips: Annotated[int, typer.Option(help="Add an arm of N tips written without rollouts (0: none).")] = 0,
    user_placement: Annotated[bool, typer.Option(help="Add each library again, injected in the user message.")] = False,
    k: KOpt = 3, temperature: TemperatureOpt = 0.3, seed: SeedOpt = 0, concurrency: ConcurrencyOpt = 4,
    max_steps: MaxStepsOpt = 8, grader: GraderOpt = None, site: SiteOpt = None, public_url: PublicUrlOpt = None,
    limit: LimitOpt = None, requests_per_second: RpsOpt = None, json_output: JsonOpt = False,
) -> None:
    """Run the baseline and each library arm on the same tasks; paired bootstrap CIs against the baseline."""
    from tfgrpo_agents.evaluation import (
        EvalConfig,
        comparison_markdown,
        generate_direct_tips,
    )
    from tfgrpo_agents.experience import save_library

    _json_mode(json_output)
    task_list, experiment, settings = _evaluation(
        tasks, agent, model, base_url, k, temperature, seed, concurrency, max_steps, grader, site, public_url, limit,
        requests_per_second)
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
    if user_placement:
        configs += [c.model_copy(update={"name": f"{c.name}@user", "placement": "user"}) for c in configs if c.library]
    result = _run_with_progress(len(task_list) * k * len(configs), experiment, lambda tick: experiment.acompare(
        configs, task_list, settings, out, on_rollout=tick))
    if json_output:
        _print_json(result.model_dump(mode="json"))
        return
    console.print(comparison_markdown(result), markup=False, highlight=False)


@app.command("curve")
def curve_command(
    tasks: TasksOpt, model: ModelOpt, out: OutOpt,
    library: Annotated[Path, typer.Option(help="A learned library (its snapshots are the curve's points).")],
    agent: AgentOpt = "math", base_url: BaseUrlOpt = None,
    steps: Annotated[str | None, typer.Option(help="Comma-separated steps (default: all).")] = None,
    k: KOpt = 3, temperature: TemperatureOpt = 0.3, seed: SeedOpt = 0, concurrency: ConcurrencyOpt = 4,
    max_steps: MaxStepsOpt = 8, grader: GraderOpt = None, site: SiteOpt = None, public_url: PublicUrlOpt = None,
    limit: LimitOpt = None,
) -> None:
    """Evaluate each snapshot of a library: accuracy and tool calls per learning step, with plots."""
    from tfgrpo_agents.experience import load_library

    task_list, experiment, settings = _evaluation(
        tasks, agent, model, base_url, k, temperature, seed, concurrency, max_steps, grader, site, public_url, limit)
    chosen = [int(x) for x in steps.split(",")] if steps else load_library(library).steps
    _run_with_progress(len(task_list) * k * len(chosen), experiment, lambda tick: experiment.acurve(
        library, task_list, settings, out, steps=chosen, on_rollout=tick))
    console.print((out / "curve.md").read_text(), markup=False, highlight=False)


tasks_app = typer.Typer(help="Task sets: stratified samples and train/test splits.", no_args_is_help=True,
                        rich_markup_mode=None)
app.add_typer(tasks_app, name="tasks")


@tasks_app.command("split")
def tasks_split(
    source: Annotated[Path, typer.Argument(help="Task file.")],
    train: Annotated[int, typer.Option(help="Train tasks.")],
    test: Annotated[int, typer.Option(help="Test tasks.")],
    out_dir: Annotated[Path, typer.Option(help="Where train.jsonl and test.jsonl go.")],
    ratio: Annotated[str | None, typer.Option(help="Difficulty ratio, e.g. 4:7:6 (easy:medium:hard).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the shuffle that picks the split.")] = 0,
) -> None:
    """Disjoint train/test split with a fixed seed, stratified by difficulty if --ratio is given."""
    from tfgrpo_agents._atomic import atomic_write_text
    from tfgrpo_agents.evaluation import parse_ratio, train_test_split
    from tfgrpo_agents.learning import TaskFileError, load_tasks

    try:
        task_list = load_tasks(source)
        train_set, test_set = train_test_split(task_list, train=train, test=test, seed=seed,
                                               ratio=parse_ratio(ratio) if ratio else None)
    except (TaskFileError, ValueError) as exc:
        _fail(str(exc))
    for name, items in (("train", train_set), ("test", test_set)):
        atomic_write_text(out_dir / f"{name}.jsonl", "".join(t.model_dump_json() + "\n" for t in items))
    console.print(f"{len(train_set)} train and {len(test_set)} test tasks written to {out_dir}")


@tasks_app.command("docs-qa")
def tasks_docs_qa(
    source: Annotated[Path, typer.Argument(help="A Sphinx documentation site: folder or .tar.gz.")],
    out_dir: Annotated[Path, typer.Option(help="Where train.jsonl, test.jsonl and closed_book.json go.")],
    public_url: Annotated[str, typer.Option(help="The site's public address (the tasks' root_url).")] = "https://docs.python.org/3.11/",
    train: Annotated[int, typer.Option(help="Train tasks.")] = 40,
    test: Annotated[int, typer.Option(help="Test tasks.")] = 48,
    ratio: Annotated[str, typer.Option(help="Difficulty ratio easy:medium:hard.")] = "4:7:6",
    closed_book_model: Annotated[str | None, typer.Option(help="Drop questions this model answers without tools (local, local-0.5b or a model name).")] = None,
    base_url: BaseUrlOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """QA over a documentation site, with golden paths from its link graph and a closed-book filter."""
    from tfgrpo_agents.evaluation.docs_qa import closed_book_model as asker
    from tfgrpo_agents.evaluation.docs_qa import generate

    ask = None
    if closed_book_model:
        options = LearnOptions(tasks="", agent="web", model=closed_book_model, base_url=base_url)
        ask = asker(_chat_model(closed_book_model, base_url, 0.0, options))
    try:
        counts = generate(source, out_dir, public_url=public_url, train=train, test=test, seed=seed, ratio=ratio,
                          closed_book=ask, model_id=closed_book_model)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"{counts['train']} train and {counts['test']} test tasks written to {out_dir}"
                  + ("" if ask else " (no closed-book model: cached answers only)"))


@app.command("demo")
def demo(
    quick: Annotated[bool, typer.Option(help="A couple of minutes instead of about fifteen.")] = False,
    model: Annotated[str, typer.Option(help="Embedded model: local (1.5B) or local-0.5b.")] = "local",
    out: Annotated[Path | None, typer.Option(help="Output directory (default: runs/demo[-quick]).")] = None,
    seed: SeedOpt = 0,
) -> None:
    """Offline, end to end: baseline → Training-Free GRPO → learned library, on the embedded model."""
    import json

    from tfgrpo_agents.agents.local_model import LocalModelError
    from tfgrpo_agents.demo import PLANS, run_demo

    plan = PLANS["quick" if quick else "default"]
    out = out or Path("runs") / ("demo-quick" if quick else "demo")
    console.print(f"[bold]tfgrpo demo[/] · test {plan.test_tasks} tasks × k={plan.k} · learn on {plan.train_tasks} "
                  f"tasks × G={plan.group_size}, {plan.epochs} epoch · output in {out}")
    progress = _progress()
    state: dict[str, Any] = {}

    def on_event(kind: str, info: dict[str, Any]) -> None:
        if kind == "server":
            console.print(f"llama-server ready in {info['seconds']} s ({info['model']} at {info['url']})")
        elif kind == "phase":
            state["bar"] = progress.add_task(info["name"], total=info["rollouts"])
        elif kind == "rollout" and "bar" in state:
            progress.advance(state["bar"])
        elif kind == "snapshot":
            console.print(f"learning step {info['step']}: mean reward {info['mean_reward']}, groups with signal "
                          f"{info['groups_with_signal']}/{info['tasks']}, library {info['library_size']} experiences")

    try:
        with progress:
            comparison = run_demo(out, plan=plan, model=model, seed=seed, on_event=on_event)
    except LocalModelError as exc:
        _fail(str(exc))
    console.print((out / "eval" / "report.md").read_text(), markup=False, highlight=False)
    ledger = json.loads((out / "learn" / "ledger.json").read_text())["summary"]
    console.print(f"learning: {ledger['rollout_tokens']} rollout tokens, {ledger['reflection_tokens']} reflection tokens "
                  f"(ratio {ledger['reflection_to_rollout_ratio']}), {ledger['wall_time_s']} s of rollouts")
    _print_library(_load(out / "learn" / "library.json"))
    console.print(f"report: {out / 'eval' / 'report.md'} · plots: {', '.join(comparison.plots)}")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"tfgrpo {version('tfgrpo-agents')}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Training-Free GRPO for tool-using LangGraph agents."""


def _interrupted(signum: int, frame: Any) -> None:
    """Ctrl-C: stop at once. Everything finished is already on disk (every rollout and teacher answer
    is cached the moment it finishes), so in-flight work is dropped, not waited for; a second Ctrl-C
    while stopping exits immediately."""
    import os
    import signal

    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    raise KeyboardInterrupt


def main() -> None:
    import signal

    from tfgrpo_agents._extras import MissingExtraError

    signal.signal(signal.SIGINT, _interrupted)  # also keeps asyncio from turning Ctrl-C into a slow cancel
    try:
        app()
    except MissingExtraError as exc:  # a feature whose optional stack is not installed
        from rich.markup import escape

        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise SystemExit(1) from None
    except SystemExit as done:  # typer turns Ctrl-C into exit code 130
        if done.code != 130:
            raise
        _stop_now()
    except KeyboardInterrupt:
        _stop_now()


def _stop_now() -> None:
    """Exit 130 without waiting for in-flight tool threads and model calls (normal shutdown joins them)."""
    import os
    import sys

    from tfgrpo_agents.session import stop_local_models

    stop_local_models()
    sys.stderr.write("interrupted: finished rollouts are kept; rerun (or --resume) to continue\n")
    sys.stderr.flush()
    os._exit(130)


if __name__ == "__main__":
    main()
