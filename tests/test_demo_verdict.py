"""The demo's closing lines say what its numbers show, and no more than a run of its size can."""

from tfgrpo_agents.demo import what_it_shows
from tfgrpo_agents.evaluation import EvalSettings
from tfgrpo_agents.evaluation.metrics import EvalSummary, PairedDifference
from tfgrpo_agents.evaluation.report import ArmResult, Comparison


def arm(name: str, mean: float, calls: float, versus: PairedDifference | None = None,
        reduction: float | None = None) -> ArmResult:
    summary = EvalSummary(name=name, tasks=10, k=1, mean_at_k=mean, ci_low=0, ci_high=1, pass_at_k={1: mean},
                          avg_tool_calls=calls, tool_calls_by_tool={}, avg_repeated_calls=0, avg_model_calls=2,
                          forced_answer_rate=0, avg_answer_chars=10, avg_input_tokens=900, avg_output_tokens=90,
                          avg_wall_time_s=30, failures={})
    return ArmResult(summary=summary, trajectories_path="x", versus_baseline=versus, tool_call_reduction_pct=reduction)


def comparison(difference: float, low: float, high: float, calls_after: float) -> Comparison:
    versus = PairedDifference(a="baseline", b="learned", tasks=10, difference=difference, ci_low=low, ci_high=high,
                              probability_not_better=0.3)
    reduction = (2.0 - calls_after) / 2.0 * 100
    return Comparison(baseline="baseline", settings=EvalSettings(k=1),
                      arms=[arm("baseline", 0.3, 2.0), arm("learned", 0.3 + difference, calls_after, versus, reduction)])


def test_a_small_gain_inside_the_noise_is_called_noise():
    lines = what_it_shows(comparison(0.1, -0.2, 0.4, 1.5), lessons=2)
    text = " ".join(lines)
    assert "0.400 against the baseline's 0.300 (+0.100, paired 95% CI [-0.200, +0.400])" in text
    assert "inside the noise" in text and "10 tasks × k=1" in text
    assert "2.00 → 1.50 (25 % fewer)" in text
    assert "beyond chance" not in text


def test_a_real_loss_is_said_to_be_one():
    text = " ".join(what_it_shows(comparison(-0.5, -0.7, -0.3, 2.5), lessons=1))
    assert "beyond chance" in text and "made the agent worse" in text and "(25 % more)" in text
    assert "1 lesson)" in text


def test_an_empty_library_is_explained():
    lines = what_it_shows(comparison(0.0, -0.1, 0.1, 2.0), lessons=0)
    assert lines[0].startswith("No lesson was learned: every training group's rollouts scored alike")


def test_an_empty_library_after_groups_with_signal_blames_the_teacher_not_the_groups():
    line = what_it_shows(comparison(0.0, -0.1, 0.1, 2.0), lessons=0, groups_with_signal=2)[0]
    assert line.startswith("No lesson was learned: 2 training group(s) had rollouts that scored differently")
    assert "scored alike" not in line and "learn/steps/" in line


def test_the_demo_runs_its_phases_and_counts_each_rollout_once(tmp_path, monkeypatch):
    """The whole demo on a fake model (it never calls a tool and never knows): each phase's progress
    reaches exactly the rollouts it announced, and the comparison holds both arms."""
    import itertools
    import json

    from langchain_core.messages import AIMessage

    import tfgrpo_agents.demo as demo
    from tests.fakes import ScriptedChatModel
    from tfgrpo_agents.learning.events import RolloutFinished

    class FakeServer:
        base_url, model_id, parallel = "http://127.0.0.1:9/v1", "fake-model", 2

        @classmethod
        def for_rollouts(cls, model):
            return cls()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def chat_model(self, **kwargs):
            return ScriptedChatModel(messages=itertools.repeat(AIMessage("I do not know.")))

    monkeypatch.setattr(demo, "LlamaServer", FakeServer)
    events = []
    comparison = demo.run_demo(tmp_path, plan=demo.PLANS["quick"], on_event=events.append)
    counts, phase = {}, None
    for event in events:
        if isinstance(event, demo.PhaseStarted):
            phase = event
            counts[phase.name] = [event.rollouts, 0]
        elif isinstance(event, RolloutFinished):
            counts[phase.name][1] += 1
    plan = demo.PLANS["quick"]
    easy = {t["id"] for t in map(json.loads, (tmp_path / "learn" / "tasks.jsonl").read_text().splitlines())
            if t["metadata"]["info"]["difficulty"] == "easy"}
    assert not easy, "the quick demo trains on medium and hard tasks only"
    assert counts == {"baseline": [plan.test_tasks, plan.test_tasks],
                      "learning": [plan.train_tasks * plan.group_size] * 2,
                      "learned": [plan.test_tasks, plan.test_tasks]}
    assert [a.summary.name for a in comparison.arms] == ["baseline", "learned"]
    assert all(a.summary.mean_at_k == 0.0 for a in comparison.arms)


def test_an_empty_library_after_validation_says_the_lessons_were_rolled_back():
    """Seen in `tfgrpo demo --quick`: the teacher's one lesson lowered its training task (1.0 → 0.5) and was
    rolled back; the closing line had blamed the teacher's replies."""
    line = what_it_shows(comparison(0.0, -0.1, 0.1, 2.0), lessons=0, groups_with_signal=1, rolled_back=1)[0]
    assert line.startswith("No lesson was kept: the teacher wrote 1 change(s)") and "validation" in line
    assert "no lesson came out of the teacher's replies" not in line
