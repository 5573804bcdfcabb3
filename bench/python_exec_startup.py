"""Start-up overhead of one small python_exec call, per containment level.

    python bench/python_exec_startup.py [--runs 30]

Prints a Markdown table (the rows recorded in BENCHMARKS.md). The agent calls python_exec often,
so the fixed cost of each call matters more than its throughput.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time

from tfgrpo_agents.tools import (
    Isolation,
    SandboxPlan,
    SubprocessExecutor,
    detect_sandbox,
)


def timed(fn, runs: int) -> list[float]:
    fn()  # warm caches
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def row(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"| {name} | {statistics.median(samples):.1f} | {p90:.1f} | {min(samples):.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    plan = detect_sandbox()
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"detected plan: {plan.describe()}, pids_cgroup={plan.pids_cgroup}\n")
    print("| configuration | median ms | p90 ms | min ms |")
    print("|---|---|---|---|")
    bare = [sys.executable, "-I", "-c", "print(1)"]
    print(row("bare `python -I -c print(1)` (no containment, reference)",
              timed(lambda: subprocess.run(bare, capture_output=True, check=True), args.runs)))
    variants = [(f"python_exec `print(1)`, {plan.describe()} (the default here)", plan)]
    for isolation in (Isolation.UNSHARE, Isolation.NONE):  # weaker plans, for comparison
        weaker = SandboxPlan(isolation=isolation, user=plan.user if not plan.staged else None, python=plan.python,
                             python_dirs=plan.python_dirs, pids_cgroup=plan.pids_cgroup)
        note = " (host root: opt-in only)" if weaker.privileged else ""
        variants.append((f"python_exec `print(1)`, {weaker.describe()}{note}", weaker))
    for label, variant in variants:
        executor = SubprocessExecutor(plan=variant)
        if executor.run("print(1)").stdout != "1\n":
            print(f"| {label} | unavailable | | |")
            continue
        print(row(label + (", pids cgroup" if variant.pids_cgroup else ""),
                  timed(lambda: executor.run("print(1)"), args.runs)))
    executor = SubprocessExecutor(plan=plan)
    print(row(f"python_exec `import sympy` ({plan.isolation.value})",
              timed(lambda: executor.run("import sympy"), max(5, args.runs // 3))))


if __name__ == "__main__":
    main()
