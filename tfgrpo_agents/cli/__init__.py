"""``tfgrpo`` command line: the commands live in this package's modules, one per group; they parse
and print, and the work is done by :mod:`tfgrpo_agents.session` and the layers below."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tfgrpo_agents.cli import demo as _demo  # noqa: F401  (each module registers its commands)
from tfgrpo_agents.cli import learn as _learn  # noqa: F401
from tfgrpo_agents.cli import library as _library  # noqa: F401
from tfgrpo_agents.cli import measure as _measure  # noqa: F401
from tfgrpo_agents.cli import site as _site  # noqa: F401
from tfgrpo_agents.cli import tasks as _tasks  # noqa: F401
from tfgrpo_agents.cli.common import LearnOptions, app, print_error

__all__ = ["LearnOptions", "app", "main"]


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
        print_error(str(exc))
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
