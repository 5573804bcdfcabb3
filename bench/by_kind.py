"""Accuracy by question kind for recorded evaluation arms, with the errors that explain it.

    python bench/by_kind.py bench/results/web-docs/eval baseline tf-grpo-trace-positive g1-trace-positive

For each arm: Mean over all samples per kind (the task's ``info.domain``), the most common wrong answer of
each kind with its count, how many wrong rollouts had the reference answer in one of their tool results
(a reading error, not a search error), and where each wrong answer came from (``answer_source``).
Reads ``<eval dir>/<arm>/trajectories.jsonl`` and the task files under ``tasks/``; runs no model.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

from tfgrpo_agents.core.trajectory import read_trajectories
from tfgrpo_agents.learning import load_tasks
from tfgrpo_agents.learning.evidence import answer_source, reference_location

ROOT = Path(__file__).resolve().parent.parent


def kind_of(task) -> str:
    return (task.metadata.get("info") or {}).get("domain", "other")


SOURCES = [("words around the correct value", "words around the right value"), ("only part of", "part of the right value"),
           ("website address", "the website address"), ("from the question", "the question"),
           ("its own guess", "its own tool call"), ("wrong part of its tool result", "the wrong part of a result"),
           ("from memory", "memory")]


def source_kind(phrase: str | None) -> str:
    """Which of ``answer_source``'s origins a phrase names."""
    return next((name for marker, name in SOURCES if phrase and marker in phrase), "not traced")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("arms", nargs="+")
    parser.add_argument("--tasks", type=Path, nargs="*",
                        default=[ROOT / "tasks" / "python_docs" / "test.jsonl",
                                 ROOT / "tasks" / "synthetic_web" / "test.jsonl",
                                 ROOT / "tasks" / "synthetic_web" / "train.jsonl"])
    args = parser.parse_args()
    # task sets reuse ids ("test-000"): a rollout is matched by its id and its question
    tasks = {(t.id, t.question): t for path in args.tasks if path.exists() for t in load_tasks(path)}

    rows = []
    for arm in args.arms:
        rewards, wrong, in_result, sources = defaultdict(list), defaultdict(Counter), Counter(), Counter()
        for trajectory in read_trajectories(args.eval_dir / arm / "trajectories.jsonl"):
            task = tasks.get((trajectory.task_id, trajectory.question))
            if task is None:
                continue
            kind = kind_of(task)
            rewards[kind].append(trajectory.reward or 0.0)
            if (trajectory.reward or 0.0) < 1.0:
                wrong[kind][" ".join((trajectory.final_answer or "(none)").split())[:40]] += 1
                if task.answer and reference_location(trajectory, str(task.answer)) is not None:
                    in_result[kind] += 1
                sources[source_kind(answer_source(trajectory, task))] += 1
        rows.append((arm, rewards, wrong, in_result, sources))

    kinds = sorted({k for _, rewards, *_ in rows for k in rewards})
    print("| arm | " + " | ".join(f"{k} ({len(rows[0][1].get(k, []))})" for k in kinds)
          + " | wrong with the answer in a result |")
    print("|---|" + "---|" * (len(kinds) + 1))
    for arm, rewards, _, in_result, _ in rows:
        cells = [f"{sum(rewards[k]) / len(rewards[k]):.3f}" if rewards.get(k) else "–" for k in kinds]
        print(f"| {arm} | " + " | ".join(cells) + f" | {sum(in_result.values())} |")
    print()
    for arm, _, wrong, in_result, sources in rows:
        print(f"{arm}:")
        for kind in kinds:
            common = ", ".join(f"«{answer}» {count}" for answer, count in wrong[kind].most_common(2))
            print(f"  {kind}: most common wrong answers {common or '–'}; answer in a result {in_result[kind]}")
        print("  wrong answers came from: " + ", ".join(f"{s} {n}" for s, n in sources.most_common()))


if __name__ == "__main__":
    main()
