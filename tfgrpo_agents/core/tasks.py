"""Tasks and one loader for the task files users bring (jsonl or json).

Accepted as they are: WebWalkerQA (``question``, ``answer``, ``root_url``, ``info``), GSM8K
(``answer`` is a solution ending in ``#### N``), SVAMP (``Body`` + ``Question``, ``Answer``),
AIME/AMC (``problem``, ``answer``) and our own generated files; GSM8K-style sets also straight
from the Hugging Face hub (``hf:openai/gsm8k:main:test``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from tfgrpo_agents._text import clean_text
from tfgrpo_agents.errors import TfgrpoError

_GSM8K_FINAL = re.compile(r"####\s*(.+?)\s*$", re.DOTALL)


class TaskFileError(TfgrpoError, ValueError):
    """A task file (or one of its lines) is not usable; the message names the file, line and field."""


class Task(BaseModel):
    id: str
    question: str
    answer: str | None = None
    root_url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class _NotText(TypeError):
    pass


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        raise _NotText(f"a {type(value).__name__}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = clean_text(str(value)).strip()
    return text or None


def task_from_record(record: dict[str, Any], *, default_id: str) -> Task:
    """Map one record onto a :class:`Task` with a small explicit table of known field names."""
    question = _text(record.get("question")) or _text(record.get("problem"))
    if "Body" in record and "Question" in record:  # SVAMP keeps the setting and the question apart
        question = f"{_text(record['Body'])} {_text(record['Question'])}".strip()
    if not question:
        raise KeyError("question")
    answer = _text(record.get("answer", record.get("Answer")))
    metadata: dict[str, Any] = {}
    if answer and (final := _GSM8K_FINAL.search(answer)):
        metadata["solution"] = answer
        answer = final.group(1).replace(",", "").strip()
    for key in ("info", "metadata", "Equation", "Type", "url", "solution"):
        if key in record and key not in metadata:
            metadata[key.lower()] = record[key]
    identifier = _text(record.get("id", record.get("ID", record.get("idx")))) or default_id
    return Task(id=identifier, question=question, answer=answer, root_url=_text(record.get("root_url")),
                metadata=metadata)


def load_tasks(path: str | os.PathLike[str]) -> list[Task]:
    """Read tasks from a ``.jsonl`` (one object per line) or ``.json`` (a list) file.

    ``hf:OWNER/DATASET[:CONFIG[:SPLIT]]`` (e.g. ``hf:openai/gsm8k:main:test``) loads a split from
    the Hugging Face hub, cached locally after the first download.
    """
    if str(path).startswith("hf:"):
        from tfgrpo_agents.core.hub import HubError, fetch

        try:
            path = fetch(str(path))
        except (HubError, ValueError) as exc:
            raise TaskFileError(str(exc)) from exc
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskFileError(f"cannot read task file {source}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise TaskFileError(f"{source} is not UTF-8 text (a binary file?); give a .jsonl or .json task file") from None
    records: list[tuple[int, Any]]
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = list(enumerate(json.loads(text), start=1))
        except (ValueError, RecursionError) as exc:
            raise TaskFileError(f"{source}: not valid JSON ({str(exc)[:120] or 'nested too deeply'})") from None
        where = "item"
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except (ValueError, RecursionError) as exc:
                detail = exc.msg if isinstance(exc, json.JSONDecodeError) else (str(exc)[:120] or "nested too deeply")
                raise TaskFileError(f"{source}:{number}: not valid JSON ({detail})") from None
        where = "line"
    tasks: list[Task] = []
    seen: set[str] = set()
    for number, record in records:
        if not isinstance(record, dict):
            raise TaskFileError(f"{source} {where} {number}: expected an object, got {type(record).__name__}")
        try:
            task = task_from_record(record, default_id=f"{source.stem}-{number}")
        except KeyError:
            raise TaskFileError(
                f"{source} {where} {number}: missing the question (a 'question' or 'problem' field)"
            ) from None
        except _NotText as exc:
            raise TaskFileError(f"{source} {where} {number}: the question, answer and id must be text or numbers, "
                                f"got {exc}") from None
        if task.id in seen:
            task = task.model_copy(update={"id": f"{task.id}#{number}"})
        seen.add(task.id)
        tasks.append(task)
    if not tasks:
        raise TaskFileError(f"{source} holds no tasks")
    return tasks
