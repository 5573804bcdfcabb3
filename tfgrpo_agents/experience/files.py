"""Save and load libraries as JSON files, atomically, with provenance checks."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from pydantic import ValidationError

from tfgrpo_agents._atomic import atomic_write_text
from tfgrpo_agents.experience.errors import LibraryFileError, ModelMismatchWarning
from tfgrpo_agents.experience.library import ExperienceLibrary


def library_to_json(library: ExperienceLibrary, *, include_history: bool = True) -> str:
    exclude = None if include_history else {"history"}
    return library.model_dump_json(indent=2, exclude=exclude) + "\n"


def save_library(
    library: ExperienceLibrary, path: str | os.PathLike[str], *, include_history: bool = True
) -> Path:
    """Write the library to ``path`` atomically: a crash mid-write leaves the previous file intact."""
    return atomic_write_text(path, library_to_json(library, include_history=include_history))


def library_from_json(text: str, *, origin: str = "<string>") -> ExperienceLibrary:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # bad JSON, a 5,000-digit number, nesting too deep
        detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:120]
        raise LibraryFileError(f"{origin} is not valid JSON ({detail}); it does not hold a library") from exc
    if not isinstance(data, dict) or "experiences" not in data:
        raise LibraryFileError(
            f"{origin} is JSON but not an experience library (expected an object with 'experiences')"
        )
    try:
        return ExperienceLibrary.model_validate(data)
    except RecursionError as exc:
        raise LibraryFileError(f"{origin} holds an invalid library: nested too deeply") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LibraryFileError(
            f"{origin} holds an invalid library: {where}: {first['msg']} ({exc.error_count()} error(s))"
        ) from exc


def check_model(library: ExperienceLibrary, model_id: str | None, *, origin: str) -> None:
    """Warn when a library learned with one model is used with another."""
    learned_with = library.meta.model_id
    if model_id and learned_with and learned_with != model_id:
        warnings.warn(
            f"{origin} was learned with model {learned_with!r} but is used with {model_id!r}; "
            "experiences are model-specific and may not transfer",
            ModelMismatchWarning,
            stacklevel=3,
        )


def load_library(path: str | os.PathLike[str], *, model_id: str | None = None) -> ExperienceLibrary:
    """Load a library file; warn with :class:`ModelMismatchWarning` if ``model_id`` differs."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise LibraryFileError(f"no library file at {source}") from exc
    except IsADirectoryError as exc:
        raise LibraryFileError(f"{source} is a directory, not a library file") from exc
    except UnicodeDecodeError as exc:
        raise LibraryFileError(f"{source} is not UTF-8 text (binary or another encoding); it does not hold a "
                               "library") from exc
    except OSError as exc:
        raise LibraryFileError(f"cannot read the library file {source}: {exc.strerror or exc}") from exc
    library = library_from_json(text, origin=str(source))
    check_model(library, model_id, origin=str(source))
    return library
