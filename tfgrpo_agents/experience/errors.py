"""Errors and warnings raised by the experience library."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfgrpo_agents.errors import TfgrpoError

if TYPE_CHECKING:
    from tfgrpo_agents.experience.models import ApplyReport


class ExperienceError(TfgrpoError):
    """Base class for experience-library errors."""


class InvalidOpsError(ExperienceError):
    """A batch of operations held invalid ops; nothing was applied.

    ``report.rejected`` lists every invalid op with its reason.
    """

    def __init__(self, report: ApplyReport) -> None:
        self.report = report
        reasons = "; ".join(f"op #{r.index}: {r.reason}" for r in report.rejected)
        super().__init__(f"{len(report.rejected)} invalid op(s), nothing applied: {reasons}")


class LibraryFileError(ExperienceError):
    """A library file could not be read or does not hold a valid library."""


class UnknownStepError(ExperienceError, KeyError):
    """A snapshot was requested for a step the library has no record of."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else "unknown step"


class ModelMismatchWarning(UserWarning):
    """A library learned with one model is being used with another.

    Experiences are model-specific: lessons that helped one model may not help another.
    """


class LibraryConflictError(ExperienceError):
    """A write expected one version of a stored library and found another; nothing was written."""

    def __init__(self, namespace: tuple[str, ...], expected: int, found: int) -> None:
        self.namespace, self.expected, self.found = namespace, expected, found
        super().__init__(f"the library in store namespace {namespace} is at revision {found}, not {expected}: "
                         "another writer changed it; re-read it and apply your ops again (StoreLibrary.apply does)")
