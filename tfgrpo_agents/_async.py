"""One long-lived event loop per thread for the package's synchronous entry points.

langchain-openai keeps one pooled async HTTP client per endpoint for the whole process. After
``asyncio.run`` closes its loop, the next ``asyncio.run`` reuses connections bound to the dead
loop and fails with "Event loop is closed". Running every synchronous entry point (``fit``, the
CLI, the demo) on the same loop avoids that; code that owns its loop can await our coroutines.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_local = threading.local()
_runners: list[asyncio.Runner] = []


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on this thread's loop (created on first use)."""
    runner = getattr(_local, "runner", None)
    if runner is None:
        runner = _local.runner = asyncio.Runner()
        _runners.append(runner)
    return runner.run(coroutine)


@atexit.register
def _close() -> None:
    for runner in _runners:
        runner.close()
