"""Which lessons `relevant` delivery shows each question, under one or more libraries, without a model.

    python bench/selection_replay.py bench/oracle/web-synthetic.json LIB.json --web-seeds 0-5
    python bench/selection_replay.py bench/oracle/web-glib.json --tasks tasks/glib_docs

Questions come from the synthetic web generated with each seed (every site's questions) or from task
files. They are grouped by kind — the page that answers them on the synthetic web, the question's
first words elsewhere — and for each kind the selections are counted ("G1: 13" — thirteen questions
of the kind were shown G1 alone). A change to the selection rule shows here, question by question,
before any model time is spent on it: `--compare REV` prints only the kinds whose selection differs
from the rule at git revision REV.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

from tfgrpo_agents.agents.delivery import _without_names, matching_lessons
from tfgrpo_agents.datasets.synthetic_web import build_sites
from tfgrpo_agents.experience import load_library
from tfgrpo_agents.learning import load_tasks

ROOT = Path(__file__).resolve().parent.parent


def seeds(spec: str) -> list[int]:
    first, _, last = spec.partition("-")
    return list(range(int(first), int(last or first) + 1))


def questions(args: argparse.Namespace) -> dict[str, str]:
    """Each distinct question with its kind: its first six words, names set aside, numbers as N."""
    asked = [t.question for folder in args.tasks for path in sorted(folder.glob("*.jsonl")) for t in load_tasks(path)]
    asked += [qa["question"] for seed in (seeds(args.web_seeds) if args.web_seeds else [])
              for site in build_sites(seed) for qa in site.qa]
    return {question: " ".join(re.sub(r"\d+", "N", _without_names(question)).split()[:6]) for question in asked}


def selections(libraries: list[Path], asked: dict[str, str], limit: int) -> dict[str, dict[str, Counter]]:
    """library → kind → Counter of the selected ids (joined with '+', '—' for none)."""
    table: dict[str, dict[str, Counter]] = {}
    for path in libraries:
        experiences = load_library(path).experiences
        by_kind: dict[str, Counter] = defaultdict(Counter)
        for question, kind in asked.items():
            chosen = [e.id for e in matching_lessons(experiences, question, limit)]
            by_kind[kind]["+".join(chosen) or "—"] += 1
        table[str(path)] = dict(by_kind)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("libraries", type=Path, nargs="+")
    parser.add_argument("--web-seeds", default="", metavar="A-B", help="synthetic webs to take questions from")
    parser.add_argument("--tasks", type=Path, action="append", default=[], help="a folder of task files (repeatable)")
    parser.add_argument("--limit", type=int, default=3)
    parser.add_argument("--compare", metavar="REV", help="print only what differs from the selection rule at REV")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # used by --compare
    args = parser.parse_args()
    if not args.web_seeds and not args.tasks:
        parser.error("give --web-seeds or --tasks")
    table = selections(args.libraries, questions(args), args.limit)
    if args.json:
        print(json.dumps({lib: {kind: dict(c) for kind, c in kinds.items()} for lib, kinds in table.items()}))
        return
    earlier = list(_at_revision(args.compare, sys.argv[1:]).values()) if args.compare else None
    for index, (library, kinds) in enumerate(table.items()):
        before = earlier[index] if earlier is not None else None
        total = sum(sum(c.values()) for c in kinds.values())
        changed = [k for k in kinds if before is not None and dict(kinds[k]) != before.get(k)]
        print(f"\n{library}: {total} questions, {len(kinds)} kinds"
              + (f", {len(changed)} kinds selected differently from {args.compare}" if before is not None else ""))
        for kind in sorted(changed if before is not None else kinds):
            now = ", ".join(f"{ids}: {n}" for ids, n in kinds[kind].most_common())
            then = (" (was " + ", ".join(f"{ids}: {n}" for ids, n in before.get(kind, {}).items()) + ")"
                    if before is not None else "")
            print(f"  {kind:48s} {now}{then}")


def _at_revision(rev: str, argv: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    """This replay's table under the package as it was at ``rev`` (a worktree of it, removed after)."""
    worktree = Path(subprocess.run(["mktemp", "-d"], capture_output=True, text=True, check=True).stdout.strip())
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), rev], check=True,
                   capture_output=True)
    try:
        keep = [a for i, a in enumerate(argv) if a != "--compare" and (i == 0 or argv[i - 1] != "--compare")]
        keep = [str(Path(a).resolve()) if Path(a).exists() else a for a in keep]
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *keep, "--json"], cwd=worktree,
                              capture_output=True, text=True, check=True, env={"PYTHONPATH": str(worktree),
                                                                                "PATH": "/usr/bin:/bin"})
        return json.loads(done.stdout)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], capture_output=True)


if __name__ == "__main__":
    main()
