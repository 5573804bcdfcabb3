"""A run directory: everything a learning run produced, readable with ``jq``, enough to resume.

    runs/NAME/
      config.json              the run's settings (a resume reads them back)
      tasks.jsonl              the tasks it was started with (a resume must bring the same)
      cli.json                 the command-line options of `tfgrpo learn` (never the API key)
      library.json             the current library, with its per-step history
      ledger.json              tokens and cost per stage, per step and in total
      checkpoints.sqlite       LangGraph checkpoints of the step graphs
      cache/<stage>/<key>.json every rollout and teacher answer, written when it finishes
      steps/step-0003/         trajectories.jsonl, summaries.json, advantages.json, group_ops.json,
                               consolidation.json, report.json, library.json (snapshot), ledger.json
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tfgrpo_agents._atomic import atomic_write_text, remove_stale_temps


def rollout_key(task_id: str, sample: int, step: int | None = None) -> str:
    """The one name of a rollout, for its cache file and its place in a step's state:
    ``step3-task-7-0`` in a learning run, ``task-7-0`` in an evaluation arm (one directory an arm)."""
    return f"{task_id}-{sample}" if step is None else f"step{step}-{task_id}-{sample}"


def group_key(task_id: str, step: int) -> str:
    """The one name of a task's group in a learning step (its teacher calls' cache files)."""
    return f"step{step}-{task_id}"


class RunDir:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        remove_stale_temps(self.root)  # a killed run's half-written files

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def tasks_path(self) -> Path:
        return self.root / "tasks.jsonl"

    @property
    def cli_options_path(self) -> Path:
        return self.root / "cli.json"

    @property
    def library_path(self) -> Path:
        return self.root / "library.json"

    @property
    def ledger_path(self) -> Path:
        return self.root / "ledger.json"

    @property
    def checkpoints_path(self) -> Path:
        return self.root / "checkpoints.sqlite"

    def step_dir(self, step: int) -> Path:
        return self.root / "steps" / f"step-{step:04d}"

    def write_json(self, path: Path, payload: Any, *, durable: bool = True) -> Path:
        return atomic_write_text(path, json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n",
                                 durable=durable)

    def read_json(self, path: Path) -> Any:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)

    def cache_path(self, stage: str, key: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key)
        return self.root / "cache" / stage / f"{safe}.json"

    def cached(self, stage: str, key: str) -> Any | None:
        """A finished stage result, or ``None``. A file that does not parse is treated as absent."""
        path = self.cache_path(stage, key)
        try:
            return self.read_json(path)
        except (OSError, ValueError, RecursionError):  # missing, torn, binary or absurd: redo the work
            return None

    def forget(self, stage: str, keys: list[str]) -> None:
        """Drop cached results, so that they are computed again (rollouts of an agent that was broken)."""
        for key in keys:
            self.cache_path(stage, key).unlink(missing_ok=True)

    def cache(self, stage: str, key: str, payload: Any) -> Any:
        # Atomic but not fsynced: a kill leaves the file whole; a power loss may leave it empty, which
        # ``cached`` reads as absent, so the work is redone. An fsync per rollout stalls many in flight.
        self.write_json(self.cache_path(stage, key), payload, durable=False)
        return payload

    def is_done(self, step: int) -> bool:
        return (self.step_dir(step) / "report.json").exists()

    def completed_steps(self) -> list[int]:
        steps_root = self.root / "steps"
        if not steps_root.exists():
            return []
        return sorted(int(p.name.split("-")[1]) for p in steps_root.iterdir() if (p / "report.json").exists())
