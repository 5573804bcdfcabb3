"""Settings of a learning run (saved in the run directory; a resume reads them back)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tfgrpo_agents.agents import LessonDelivery, Placement
from tfgrpo_agents.learning.reflection import ReflectionSettings


class ValidationSettings(BaseModel):
    """Validated updates (what GEPA and DSPy do, and the paper does not): a step's proposed library
    change is tried on ``tasks`` training tasks, drawn once with the run's seed, ``samples`` rollouts
    each, against the library before it with the same seeds (paired); it is kept only if its mean
    reward is at least the old one minus ``tolerance``, and rolled back otherwise. The library before is
    usually one an earlier step rolled out already: its rollouts are reused (and not charged again), so a
    lucky draw that got a change kept also sets the bar for the next; ``samples`` ≥ 2 damps both.
    With ``relevant`` delivery a change is tried on the first ``tasks`` training tasks whose selected
    lessons it alters (the others would roll out the same before and after), each operation is judged
    on the tasks it alters and rolled back alone, and a change that alters no task's lessons is kept
    untried. Removing a lesson carries the burden of proof (``removals_must_gain``): a small teacher's
    consolidation deletes and overwrites right lessons, and validation on a few solved tasks calls that
    a tie."""

    tasks: int = Field(default=8, ge=1)
    samples: int = Field(default=1, ge=1)
    tolerance: float = Field(default=0.0, ge=0.0)
    settle_samples: int = Field(
        default=0, ge=0, description="an operation that lost by one rollout gets this many more paired rollouts on "
                                     "each of its tasks, and is kept if it loses no more on them")
    removals_must_gain: bool = Field(
        default=True, description="an operation that deletes or rewrites a lesson the library holds (one an earlier "
                                  "step kept) is kept only if its tasks gain; a tie keeps the lesson as it was")


class LearnSettings(BaseModel):
    """Training-Free GRPO's knobs, with the paper's defaults where it has them."""

    name: str = "run"
    domain: str = "default"
    group_size: int = Field(default=5, ge=1, description="G: rollouts per task")
    resample_flat: int = Field(
        default=0, ge=0, description="more rollouts for a task whose G rewards are all equal, once, so that a task "
                                     "the agent always (or never) solves may still give a group to compare "
                                     "(0: such a group is skipped, as in the paper)")
    epochs: int = Field(default=3, ge=1)
    batch_size: int = Field(default=8, ge=1, description="tasks per learning step")
    seed: int = 0
    look_up_failures: bool = Field(
        default=False, description="a group whose every rollout failed is compared with where the reference answer "
                                   "is, searched for afterwards with the learner's search function (off: skipped, "
                                   "as in the paper)")
    temperature: float = Field(default=0.7, ge=0.0)
    max_steps: int = Field(default=8, ge=1, description="the agent's tool-step limit")
    rollout_timeout_s: float = Field(default=300.0, gt=0)
    rollout_retries: int = Field(default=1, ge=0, description="retries of transient failures (429, 5xx, timeouts)")
    retry_wait_s: float = Field(default=1.0, ge=0, description="first backoff before a retry; doubles, with jitter")
    concurrency: int = Field(default=4, ge=1)
    ground_truth: bool = True
    placement: Placement = Placement.SYSTEM
    validation: ValidationSettings | None = Field(
        default=None, description="keep a step's library change only if it does not lower the mean reward on "
                                  "a validation batch of training tasks (off: every change is kept, as in the paper)")
    delivery: LessonDelivery = Field(default_factory=LessonDelivery,
                                     description="which lessons a rollout sees and where they are said again")
    model_id: str | None = None
    teacher_model_id: str | None = None
    reflection: ReflectionSettings = Field(default_factory=ReflectionSettings)
