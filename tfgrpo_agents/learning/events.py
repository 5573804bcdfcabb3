"""Progress events of a learning run, as models: ``on_event(event)`` receives one of these.

Each has a ``kind`` (``"rollout"``, ``"step_done"``, …) for handlers that dispatch on a name, and
``model_dump()`` for handlers that log.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from tfgrpo_agents.learning.results import StepReport


class Event(BaseModel):
    kind: ClassVar[str] = "event"


class RunStarted(Event):
    kind: ClassVar[str] = "run"
    steps: int
    rollouts_per_step: list[int]


class StepStarted(Event):
    kind: ClassVar[str] = "step"
    step: int
    epoch: int
    tasks: int


class StepSkipped(Event):
    """A step finished in an earlier run (resumed: nothing to do)."""

    kind: ClassVar[str] = "step_skipped"
    step: int


class RolloutFinished(Event):
    kind: ClassVar[str] = "rollout"
    key: str
    failed: bool
    error: str | None = None


class GroupsResampled(Event):
    """Flat groups get more rollouts (``LearnSettings.resample_flat``): ``rollouts`` more this step."""

    kind: ClassVar[str] = "resample"
    step: int
    groups: int
    rollouts: int


class GroupsSelected(Event):
    kind: ClassVar[str] = "select"
    kept: int
    groups: int


class TeacherCallFinished(Event):
    """One reflection call: ``stage`` is summarize, advantage, group_ops or consolidate."""

    kind: ClassVar[str] = "teacher"
    stage: str
    key: str
    ok: bool


class StepFinished(Event):
    kind: ClassVar[str] = "step_done"
    report: StepReport


class SamplingIgnored(Event):
    """The agent's model calls did not receive the rollouts' temperature (see the message)."""

    kind: ClassVar[str] = "sampling_ignored"
    step: int
    message: str


class LibraryPublished(Event):
    """A step's library was written to the run's store (``outcome``: see ``StoreLibrary.apublish``)."""

    kind: ClassVar[str] = "published"
    step: int
    outcome: str
    namespace: tuple[str, ...]
    revision: int
