"""``tfgrpo serve / search / browse / exec``: the agent's tools, as a user runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tfgrpo_agents.cli.common import (
    _existing,
    _fail,
    _positive,
    app,
    console,
)

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
