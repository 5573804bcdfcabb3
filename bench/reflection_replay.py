"""Replay the reflection of a recorded learning run with the current prompts: which lessons come out?

    python bench/reflection_replay.py bench/results/web-docs/learn-g3 --summaries trace

Rollouts are the expensive part of a learning step; the teacher's prompts are what one iterates on.
This reads a run directory's recorded groups (``steps/*/trajectories.jsonl`` and ``tasks.jsonl``),
keeps the groups with signal, and asks the teacher for each group's lessons again — no rollouts —
then maps them onto the library (group_ops, consolidate), step after step, as a run would.
Prints the old and the new lessons side by side, and the library that comes out; ``--out`` (JSON).
``--library-out`` saves that library as a library file, to evaluate as an arm:

    python bench/learning_gain.py --domain web-docs --arms baseline --library LIBRARY_FILE
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from tfgrpo_agents.experience import ExperienceLibrary, LibraryMeta, save_library
from tfgrpo_agents.learning import Reflector, load_tasks, read_trajectories
from tfgrpo_agents.learning.domains import DOMAINS
from tfgrpo_agents.models.local_model import LlamaServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--domain", default="web", choices=sorted(DOMAINS))
    parser.add_argument("--model", default="local")
    parser.add_argument("--summaries", default="trace", choices=["teacher", "trace"])
    parser.add_argument("--out", type=Path, help="write the replayed lessons here (JSON)")
    parser.add_argument("--library-out", type=Path, help="save the replayed library here (a library file)")
    args = parser.parse_args()

    tasks = {t.id: t for t in load_tasks(args.run_dir / "tasks.jsonl")}
    results: list[dict] = []
    library = ExperienceLibrary(meta=LibraryMeta(description=f"reflection of {args.run_dir} replayed"))
    with LlamaServer(args.model, parallel=2) as server:
        teacher = server.chat_model(temperature=0.0, max_tokens=700)
        reflector = Reflector(teacher, DOMAINS[args.domain].reflection(retries=2, summaries=args.summaries))
        reflector.learn_vocabulary(tasks.values())
        for step_dir in sorted((args.run_dir / "steps").glob("step-*")):
            old = {a["task_id"]: a.get("value") for a in json.loads((step_dir / "advantages.json").read_text())}
            groups = defaultdict(list)
            for trajectory in read_trajectories(step_dir / "trajectories.jsonl"):
                groups[trajectory.task_id].append(trajectory)
            step_lessons = []
            for task_id, attempts in groups.items():
                rewards = {t.reward for t in attempts}
                if len(rewards) < 2:
                    continue
                task = tasks[task_id]
                summaries = [(t, reflector.summarize(task, t, library=None)) for t in attempts]
                try:
                    lessons = reflector.advantage(task, summaries)
                except Exception as exc:  # a replay reports a failed stage and goes on
                    lessons = [f"(failed: {exc})"]
                step_lessons.append(lessons)
                results.append({"step": step_dir.name, "task_id": task_id, "question": task.question,
                                "old": old.get(task_id), "new": lessons})
                print(f"\n{step_dir.name} {task_id}: {task.question}\n  old: {old.get(task_id)}\n  new: {lessons}",
                      flush=True)
            proposals = [op for lessons in step_lessons if lessons and not lessons[0].startswith("(failed")
                         for op in reflector.group_ops(lessons, library)]
            plan = reflector.consolidate(proposals, library) if proposals else []
            library.apply(plan, strict=False)
            print(f"\n{step_dir.name} library:\n{library.render()}", flush=True)
    if args.library_out:
        save_library(library, args.library_out)  # creates the folder
    if args.out:
        args.out.write_text(json.dumps({"groups": results, "library": [e.text for e in library.experiences]},
                                       indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
