"""Two recorded evaluation arms compared on their shared tasks: Mean@k of each and the paired bootstrap CI of
the difference — for arms that did not run in one comparison, e.g. two scaffolds of one domain.

    python bench/paired_arms.py bench/results/math/eval/baseline bench/results/math-reason/eval/baseline

Each argument is an arm directory holding ``trajectories.jsonl``. Only rollouts with the same task and sample
index in both arms are paired (same per-rollout seeds where the arms ran with the same ``--seed``); runs no model.
More pairs after the first are pooled (their tasks must have distinct ids, as the held-out webs' do):

    python bench/paired_arms.py H/web-synthetic-unseen/eval/{baseline,oracle+relevant+next2} \
        H/web-synthetic-unseen-seed2/eval/{baseline,oracle+relevant+next2}
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
    parser.add_argument("arms", type=Path, nargs="+", metavar="A B",
                        help="the reference arm's directory, then the arm compared with it (more pairs: pooled)")
    args = parser.parse_args()
    if len(args.arms) % 2:
        raise SystemExit("error: pass the arm directories in pairs: reference, compared (, reference, compared …)")
    a, b = {}, {}
    for first, second in zip(args.arms[::2], args.arms[1::2]):
        a.update(arm_rollouts(first))
        b.update(arm_rollouts(second))
    shared = sorted(set(a) & set(b))
    if not shared:
        raise SystemExit("error: the two arms share no (task, sample) rollouts")
    means = {name: task_means([arm[key] for key in shared]) for name, arm in (("a", a), ("b", b))}
    calls = {name: float(np.mean([len(arm[key].tool_calls) for key in shared])) for name, arm in (("a", a), ("b", b))}
    names = tuple(" + ".join(sorted({str(p.name) for p in args.arms[i::2]})) for i in (0, 1))
    result = paired_bootstrap(means["a"], means["b"], names=names)
    print(f"{len(shared)} paired rollouts over {result.tasks} tasks")
    for name, label in zip(("a", "b"), names):
        print(f"  {label}: Mean {np.mean(list(means[name].values())):.3f}, tool calls {calls[name]:.2f}")
    print(f"b − a: {result.difference:+.3f} (paired 95% CI [{result.ci_low:+.3f}, {result.ci_high:+.3f}]) — "
          f"{result.verdict()}")


if __name__ == "__main__":
    main()
