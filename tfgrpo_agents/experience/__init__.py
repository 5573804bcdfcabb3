"""The experience library: models, ops engine, budget, versions, rendering and persistence."""

from tfgrpo_agents.experience.errors import (
    ExperienceError,
    InvalidOpsError,
    LibraryFileError,
    ModelMismatchWarning,
    UnknownStepError,
)
from tfgrpo_agents.experience.files import load_library, save_library
from tfgrpo_agents.experience.library import ExperienceLibrary, eviction_order
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
)
from tfgrpo_agents.experience.render import (
    DEFAULT_HEADER,
    estimate_tokens,
    render_experiences,
)
from tfgrpo_agents.experience.sources import (
    ExperienceSource,
    JsonFileSource,
    SourceLike,
    StaticSource,
    StoreSource,
    as_source,
)
from tfgrpo_agents.experience.store import (
    experiences_namespace,
    load_from_store,
    meta_namespace,
    save_to_store,
)

__all__ = [
    "DEFAULT_HEADER",
    "AppliedOp",
    "ApplyReport",
    "Experience",
    "ExperienceError",
    "ExperienceLibrary",
    "ExperienceOp",
    "ExperienceSource",
    "InvalidOpsError",
    "JsonFileSource",
    "LibraryDiff",
    "LibraryFileError",
    "LibraryLimits",
    "LibraryMeta",
    "LibrarySnapshot",
    "ModelMismatchWarning",
    "OpKind",
    "RejectedOp",
    "StaticSource",
    "SourceLike",
    "StoreSource",
    "UnknownStepError",
    "as_source",
    "estimate_tokens",
    "eviction_order",
    "experiences_namespace",
    "load_from_store",
    "load_library",
    "meta_namespace",
    "render_experiences",
    "save_library",
    "save_to_store",
]
