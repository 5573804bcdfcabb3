"""Replay an arm's recorded web searches through today's local search, without a model.

    python bench/search_replay.py bench/results/web-docs/eval/baseline

Every ``web_search`` call in the arm's ``trajectories.jsonl`` is asked again of the local index over the
Python docs. For the questions whose answer is a version ("In which Python version was X added?") it counts,
for the recorded results and for today's: how often the reference answer is in the results at all, and how
often the *first* "New in version" note in them is the right one (the note a reader takes first). A change
to the search tool shows here before any model time is spent on it.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from tfgrpo_agents.core.trajectory import read_trajectories
from tfgrpo_agents.learning import load_tasks
from tfgrpo_agents.learning.evidence import whole
from tfgrpo_agents.tools.search import format_hits
from tfgrpo_agents.tools.search_index import LocalSearchIndex

ROOT = Path(__file__).resolve().parent.parent

NOTE = re.compile(r"New in version (\d+(?:\.\d+)*)")
SITE = ROOT.parent / "shared" / "data" / "sites" / "python-3.11-docs.tar.gz"


def first_note(text: str) -> str | None:
    match = NOTE.search(text)
    return match.group(1) if match else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("arm_dir", type=Path)
    parser.add_argument("--tasks", type=Path, default=ROOT / "tasks" / "python_docs" / "test.jsonl")
    parser.add_argument("--all-questions", action="store_true",
                        help="every question with an answer, not only version questions; also prints each query's first hit")
    args = parser.parse_args()
    tasks = {(t.id, t.question): t for t in load_tasks(args.tasks)}
    index = LocalSearchIndex.for_site(SITE)
    counts = {"searches": 0, "answer shown (recorded)": 0, "answer shown (today)": 0,
              "first note right (recorded)": 0, "first note right (today)": 0}
    for trajectory in read_trajectories(args.arm_dir / "trajectories.jsonl"):
        task = tasks.get((trajectory.task_id, trajectory.question))
        if task is None or not task.answer:
            continue
        if not args.all_questions and not re.fullmatch(r"\d+(\.\d+)+", str(task.answer)):
            continue  # version questions only
        for call in trajectory.tool_calls:
            if call.name != "web_search" or not call.output:
                continue
            query = str(call.args.get("query", ""))
            recorded = call.output.split("\n\nQuestion:")[0]  # the scaffold's reminder follows the results
            hits = index.search(query)
            today = format_hits(query, hits)
            if args.all_questions:
                print(f"{query!r} -> {hits[0].url if hits else None}")
            counts["searches"] += 1
            for label, text in (("recorded", recorded), ("today", today)):
                counts[f"answer shown ({label})"] += bool(whole(str(task.answer)).search(text))
                counts[f"first note right ({label})"] += first_note(text) == str(task.answer)
    index.close()
    for key, value in counts.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
