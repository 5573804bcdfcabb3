"""Pydantic models for experiences, the operations that edit them, and what applying them did."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tfgrpo_agents._text import clean_text

FORMAT_VERSION = 1


def utc_now() -> datetime:
    return datetime.now(timezone.utc)




def placeholder_problem(text: str, min_words: int = 1) -> str | None:
    """Why ``text`` is a copied format placeholder ("...", "<lesson>") rather than a lesson, if it is one.

    Small teachers copy the reply format literally. The library refuses text without a word;
    the reflection stages ask for ``min_words`` (3) real words.
    """
    stripped = text.strip()
    if stripped.startswith("<") and stripped.endswith(">"):
        return f"text {stripped!r} is the format's placeholder; write the lesson itself"
    if sum(1 for word in stripped.split() if any(ch.isalpha() for ch in word)) < min_words:
        return f"text {stripped!r} is not a lesson; write at least {min_words} words of advice"
    return None


class OpKind(StrEnum):
    """The four edits the reflection stages may propose."""

    ADD = "ADD"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    NONE = "NONE"


class Experience(BaseModel):
    """One lesson in the library.

    ``id`` is stable for the lifetime of the library (``G0``, ``G1``, … never reused), so
    reflection prompts can refer to it and diffs across steps line up.
    ``helpful``/``harmful`` count the evidence for and against it; eviction uses them.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    created_step: int = 0
    updated_step: int = 0
    helpful: int = Field(default=1, ge=0)
    harmful: int = Field(default=0, ge=0)
    domain: str | None = None
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # provenance: the groups (task ids) whose comparison produced or backed it

    @field_validator("text", mode="before")
    @classmethod
    def _clean_text(cls, value: Any) -> Any:
        return clean_text(value) if isinstance(value, str) else value

    @property
    def evidence(self) -> int:
        return self.helpful - self.harmful

    @property
    def number(self) -> int:
        """The numeric part of the id, for stable ordering (``G10`` after ``G9``)."""
        digits = "".join(ch for ch in self.id if ch.isdigit())
        return int(digits) if digits else -1


class ExperienceOp(BaseModel):
    """An edit proposed for the library.

    ``support`` is how many groups backed the op after consolidation; it becomes evidence.
    """

    model_config = ConfigDict(frozen=True)

    op: OpKind
    id: str | None = None
    text: str | None = None
    reason: str | None = None
    support: int = Field(default=1, ge=0)
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # the groups (task ids) the op came from, kept on the experience

    @field_validator("op", mode="before")
    @classmethod
    def _normalize_op(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip().upper()
        return value

    @field_validator("id", mode="before")
    @classmethod
    def _normalize_id(cls, value: Any) -> Any:
        if isinstance(value, int):
            return f"G{value}"
        if isinstance(value, str):
            value = value.strip().strip("[]").strip()
            return value or None
        return value

    @field_validator("text", mode="before")
    @classmethod
    def _normalize_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return " ".join(clean_text(value).split())
        return value


Outcome = Literal["added", "updated", "update_as_add", "reinforced", "merged", "deleted", "none"]


class AppliedOp(BaseModel):
    """What one op did: which experience it touched and how."""

    index: int
    op: ExperienceOp
    outcome: Outcome
    experience_id: str | None = None
    note: str | None = None


class RejectedOp(BaseModel):
    """An op that failed validation, with the reason a human (or a retrying teacher) can act on."""

    index: int
    raw: Any
    reason: str


class ApplyReport(BaseModel):
    """The result of applying one batch of ops."""

    step: int
    applied: list[AppliedOp] = Field(default_factory=list)
    rejected: list[RejectedOp] = Field(default_factory=list)
    evicted: list[Experience] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def count(self, outcome: Outcome) -> int:
        return sum(1 for item in self.applied if item.outcome == outcome)


class LibraryLimits(BaseModel):
    """Bounds that keep the library small enough to fit a prompt.

    ``max_tokens`` is measured on the rendered prompt block with :func:`estimate_tokens`.
    """

    word_cap: int = Field(default=32, ge=1)
    max_experiences: int | None = Field(default=50, ge=1)
    max_tokens: int | None = Field(default=1500, ge=16)


class LibraryMeta(BaseModel):
    """Provenance carried through export and import: libraries are model-specific."""

    model_id: str | None = None
    domain: str | None = None
    description: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    format_version: int = FORMAT_VERSION


class LibrarySnapshot(BaseModel):
    """The library as it stood after a learning step, and the ops that produced it."""

    step: int
    experiences: list[Experience]
    next_id: int
    ops: list[AppliedOp] = Field(default_factory=list)
    evicted: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utc_now)


class LibraryDiff(BaseModel):
    """Differences between two steps of a library, keyed by experience id."""

    from_step: int
    to_step: int
    added: list[Experience] = Field(default_factory=list)
    removed: list[Experience] = Field(default_factory=list)
    changed: list[tuple[Experience, Experience]] = Field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def render(self) -> str:
        """A unified-diff-like view: ``+`` added, ``-`` removed, ``~`` changed text."""
        lines = [f"step {self.from_step} -> step {self.to_step}"]
        lines += [f"+ [{e.id}] {e.text}" for e in self.added]
        lines += [f"- [{e.id}] {e.text}" for e in self.removed]
        for before, after in self.changed:
            lines.append(f"~ [{after.id}] {before.text}\n    => {after.text}")
        if self.is_empty:
            lines.append("(no changes)")
        return "\n".join(lines)
