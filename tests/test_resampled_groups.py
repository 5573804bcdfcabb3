"""Flat groups resampled (``LearnSettings.resample_flat``): a task whose G rollouts all failed (or all
succeeded) teaches nothing, so it gets more rollouts, once; if they differ, the teacher compares G of them
with both outcomes in. Seen on the 1.5B web runs: the kinds the oracle library gains most on had 0 of 6
rollouts right in every step, and never a group to learn from (BENCHMARKS.md §1q)."""

import json

from tests.scripted_world import WorldChatModel
from tfgrpo_agents.agents import build_react_agent
from tfgrpo_agents.core.rollout import rollout_seed
from tfgrpo_agents.learning import LearnSettings, MathGrader, Task, TrainingFreeGRPO
from tfgrpo_agents.tools import python_exec_tool

SEED, G, MORE = 7, 2, 2


def right(task_id: str, sample: int) -> bool:
    """The scripted policy on a ``[mixed]`` task of step 1: right when the rollout seed is even."""
    return rollout_seed(SEED, 1, task_id, sample) % 2 == 0


def task_with(first: list[bool], then: list[bool]) -> dict:
    """A ``[mixed]`` task whose first G rollouts come out as ``first`` and the next ones as ``then``."""
    for n in range(1000):
        task_id = f"r{n}"
        outcomes = [right(task_id, s) for s in range(G + MORE)]
        if outcomes == first + then:
            a = n % 9
            return {"id": task_id, "question": f"[mixed] What is {a} + {a + 4}?", "answer": str(2 * a + 4)}
    raise AssertionError("no such task id")


def learn(run_dir, tasks, resample_flat):
    model, tool = WorldChatModel(), python_exec_tool()
    settings = LearnSettings(name="r", domain="math", group_size=G, epochs=1, batch_size=len(tasks), seed=SEED,
                             max_steps=4, concurrency=3, resample_flat=resample_flat)
    learner = TrainingFreeGRPO(
        agent_factory=lambda library: build_react_agent(model, [tool], system_prompt="Add.", experiences=library,
                                                        max_steps=4),
        teacher=model, run_dir=run_dir, settings=settings, grader=MathGrader())
    return learner, learner.fit([Task.model_validate(t) for t in tasks])


def groups_of(run_dir) -> dict[str, dict]:
    return {g["task_id"]: g for g in json.loads((run_dir / "steps" / "step-0001" / "groups.json").read_text())}


def test_a_flat_group_is_resampled_once_and_compared_with_both_outcomes(tmp_path):
    late = task_with([False, False], [False, True])  # all failed, then one success among the extra rollouts
    flat = task_with([False, False], [False, False])  # failed every time
    solved = {"id": "s", "question": "[right] What is 2 + 6?", "answer": "8"}
    learner, result = learn(tmp_path / "run", [late, flat, solved], resample_flat=MORE)

    groups = groups_of(tmp_path / "run")
    assert groups[late["id"]]["kept"]
    assert groups[late["id"]]["reason"] == "kept: rewards differ (4 rollouts, 2 resampled)"
    assert not groups[flat["id"]]["kept"] and not groups["s"]["kept"], "still flat after the extra rollouts"
    trajectories = [json.loads(line) for line in
                    (tmp_path / "run" / "steps" / "step-0001" / "trajectories.jsonl").read_text().splitlines()]
    assert sorted((t["task_id"], t["sample"]) for t in trajectories) == sorted(
        (task["id"], s) for task in (late, flat, solved) for s in range(G + MORE)), "once: G + 2 each, no more"
    summaries = json.loads((tmp_path / "run" / "steps" / "step-0001" / "summaries.json").read_text())
    assert sorted(s["sample"] for s in summaries) == [0, 3], "G attempts, the one success among them"
    assert result.reports[0].resampled == 3 * MORE and result.reports[0].groups_with_signal == 1
    assert len(result.library) == 1, "the resampled group taught its lesson"

    again = learner.fit([Task.model_validate(t) for t in (late, flat, solved)])  # resumed: nothing runs again
    assert again.library.texts() == result.library.texts()


def test_without_resampling_a_flat_group_is_skipped_as_in_the_paper(tmp_path):
    late = task_with([False, False], [False, True])
    _, result = learn(tmp_path / "run", [late], resample_flat=0)
    assert groups_of(tmp_path / "run")[late["id"]]["reason"] == "all failed"
    assert result.reports[0].rollouts == G and result.reports[0].resampled == 0 and len(result.library) == 0


def test_a_group_with_signal_is_not_resampled(tmp_path):
    mixed = task_with([True, False], [False, False])
    _, result = learn(tmp_path / "run", [mixed], resample_flat=MORE)
    assert groups_of(tmp_path / "run")[mixed["id"]]["reason"] == "kept: rewards differ"
    assert result.reports[0].rollouts == G and result.reports[0].resampled == 0


def test_the_cli_resamples_flat_groups(tmp_path):
    import subprocess
    import sys

    from tests.scripted_world import openai_reply
    from tfgrpo_agents.testing import OpenAIStub

    late = task_with([False, False], [False, True])
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps(late) + "\n")
    with OpenAIStub(reply_fn=openai_reply) as stub:
        done = subprocess.run(
            [sys.executable, "-m", "tfgrpo_agents.cli", "learn", "--tasks", str(tasks), "--agent", "math",
             "--model", "gpt-4o-mini", "--base-url", stub.base_url, "--group-size", str(G), "--epochs", "1",
             "--seed", str(SEED), "--resample-flat", str(MORE), "--evidence-lessons", "--out", str(tmp_path / "run")],
            capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert groups_of(tmp_path / "run")[late["id"]]["kept"], "the late success was found over the wire too"
    report = json.loads((tmp_path / "run" / "steps" / "step-0001" / "report.json").read_text())
    assert report["resampled"] == MORE and report["library_size"] == 1
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["resample_flat"] == MORE and config["reflection"]["evidence_lessons"] is True
