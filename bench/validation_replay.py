"""A validated learning run judged again under today's validation rules, from its record, without a model.

    python bench/validation_replay.py RUN_DIR                # each step's operations, as recorded and as judged now
    python bench/validation_replay.py RUN_DIR --out LIB.json # and the library today's rules would have left

Each step's plan (``consolidation.json``) is judged from the paired rewards ``validation.json`` recorded.
The replay holds while every step's library before is the one the run recorded: the first step judged
otherwise ends it, since the later steps' rollouts were made with another library (the library it writes
is then the one after that step). A rule that asks for paired rollouts the run did not make (settling
other tasks) stops the replay too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tfgrpo_agents.core.rundir import RunDir
from tfgrpo_agents.experience import ExperienceLibrary, load_library, save_library
from tfgrpo_agents.learning import LearnSettings, Task, judging
from tfgrpo_agents.learning.graph import StepGraph, _applied
from tfgrpo_agents.learning.grpo import validation_batch


def replayer(run: Path) -> tuple[StepGraph, LearnSettings]:
    """The run's step graph as far as judging needs it: its settings and validation tasks."""
    settings = LearnSettings.model_validate_json((run / "config.json").read_text())
    tasks = [Task.model_validate_json(line) for line in (run / "tasks.jsonl").read_text().splitlines() if line]
    graph = StepGraph(settings=settings, run_dir=RunDir(run), agent_factory=None, reflector=None, grader=None,
                      library_loader=lambda: load_library(run / "library.json"), library_saver=lambda _: None,
                      validation_tasks=validation_batch(tasks, settings))
    return graph, settings


def rewards(record: dict, side: str, samples: int, settled: set[str]) -> judging.Rewards:
    """A side's first-look rewards, and the extra samples of the tasks settled now."""
    return {key: value or 0.0 for key, value in record[f"rewards_{side}"].items()
            if int(key.rsplit("/", 1)[1]) < samples or key.rsplit("/", 1)[0] in settled}


def replay_step(graph: StepGraph, settings: LearnSettings, before: ExperienceLibrary, step: int,
                record: dict) -> tuple[list[dict], str | None]:
    """The operations kept under today's rules, and why the replay cannot go on (None: it can)."""
    checks = settings.validation
    plan = json.loads((graph.run_dir.step_dir(step) / "consolidation.json").read_text())["plan"]
    tried, units = graph.trial(before, _applied(before, plan, step), plan, step)
    tasks = {t.id for t in tried}
    recorded = {key.rsplit("/", 1)[0] for key in record["rewards_after"]}
    if not tasks <= recorded:
        return [], f"step {step} would be tried on tasks the run did not roll out: {sorted(tasks - recorded)}"
    first_old, first_new = (rewards(record, side, checks.samples, set()) for side in ("before", "after"))
    settling = judging.to_settle(units, first_old, first_new, checks)
    settled = set().union(*(units[i].tasks for i in settling))
    unrecorded = settled - set(record.get("settled_on", []))
    if unrecorded:
        return [], f"step {step} would settle tasks the run did not: {sorted(unrecorded)}"
    old, new = (rewards(record, side, checks.samples, settled) for side in ("before", "after"))
    keep, unproven = judging.judged(units, settling, old, new, checks)
    # records from before operations were rolled back one by one hold only whether the whole plan was kept
    rolled = record.get("rolled_back", [] if record.get("kept") else plan)
    was_kept = [op for op in plan if op not in rolled]
    for op in plan:
        unit = next(u for u in units if op in u.ops)
        verdict = "kept" if op in keep else ("undone, no gain" if op in unproven else "rolled back")
        print(f"  {op.get('op', ''):6} {str(op.get('id') or ''):5} on {len(unit.tasks)} task(s) "
              f"{sum(judging.on_tasks(old, unit.tasks)):.0f} → {sum(judging.on_tasks(new, unit.tasks)):.0f}: "
              f"{'kept' if op in was_kept else 'rolled back'} → {verdict}   {(op.get('text') or '')[:60]}")
    return keep, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a learning run's directory (with validated updates)")
    parser.add_argument("--out", type=Path, help="write the library today's rules would have left here")
    args = parser.parse_args()
    graph, settings = replayer(args.run)
    if settings.validation is None:
        parser.error(f"{args.run} learned without validated updates: nothing to judge again")
    library = load_library(args.run / "library.json")
    current = library.at_step(0)
    for step in sorted(int(d.name.split("-")[1]) for d in (args.run / "steps").glob("step-*")):
        step_dir = graph.run_dir.step_dir(step)
        path = step_dir / "validation.json"
        if not path.exists():  # nothing to validate: the plan applied as it was
            consolidation = step_dir / "consolidation.json"
            plan = json.loads(consolidation.read_text())["plan"] if consolidation.exists() else []
            current = _applied(current, plan, step)
            continue
        record = json.loads(path.read_text())
        if current.digest() != record["digest_before"]:
            print(f"step {step}: its rollouts were made with another library than the replay's; stopping")
            break
        print(f"step {step}: validation {record['mean_reward_before']} → {record['mean_reward_after']}")
        keep, stop = replay_step(graph, settings, current, step, record)
        if stop:
            print(f"  {stop}; stopping")
            break
        current = _applied(current, keep, step)
    for experience in current.experiences:
        print(f"{experience.id}: {experience.text}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        save_library(current, args.out)


if __name__ == "__main__":
    main()
