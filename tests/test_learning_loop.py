"""A full 2-epoch learn with a deterministic scripted model: groups, stages, ops, snapshots, ledger."""

import json

import pytest

from tests.scripted_world import WorldChatModel, answers_right, make_tasks
from tfgrpo_agents.agents import build_react_agent
from tfgrpo_agents.core.rollout import rollout_seed
from tfgrpo_agents.experience import load_library
from tfgrpo_agents.learning import (
    LearnSettings,
    MathGrader,
    RunMismatchError,
    Task,
    TrainingFreeGRPO,
    read_trajectories,
    schedule,
)
from tfgrpo_agents.tools import python_exec_tool

KINDS = ["right", "wrong", "mixed", "mixed", "mixed", "right"]


def make_learner(run_dir, initial_library=None, factory=build_react_agent, **overrides):
    model = WorldChatModel()
    tool = python_exec_tool()
    settings = LearnSettings(**{"name": "test", "domain": "math", "group_size": 3, "epochs": 2, "batch_size": 3,
                                "seed": 7, "max_steps": 4, "concurrency": 3, "model_id": "gpt-4o-mini", **overrides})
    return TrainingFreeGRPO(
        agent_factory=lambda library: factory(model, [tool], system_prompt="Add.", experiences=library,
                                              max_steps=settings.max_steps),
        teacher=model, run_dir=run_dir, settings=settings, grader=MathGrader(), initial_library=initial_library)


def known(library, step):
    """What the policy had been taught when ``step`` started."""
    return " ".join(e.text for e in library.snapshot(step - 1).experiences)


def expected_kept(settings, step, batch, library):
    kept = []
    for task in batch:
        rewards = [answers_right(task.question, rollout_seed(settings.seed, step, task.id, s), known(library, step))
                   for s in range(settings.group_size)]
        if 0 < sum(rewards) < len(rewards):
            kept.append(task.id)
    return kept


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    tasks = [Task.model_validate(t) for t in make_tasks(KINDS)]
    learner = make_learner(run_dir)
    library = learner.fit(tasks).library
    return learner, tasks, library, run_dir


def test_every_rollout_is_recorded_with_its_tool_calls(finished):
    learner, tasks, library, run_dir = finished
    plan = schedule(tasks, learner.settings)
    assert len(plan) == 4
    for step, _, batch in plan:
        trajectories = read_trajectories(learner.run_dir.step_dir(step) / "trajectories.jsonl")
        assert [(t.task_id, t.sample) for t in trajectories] == [(task.id, s) for task in batch for s in range(3)]
        for t in trajectories:
            assert not t.failed and t.library_step == step - 1
            assert [c.name for c in t.tool_calls] == ["python_exec"]
            output = t.tool_calls[0].output
            assert output.split("\n")[0].isdigit() and "Question: " in output and t.tool_calls[0].latency_s > 0
            seed = rollout_seed(7, step, t.task_id, t.sample)
            assert t.reward == float(answers_right(t.question, seed, known(library, step)))
            assert len(t.llm_calls) == 2 and t.usage.input > 0


def test_only_groups_with_signal_are_reflected_on(finished):
    learner, tasks, library, run_dir = finished
    plan = schedule(tasks, learner.settings)
    assert sum(len(expected_kept(learner.settings, step, batch, library)) for step, _, batch in plan) >= 2
    for step, _, batch in plan:
        step_dir = learner.run_dir.step_dir(step)
        groups = json.loads((step_dir / "groups.json").read_text())
        kept = [g["task_id"] for g in groups if g["kept"]]
        assert kept == expected_kept(learner.settings, step, batch, library)
        assert all(not g["kept"] for g in groups if g["task_id"] in {t.id for t in batch if "[mixed]" not in t.question})
        summaries = json.loads((step_dir / "summaries.json").read_text())
        advantages = json.loads((step_dir / "advantages.json").read_text())
        group_ops = json.loads((step_dir / "group_ops.json").read_text())
        assert sorted((s["task_id"], s["sample"]) for s in summaries) == [(k, i) for k in sorted(kept) for i in range(3)]
        assert sorted(a["task_id"] for a in advantages) == sorted(kept)
        assert sorted(g["task_id"] for g in group_ops) == sorted(kept)
        consolidated = (run_dir / "cache" / "consolidate" / f"step{step}.json").exists()
        assert consolidated == bool(kept), "one consolidation call per step that has proposals"
        report = json.loads((step_dir / "report.json").read_text())
        assert report["groups_with_signal"] == len(kept) and report["rollouts"] == 3 * len(batch)


def test_ops_were_applied_and_every_step_has_a_snapshot(finished):
    learner, _, library, run_dir = finished
    assert library.steps == [0, 1, 2, 3, 4]
    assert library.texts(), "lessons were learned"
    assert all(text.startswith("When asked for sums of") for text in library.texts())
    assert len(set(library.texts())) == len(library.texts()), "duplicates were merged"
    assert load_library(run_dir / "library.json").model_dump() == library.model_dump()
    for step in range(1, 5):
        snapshot = json.loads((learner.run_dir.step_dir(step) / "library.json").read_text())
        assert snapshot["step"] == step
        assert [e["text"] for e in snapshot["experiences"]] == [e.text for e in library.snapshot(step).experiences]


def test_the_ledger_adds_up(finished):
    learner, tasks, _, run_dir = finished
    ledger = json.loads((run_dir / "ledger.json").read_text())
    rollout_tokens = sum(t.usage.total for step, _, _ in schedule(tasks, learner.settings)
                         for t in read_trajectories(learner.run_dir.step_dir(step) / "trajectories.jsonl"))
    summary = ledger["summary"]
    assert summary["rollout_tokens"] == rollout_tokens > 0
    cached = {stage: sum(json.loads(p.read_text())["usage"]["input"] + json.loads(p.read_text())["usage"]["output"]
                         for p in (run_dir / "cache" / stage).glob("*.json"))
              for stage in ("summarize", "advantage", "group_ops", "consolidate")}
    assert summary["reflection_tokens"] == sum(cached.values()) > 0
    for stage, total in cached.items():
        usage = summary["tokens_by_stage"][stage]
        assert usage["input"] + usage["output"] == total
    assert summary["dollars_total"] > 0 and summary["priced_models"]["policy"] == "gpt-4o-mini"
    assert summary["reflection_to_rollout_ratio"] == round(summary["reflection_tokens"] / rollout_tokens, 4)
    steps = ledger["steps"]
    assert all(0 < s["wall_time_s"] < 600 for s in steps), "each step's elapsed time, not a sum of rollouts"
    assert summary["wall_time_s_by_step"] == [round(s["wall_time_s"], 1) for s in steps]


def test_a_second_fit_redoes_nothing(finished, monkeypatch):
    learner, tasks, library, run_dir = finished
    calls = []
    monkeypatch.setattr(learner.reflector.teacher.__class__, "_generate",
                        lambda self, *a, **k: calls.append(1) or (_ for _ in ()).throw(AssertionError("called")))
    again = learner.fit(tasks).library
    assert calls == [] and again.texts() == library.texts()


def test_resuming_with_other_settings_is_refused(finished):
    from tfgrpo_agents.learning import RunMismatchError

    _, tasks, _, run_dir = finished
    other = make_learner(run_dir)
    other.settings = other.settings.model_copy(update={"group_size": 4})
    with pytest.raises(RunMismatchError, match="group_size"):
        other.fit(tasks)
    with pytest.raises(RunMismatchError, match="other tasks"):
        make_learner(run_dir).fit(tasks[:-1])


def test_rollouts_are_not_checkpointed_as_subgraphs(finished):
    """Agents run detached: only the step graph itself is checkpointed (a resumed agent would
    otherwise continue a stale conversation)."""
    import sqlite3

    _, _, _, run_dir = finished
    with sqlite3.connect(run_dir / "checkpoints.sqlite") as db:
        namespaces = {row[0] for row in db.execute("SELECT DISTINCT checkpoint_ns FROM checkpoints")}
    assert namespaces == {""}


def test_resume_reads_the_run_directory_back(finished):
    learner, tasks, library, run_dir = finished
    again = TrainingFreeGRPO.resume(run_dir, teacher=WorldChatModel(), agent_factory=learner.agent_factory,
                                    grader=MathGrader())
    assert again.settings == learner.settings and [t.id for t in again.saved_tasks()] == [t.id for t in tasks]
    assert again.fit(again.saved_tasks()).library.texts() == library.texts()
    with pytest.raises(RunMismatchError, match="holds no run"):
        TrainingFreeGRPO.resume(run_dir / "nowhere", teacher=WorldChatModel())


def test_a_run_continues_from_a_library_another_run_left(finished, tmp_path):
    """Seeded with the library a finished run left at its last step, a new run shows its lessons to its first
    step's rollouts and applies its own changes on top (it once took that library for its own later steps: the
    rollouts saw an empty library and nothing was applied)."""
    _, tasks, library, _ = finished
    assert library.step > 1 and len(library) > 0
    shown = []

    def recording(model, tools, experiences, **kwargs):
        shown.append(experiences.texts())
        return build_react_agent(model, tools, experiences=experiences, **kwargs)

    learner = make_learner(tmp_path / "more", initial_library=library, factory=recording, epochs=1)
    result = learner.fit(tasks)
    assert shown[0] == library.texts(), "step 1 rolls out with the lessons it was given"
    assert result.library.step == len(result.reports) and result.library.snapshot(0).experiences == \
        library.experiences
    assert library.step > 1, "the given library is not changed"
