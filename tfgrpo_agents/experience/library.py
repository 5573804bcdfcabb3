"""The experience library: a bounded, versioned set of lessons edited by ADD/UPDATE/DELETE/NONE ops."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator
from rapidfuzz import fuzz, utils

from tfgrpo_agents._text import word_count
from tfgrpo_agents.experience.errors import InvalidOpsError, UnknownStepError
from tfgrpo_agents.experience.models import (
    AppliedOp,
    ApplyReport,
    Experience,
    ExperienceOp,
    LibraryDiff,
    LibraryLimits,
    LibraryMeta,
    LibrarySnapshot,
    OpKind,
    RejectedOp,
    placeholder_problem,
    utc_now,
)
from tfgrpo_agents.experience.render import (
    DEFAULT_HEADER,
    estimate_tokens,
    ordered,
    render_experiences,
)

logger = logging.getLogger(__name__)

ID_PREFIX = "G"


REWORDING_SCORE = 95
"""rapidfuzz token-sort score (0-100) at which two lessons are the same words reordered or retyped.
Lessons on one topic that say different things ("answer with the version number only" / "answer
with the full name only") score 70-85, so the bar is high; subsets are caught separately."""
WIDENING_WORDS = 3
"""A repeat that adds at least this many new words replaces the old wording (it says more)."""


def _words(text: str) -> set[str]:
    return set(utils.default_process(text).split())


def near_duplicate(text: str, experiences: Iterable[Experience]) -> Experience | None:
    """The experience ``text`` repeats, if any: same words in another order, or a subset or superset.

    Small teachers re-propose a lesson in other words or glue two existing ones together;
    counting those as evidence for the existing lesson keeps the library short.
    """
    words = _words(text)
    for experience in experiences:
        old = _words(experience.text)
        if words and old and (words <= old or old <= words):
            return experience
        if fuzz.token_sort_ratio(text, experience.text, processor=utils.default_process) >= REWORDING_SCORE:
            return experience
    return None


def eviction_order(experiences: Iterable[Experience]) -> list[Experience]:
    """Who goes first when the library is over budget.

    Lowest evidence (helpful - harmful) first; among equals the least recently updated,
    then the oldest id. Lessons that several groups confirmed survive; stale one-offs do not.
    """
    return sorted(experiences, key=lambda e: (e.evidence, e.updated_step, e.number))


class ExperienceLibrary(BaseModel):
    """A bounded set of experiences with a snapshot for every learning step.

    Edit it only through :meth:`apply`, which validates a whole batch of ops first and then
    applies it all or not at all, enforces the budget and records a snapshot.
    """

    meta: LibraryMeta = Field(default_factory=LibraryMeta)
    limits: LibraryLimits = Field(default_factory=LibraryLimits)
    step: int = 0
    next_id: int = 0
    experiences: list[Experience] = Field(default_factory=list)
    history: list[LibrarySnapshot] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> ExperienceLibrary:
        seen: set[str] = set()
        for experience in self.experiences:
            if experience.id in seen:
                raise ValueError(f"experience id {experience.id!r} appears more than once")
            seen.add(experience.id)
        return self

    def model_post_init(self, __context: Any) -> None:
        # Never hand out an id that is already taken, whoever wrote the experiences.
        self.next_id = max([self.next_id, *(e.number + 1 for e in self.experiences)])
        if not self.history:
            self.history.append(self._snapshot())

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        *,
        meta: LibraryMeta | None = None,
        limits: LibraryLimits | None = None,
    ) -> ExperienceLibrary:
        """Seed a library with hand-written lessons (validated like ADD ops, recorded as step 0)."""
        library = cls(meta=meta or LibraryMeta(), limits=limits or LibraryLimits())
        ops = [ExperienceOp(op=OpKind.ADD, text=text) for text in texts]
        staged, report = library._stage(ops, step=0)
        if report.rejected:
            raise InvalidOpsError(report)
        library._commit(staged, report, step=0, replace_snapshot=True)
        return library

    def as_seed(self) -> ExperienceLibrary:
        """A copy holding these lessons as step 0, its history left behind: a learning run numbers its steps
        from 1, so a library another run left at step 4 would be taken for this run's own later steps."""
        return ExperienceLibrary(meta=self.meta.model_copy(), limits=self.limits.model_copy(), next_id=self.next_id,
                                 experiences=list(self.experiences))

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self.experiences)

    def get(self, experience_id: str) -> Experience | None:
        return next((e for e in self.experiences if e.id == experience_id), None)

    def texts(self) -> list[str]:
        return [e.text for e in ordered(self.experiences)]

    def render(self, *, header: str = DEFAULT_HEADER) -> str:
        return render_experiences(self.experiences, header=header)

    def token_count(self) -> int:
        return estimate_tokens(self.render())

    def digest(self) -> str:
        """A short fingerprint of what an agent is shown (ids and texts, in order).

        Recorded with each rollout, so a rollout made with one library is never taken for another's
        that happens to sit at the same step.
        """
        shown = "\n".join(f"{e.id}\t{e.text}" for e in ordered(self.experiences))
        return hashlib.sha256(shown.encode()).hexdigest()[:16]

    # ------------------------------------------------------------------ editing
    def apply(
        self,
        ops: Iterable[ExperienceOp | Mapping[str, Any]],
        *,
        step: int | None = None,
        strict: bool = True,
    ) -> ApplyReport:
        """Apply a batch of ops as one learning step and snapshot the result.

        Every op is validated before anything changes. With ``strict=True`` (default) a single
        invalid op rejects the whole batch with :class:`InvalidOpsError` and the library is left
        exactly as it was; with ``strict=False`` invalid ops are dropped (listed in
        ``report.rejected``) and the valid ones are applied together.
        """
        step = self.step + 1 if step is None else step
        if step <= self.step:
            raise ValueError(f"step {step} is not after the library's current step {self.step}")
        staged, report = self._stage(ops, step=step)
        if report.rejected and strict:
            raise InvalidOpsError(report)
        self._commit(staged, report, step=step)
        return report

    def check(self, ops: Iterable[ExperienceOp | Mapping[str, Any]]) -> list[RejectedOp]:
        """Validate a batch against the current library without changing anything."""
        _, report = self._stage(ops, step=self.step + 1, quiet=True)
        return report.rejected

    def record_feedback(self, experience_id: str, *, helpful: int = 0, harmful: int = 0) -> Experience:
        """Add evidence for or against an experience (e.g. from evaluation) without a new step."""
        current = self.get(experience_id)
        if current is None:
            raise KeyError(f"no experience with id {experience_id!r}")
        updated = current.model_copy(
            update={"helpful": current.helpful + helpful, "harmful": current.harmful + harmful}
        )
        self.experiences = [updated if e.id == experience_id else e for e in self.experiences]
        self.meta.updated_at = utc_now()
        return updated

    # ------------------------------------------------------------------ versions
    @property
    def steps(self) -> list[int]:
        return [snapshot.step for snapshot in self.history]

    def snapshot(self, step: int) -> LibrarySnapshot:
        for snapshot in self.history:
            if snapshot.step == step:
                return snapshot
        raise UnknownStepError(f"no snapshot for step {step}; known steps: {self.steps}")

    def at_step(self, step: int) -> ExperienceLibrary:
        """A detached copy of the library as it was after ``step`` (history up to that step)."""
        snapshot = self.snapshot(step)
        return ExperienceLibrary(
            meta=self.meta.model_copy(),
            limits=self.limits.model_copy(),
            step=step,
            next_id=snapshot.next_id,
            experiences=list(snapshot.experiences),
            history=[s for s in self.history if s.step <= step],
        )

    def diff(self, from_step: int, to_step: int | None = None) -> LibraryDiff:
        """What changed between two steps (``to_step`` defaults to the current one)."""
        to_step = self.step if to_step is None else to_step
        before = {e.id: e for e in self.snapshot(from_step).experiences}
        after = {e.id: e for e in self.snapshot(to_step).experiences}
        return LibraryDiff(
            from_step=from_step,
            to_step=to_step,
            added=ordered(e for i, e in after.items() if i not in before),
            removed=ordered(e for i, e in before.items() if i not in after),
            changed=[
                (before[i], after[i])
                for i in (e.id for e in ordered(after.values()))
                if i in before and before[i].text != after[i].text
            ],
        )

    def rollback(self, step: int) -> None:
        """Return to the library as it was after ``step``; later snapshots are discarded.

        Ids are never reused, so an experience added after a rollback gets a new id even if a
        discarded step had used the next one.
        """
        snapshot = self.snapshot(step)
        self.experiences = list(snapshot.experiences)
        self.history = [s for s in self.history if s.step <= step]
        self.step = step
        self.meta.updated_at = utc_now()
        logger.info("library rolled back to step %d", step)

    # ------------------------------------------------------------------ internals
    def _snapshot(self, report: ApplyReport | None = None) -> LibrarySnapshot:
        return LibrarySnapshot(
            step=self.step,
            experiences=ordered(self.experiences),
            next_id=self.next_id,
            ops=list(report.applied) if report else [],
            evicted=[e.id for e in report.evicted] if report else [],
        )

    def _validate_op(self, raw: ExperienceOp | Mapping[str, Any]) -> ExperienceOp | str:
        """Return a valid op or the reason it is invalid."""
        if isinstance(raw, ExperienceOp):
            op = raw
        else:
            try:
                op = ExperienceOp.model_validate(raw)
            except ValidationError as exc:
                return _describe_validation_error(raw, exc)
        if op.op in (OpKind.ADD, OpKind.UPDATE):
            if not op.text:
                return f"{op.op} needs a non-empty text"
            placeholder = placeholder_problem(op.text)
            if placeholder:
                return f"{op.op} {placeholder}"
            words = word_count(op.text)
            if words > self.limits.word_cap:
                return f"{op.op} text has {words} words, over the cap of {self.limits.word_cap}"
        if op.op in (OpKind.UPDATE, OpKind.DELETE) and not op.id:
            return f"{op.op} needs the id of the experience it targets"
        return op

    def _stage(
        self, raw_ops: Iterable[ExperienceOp | Mapping[str, Any]], *, step: int, quiet: bool = False
    ) -> tuple[dict[str, Any], ApplyReport]:
        """Apply ops to a copy of the state; nothing on ``self`` changes here."""
        current: dict[str, Experience] = {e.id: e for e in self.experiences}
        next_id = self.next_id
        report = ApplyReport(step=step)
        if isinstance(raw_ops, (str, bytes, Mapping, BaseModel)) or not isinstance(raw_ops, Iterable):
            report.rejected.append(RejectedOp(index=0, raw=_jsonable(raw_ops), reason=(
                f"ops must be a list of operations, got {type(raw_ops).__name__}")))
            return {"experiences": list(self.experiences), "next_id": next_id}, report

        def reinforce(duplicate: Experience, op: ExperienceOp, helpful: int, sources: tuple[str, ...]) -> bool:
            """Count ``op`` as evidence for the experience it repeats; the richer wording wins when the new
            text says everything the old one did and more. Whether the text was widened."""
            richer = len(_words(op.text or "") - _words(duplicate.text)) >= WIDENING_WORDS
            current[duplicate.id] = duplicate.model_copy(
                update={"helpful": duplicate.helpful + helpful, "updated_step": step,
                        "sources": _merged(duplicate.sources, sources), **({"text": op.text} if richer else {})})
            return richer

        def add(op: ExperienceOp, index: int, outcome: str, note: str | None = None) -> None:
            nonlocal next_id
            duplicate = near_duplicate(op.text or "", current.values())
            if duplicate is not None:
                widened = reinforce(duplicate, op, op.support, op.sources)
                report.applied.append(
                    AppliedOp(index=index, op=op, outcome="reinforced", experience_id=duplicate.id,
                              note=f"repeats {duplicate.id}; its evidence was increased"
                                   + (" and its text widened" if widened else ""))
                )
                return
            new_id = f"{ID_PREFIX}{next_id}"
            next_id += 1
            current[new_id] = Experience(
                id=new_id, text=op.text or "", created_step=step, updated_step=step,
                helpful=op.support, domain=self.meta.domain, tags=op.tags, sources=op.sources,
            )
            report.applied.append(
                AppliedOp(index=index, op=op, outcome=outcome, experience_id=new_id, note=note)
            )

        updated: set[str] = set()
        for index, raw in enumerate(raw_ops):
            checked = self._validate_op(raw)
            if isinstance(checked, str):
                report.rejected.append(RejectedOp(index=index, raw=_jsonable(raw), reason=checked))
                continue
            op = checked
            if op.op is OpKind.ADD:
                add(op, index, "added")
            elif op.op is OpKind.UPDATE:
                target = current.get(op.id or "")
                if target is None or target.id in updated:
                    # a plan that rewrites one experience several times holds several lessons (a small teacher
                    # filed a step's six lessons as "UPDATE G0"): the first rewrites it, the others are added
                    note = (f"UPDATE targeted unknown id {op.id}" if target is None
                            else f"UPDATE of {op.id}, already updated by this plan") + "; applied as ADD"
                    if not quiet:
                        logger.warning(note)
                    add(op, index, "update_as_add", note)
                elif (same := near_duplicate(op.text or "", (e for e in current.values() if e.id != target.id))):
                    # rewritten into what another experience says (the 1.5B teacher turned two lessons into
                    # copies of their neighbours): the two become one, with the evidence of both
                    del current[target.id]
                    reinforce(same, op, target.helpful + op.support, _merged(target.sources, op.sources))
                    report.applied.append(AppliedOp(index=index, op=op, outcome="merged", experience_id=same.id,
                                                    note=f"{target.id} rewritten into what {same.id} says; "
                                                         f"merged into {same.id}"))
                else:
                    updated.add(target.id)
                    current[target.id] = target.model_copy(
                        update={
                            "text": op.text,
                            "updated_step": step,
                            "helpful": target.helpful + op.support,
                            "tags": op.tags or target.tags,
                            "sources": _merged(target.sources, op.sources),
                        }
                    )
                    report.applied.append(
                        AppliedOp(index=index, op=op, outcome="updated", experience_id=target.id)
                    )
            elif op.op is OpKind.DELETE:
                if op.id not in current:
                    report.rejected.append(
                        RejectedOp(index=index, raw=_jsonable(raw),
                                   reason=f"DELETE targets unknown id {op.id}")
                    )
                    continue
                del current[op.id]
                report.applied.append(
                    AppliedOp(index=index, op=op, outcome="deleted", experience_id=op.id)
                )
            else:
                report.applied.append(
                    AppliedOp(index=index, op=op, outcome="none", experience_id=op.id)
                )

        kept, evicted = self._enforce_budget(list(current.values()))
        report.evicted = evicted
        return {"experiences": kept, "next_id": next_id}, report

    def _enforce_budget(self, experiences: list[Experience]) -> tuple[list[Experience], list[Experience]]:
        kept = ordered(experiences)
        evicted: list[Experience] = []
        limits = self.limits

        def over() -> bool:
            if limits.max_experiences is not None and len(kept) > limits.max_experiences:
                return True
            return limits.max_tokens is not None and estimate_tokens(render_experiences(kept)) > limits.max_tokens

        while kept and over():
            victim = eviction_order(kept)[0]
            kept.remove(victim)
            evicted.append(victim)
        if evicted:
            logger.info("budget evicted %s", ", ".join(e.id for e in evicted))
        return kept, evicted

    def _commit(
        self, staged: dict[str, Any], report: ApplyReport, *, step: int, replace_snapshot: bool = False
    ) -> None:
        self.experiences = staged["experiences"]
        self.next_id = staged["next_id"]
        self.step = step
        self.meta.updated_at = utc_now()
        if replace_snapshot:
            self.history = [s for s in self.history if s.step != step]
        self.history.append(self._snapshot(report))


def _merged(old: tuple[str, ...], new: tuple[str, ...], keep: int = 20) -> tuple[str, ...]:
    """Provenance of an edited lesson: earlier sources first, newest last, bounded."""
    return tuple(dict.fromkeys([*old, *new]))[-keep:]


def _jsonable(raw: Any) -> Any:
    if isinstance(raw, BaseModel):
        return raw.model_dump(mode="json")
    if isinstance(raw, Mapping):
        return dict(raw)
    return repr(raw)


def _describe_validation_error(raw: Any, exc: ValidationError) -> str:
    if isinstance(raw, Mapping) and "op" in raw:
        op = str(raw["op"]).strip().upper()
        if op not in OpKind.__members__:
            return f"unknown operation {raw['op']!r} (expected one of ADD, UPDATE, DELETE, NONE)"
    if not isinstance(raw, Mapping):
        return f"an op must be an object with 'op', 'id' and 'text', got {type(raw).__name__}"
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'op'}: {err['msg']}" for err in exc.errors()
    )
    return f"malformed op: {problems}"
