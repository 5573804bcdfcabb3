"""Fixed-seed train/test splits and stratified samples of task sets."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from tfgrpo_agents.core.tasks import Task


def difficulty(task: Task) -> str:
    """WebWalkerQA keeps it in ``info.Level``; our generated sets in ``info.difficulty``."""
    info = task.metadata.get("info") or {}
    return str(info.get("difficulty") or info.get("Level") or info.get("level") or "unknown").lower()


def proportional_counts(weights: dict[str, int], size: int, capacity: dict[str, int] | None = None) -> dict[str, int]:
    """``size`` split in proportion to ``weights`` (largest remainders get the leftovers), capped by ``capacity``."""
    total = sum(weights.values())
    if total == 0:
        raise ValueError("the weights are all zero")
    cap = capacity or {name: size for name in weights}
    exact = {name: size * weight / total for name, weight in weights.items()}
    counts = {name: min(int(value), cap[name]) for name, value in exact.items()}
    for name in sorted(exact, key=lambda n: exact[n] - int(exact[n]), reverse=True):
        if sum(counts.values()) >= size:
            break
        if counts[name] < cap[name] and weights[name]:
            counts[name] += 1
    return counts


def stratified_sample(tasks: Sequence[Task], size: int, *, ratio: dict[str, int] | None = None,
                      key: Callable[[Task], str] = difficulty, seed: int = 0) -> list[Task]:
    """``size`` tasks drawn per stratum in proportion to ``ratio`` (default: the strata's own sizes).

    Rounding leftovers go to the strata with the largest remainders; a stratum short of tasks
    gives what it has and the rest is filled from the others.
    """
    rng = random.Random(seed)
    strata: dict[str, list[Task]] = {}
    for task in tasks:
        strata.setdefault(key(task), []).append(task)
    for members in strata.values():
        rng.shuffle(members)
    weights = {name: (ratio or {}).get(name, 0 if ratio else len(members)) for name, members in strata.items()}
    if sum(weights.values()) == 0:
        raise ValueError(f"no task falls in the strata {sorted(ratio or {})}; found {sorted(strata)}")
    counts = proportional_counts(weights, size, {name: len(members) for name, members in strata.items()})
    chosen = [task for name, members in strata.items() for task in members[: counts[name]]]
    spare = [task for name, members in strata.items() for task in members[counts[name]:] if weights[name]]
    chosen += spare[: max(0, size - len(chosen))]
    order = {task.id: index for index, task in enumerate(tasks)}
    return sorted(chosen, key=lambda t: order[t.id])


def train_test_split(tasks: Sequence[Task], *, train: int, test: int, seed: int = 0,
                     ratio: dict[str, int] | None = None) -> tuple[list[Task], list[Task]]:
    """Disjoint train and test sets; stratified by difficulty when ``ratio`` is given."""
    if train + test > len(tasks):
        raise ValueError(f"asked for {train} + {test} tasks but the set has {len(tasks)}")
    if ratio:
        test_set = stratified_sample(tasks, test, ratio=ratio, seed=seed)
        rest = [t for t in tasks if t.id not in {x.id for x in test_set}]
        train_set = stratified_sample(rest, train, ratio=ratio, seed=seed + 1)
    else:
        order = list(tasks)
        random.Random(seed).shuffle(order)
        test_set, train_set = order[:test], order[test:test + train]
    return train_set, test_set


def parse_ratio(text: str, names: Sequence[str] = ("easy", "medium", "hard")) -> dict[str, int]:
    """``"4:7:6"`` → ``{"easy": 4, "medium": 7, "hard": 6}``; also accepts ``"easy=4,hard=6"``."""
    if "=" in text:
        return {name.strip().lower(): int(value) for name, value in (part.split("=") for part in text.split(","))}
    values = [int(v) for v in text.split(":")]
    if len(values) != len(names):
        raise ValueError(f"ratio {text!r} needs {len(names)} parts for {', '.join(names)}")
    return dict(zip(names, values, strict=True))
