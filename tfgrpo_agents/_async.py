"""One long-lived event loop per thread for the package's synchronous entry points.

langchain-openai keeps one pooled async HTTP client per endpoint for the whole process. After
``asyncio.run`` closes its loop, the next ``asyncio.run`` reuses connections bound to the dead
loop and fails with "Event loop is closed". Running every synchronous entry point (``fit``, the
CLI, the demo) on the same loop avoids that; code that owns its loop can await our coroutines.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_local = threading.local()
_runners: list[asyncio.Runner] = []


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on this thread's loop (created on first use).

    Called from a thread whose loop is already running (a Jupyter cell, an async app calling sync
    code), it runs on a helper thread's loop instead and blocks until it is done.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return _helper().submit(run_sync, coroutine).result()
    runner = getattr(_local, "runner", None)
    if runner is None:
        runner = _local.runner = asyncio.Runner()
        _runners.append(runner)
    return runner.run(coroutine)


_pool: list[concurrent.futures.ThreadPoolExecutor] = []


def _helper() -> concurrent.futures.ThreadPoolExecutor:
    """One long-lived thread (so its loop, and the HTTP clients bound to it, live on between calls)."""
    if not _pool:
        _pool.append(concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tfgrpo-sync"))
    return _pool[0]


@atexit.register
def _close() -> None:
    for runner in _runners:
        runner.close()
