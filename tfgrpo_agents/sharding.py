"""Rollouts over several worker processes: past what one event loop (one core) can drive.

Each worker process rebuilds the experiment from its :class:`~tfgrpo_agents.session.ExperimentSpec`
once (models, tools, its own event loop), runs its shard of a batch with its share of the
concurrency, and writes each finished rollout into the run directory's cache, exactly where an
in-process rollout would go; the learner or the harness then reads them from there (see
:mod:`tfgrpo_agents.core.runner`). Worker rollouts are not part of the caller's trace tree.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import math
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from tfgrpo_agents._async import run_sync
from tfgrpo_agents.core.rollout import run_rollout, worth_caching
from tfgrpo_agents.core.rundir import RunDir
from tfgrpo_agents.core.runner import RolloutBatch
from tfgrpo_agents.session import ExperimentSpec

logger = logging.getLogger(__name__)
_EXPERIMENTS: dict[str, Any] = {}  # in a worker: the experiment of each spec, built once, tools open


def _experiment(spec_json: str) -> Any:
    if spec_json not in _EXPERIMENTS:
        experiment = ExperimentSpec.model_validate_json(spec_json).build()
        _EXPERIMENTS[spec_json] = experiment.__enter__()
        atexit.register(experiment.__exit__, None, None, None)
    return _EXPERIMENTS[spec_json]


async def _run_shard(spec_json: str, batch: RolloutBatch) -> list[tuple[str, bool]]:
    experiment = _experiment(spec_json)
    agent = experiment.agent(batch.library, batch.placement, batch.delivery)
    run_dir = RunDir(batch.run_dir)
    digest = batch.library.digest()
    gate = asyncio.Semaphore(batch.concurrency)

    async def one(job: Any) -> tuple[str, bool]:
        async with gate:
            trajectory = await run_rollout(agent, job.task, job.sample, seed=job.seed, settings=batch.settings,
                                           library_step=batch.library.step, library_digest=digest)
        trajectory = trajectory.model_copy(update={"agent_digest": batch.agent_digest})
        if worth_caching(trajectory):
            await asyncio.to_thread(run_dir.cache, "rollout", job.key, trajectory.model_dump(mode="json"))
        return job.key, trajectory.failed

    return list(await asyncio.gather(*(one(job) for job in batch.jobs)))


def run_shard(spec_json: str, batch_json: str) -> tuple[int, list[tuple[str, bool]]]:
    """A worker's entry point: ``(its pid, (key, failed) per rollout)``."""
    # one loop for the worker's life: its model clients' connections are bound to it
    return os.getpid(), run_sync(_run_shard(spec_json, RolloutBatch.model_validate_json(batch_json)))


def check_workers(spec: ExperimentSpec, workers: int) -> None:
    """Why worker processes cannot serve this spec (a ``ValueError``), before anything starts."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if spec.policy.embedded:
        raise ValueError("more than one worker needs an endpoint (--base-url): the embedded model serves "
                         "the process that started it")


class ProcessRunner:
    """A :class:`~tfgrpo_agents.core.runner.RolloutRunner` over ``workers`` processes (started on first use,
    kept for later batches, stopped by :meth:`close`). A batch's concurrency and the policy's
    requests-per-second limit are shared out among the workers."""

    def __init__(self, spec: ExperimentSpec, workers: int) -> None:
        check_workers(spec, workers)
        policy = spec.policy
        if policy.requests_per_second:
            policy = policy.model_copy(update={"requests_per_second": policy.requests_per_second / workers})
        self.spec_json = spec.model_copy(update={"policy": policy}).model_dump_json()
        self.workers = workers
        self.pids: dict[int, int] = {}  # rollouts run per worker process
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:  # spawn: a fork of a process with threads and an event loop is unsafe
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    async def fill(self, batch: RolloutBatch, on_rollout: Callable[[str, bool], None] | None = None) -> None:
        shards = [batch.jobs[i::self.workers] for i in range(self.workers) if batch.jobs[i::self.workers]]
        if not shards:
            return
        share = max(1, math.ceil(batch.concurrency / len(shards)))
        loop = asyncio.get_running_loop()
        pool = self._executor()
        pending = [loop.run_in_executor(pool, run_shard, self.spec_json,
                                        batch.model_copy(update={"jobs": shard, "concurrency": share})
                                        .model_dump_json())
                   for shard in shards]
        reported: set[str] = set()

        def report(key: str, failed: bool) -> None:
            if key not in reported:
                reported.add(key)
                if on_rollout:
                    on_rollout(key, failed)

        watcher = asyncio.create_task(self._watch(batch, report))
        try:
            for finished in asyncio.as_completed(pending):
                try:
                    pid, results = await finished
                except Exception as exc:  # a worker died or could not build the agent
                    logger.warning("a rollout worker failed (%s: %s); its unfinished rollouts run in this process",
                                   type(exc).__name__, exc)
                    self.close(wait=False)  # a broken pool is not reused: the next batch starts fresh workers
                    continue
                self.pids[pid] = self.pids.get(pid, 0) + len(results)
                for key, failed in results:
                    report(key, failed)
        finally:
            watcher.cancel()

    @staticmethod
    async def _watch(batch: RolloutBatch, report: Callable[[str, bool], None], every_s: float = 0.5) -> None:
        """Progress while the shards run: a rollout is done when its cache file is (re)written."""
        run_dir = RunDir(batch.run_dir)

        def stamps(keys: list[str]) -> dict[str, int | None]:
            found = {}
            for key in keys:
                try:
                    found[key] = run_dir.cache_path("rollout", key).stat().st_mtime_ns
                except OSError:
                    found[key] = None
            return found

        before = await asyncio.to_thread(stamps, [job.key for job in batch.jobs])
        while before:
            await asyncio.sleep(every_s)
            now = await asyncio.to_thread(stamps, list(before))
            for key in [k for k, stamp in now.items() if stamp != before[k]]:
                report(key, False)
                del before[key]

    def close(self, wait: bool = True) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=wait, cancel_futures=True)
