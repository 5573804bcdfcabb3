"""Two recorded evaluation arms compared on their shared tasks: Mean@k of each and the paired bootstrap CI of
the difference — for arms that did not run in one comparison, e.g. two scaffolds of one domain.

    python bench/paired_arms.py bench/results/math/eval/baseline bench/results/math-reason/eval/baseline

Each argument is an arm directory holding ``trajectories.jsonl``. Only rollouts with the same task and sample
index in both arms are paired (same per-rollout seeds where the arms ran with the same ``--seed``); runs no model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tfgrpo_agents.core.trajectory import read_trajectories
from tfgrpo_agents.evaluation.metrics import paired_bootstrap, task_means


def arm_rollouts(directory: Path) -> dict[tuple[str, int], object]:
    path = directory / "trajectories.jsonl"
    if not path.exists():
        raise SystemExit(f"error: {path} does not exist; pass an arm directory of an evaluation run")
    return {(t.task_id, t.sample): t for t in read_trajectories(path)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="the reference arm's directory")
    parser.add_argument("b", type=Path, help="the arm compared with it")
    args = parser.parse_args()
    a, b = arm_rollouts(args.a), arm_rollouts(args.b)
    shared = sorted(set(a) & set(b))
    if not shared:
        raise SystemExit("error: the two arms share no (task, sample) rollouts")
    means = {name: task_means([arm[key] for key in shared]) for name, arm in (("a", a), ("b", b))}
    calls = {name: float(np.mean([len(arm[key].tool_calls) for key in shared])) for name, arm in (("a", a), ("b", b))}
    result = paired_bootstrap(means["a"], means["b"], names=(args.a.name, args.b.name))
    print(f"{len(shared)} paired rollouts over {result.tasks} tasks")
    for name, path in (("a", args.a), ("b", args.b)):
        print(f"  {path}: Mean {np.mean(list(means[name].values())):.3f}, tool calls {calls[name]:.2f}")
    print(f"b − a: {result.difference:+.3f} (paired 95% CI [{result.ci_low:+.3f}, {result.ci_high:+.3f}]) — "
          f"{result.verdict()}")


if __name__ == "__main__":
    main()
