"""Metrics on hand-computed cases, comparisons with a known effect, reports, plots and splits."""

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripted_world import (
    GENERIC_TIPS,
    SKIP_TOOL,
    TRUST,
    WorldChatModel,
    make_tasks,
    openai_reply,
)
from tfgrpo_agents.agents import build_react_agent
from tfgrpo_agents.evaluation import (
    EvalConfig,
    EvalSettings,
    compare,
    evaluate,
    learning_curve,
    mean_at_k,
    paired_bootstrap,
    parse_ratio,
    pass_at_k,
    repeated_calls,
    stratified_sample,
    summarize,
    train_test_split,
)
from tfgrpo_agents.evaluation.splits import difficulty
from tfgrpo_agents.experience import ExperienceLibrary, load_library, save_library
from tfgrpo_agents.learning import (
    MathGrader,
    Task,
    ToolCallRecord,
    Trajectory,
    load_tasks,
)
from tfgrpo_agents.testing import OpenAIStub
from tfgrpo_agents.tools import python_exec_tool

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PNG = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ metrics
@pytest.mark.parametrize(("n", "c", "k", "expected"),
                         [(5, 2, 1, 0.4), (5, 2, 2, 0.7), (3, 0, 2, 0.0), (3, 3, 3, 1.0), (4, 1, 4, 1.0)])
def test_pass_at_k_unbiased_estimator(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_needs_enough_samples():
    with pytest.raises(ValueError, match="at least 3 samples"):
        pass_at_k(2, 1, 3)


def test_mean_at_k_averages_tasks_then_samples():
    assert mean_at_k({"a": [1.0, 0.0], "b": [1.0, 1.0, 1.0, 1.0]}) == 0.75


def test_paired_bootstrap_cases():
    a = {f"t{i}": 0.0 for i in range(20)}
    better = paired_bootstrap(a, {t: 1.0 for t in a}, names=("base", "new"))
    assert better.difference == 1.0 and (better.ci_low, better.ci_high) == (1.0, 1.0) and better.significant
    same = paired_bootstrap(a, dict(a))
    assert same.difference == 0.0 and not same.significant and "inside the noise" in same.verdict()
    noisy = paired_bootstrap({f"t{i}": 0.5 for i in range(8)}, {f"t{i}": float(i % 2) for i in range(8)})
    assert noisy.difference == 0.0 and noisy.ci_low < 0 < noisy.ci_high
    with pytest.raises(ValueError, match="share no tasks"):
        paired_bootstrap({"x": 1.0}, {"y": 1.0})


def test_behaviour_metrics():
    call = ToolCallRecord(name="web_search", args={"query": "a"})
    t1 = Trajectory(task_id="a", sample=0, question="q", tool_calls=[call, call, call,
                    ToolCallRecord(name="web_browse", args={"url": "u"})], final_answer="yes", reward=1.0,
                    forced_final=True, failure="step_limit")
    t2 = Trajectory(task_id="a", sample=1, question="q", failed=True, failure="timeout")
    assert repeated_calls(t1) == 2
    summary = summarize("x", [t1, t2], k=2)
    assert summary.mean_at_k == 0.5 and summary.pass_at_k == {1: 0.5, 2: 1.0}
    assert summary.avg_tool_calls == 2.0 and summary.tool_calls_by_tool == {"web_browse": 0.5, "web_search": 1.5}
    assert summary.failures == {"step_limit": 1, "timeout": 1} and summary.forced_answer_rate == 0.5


# ------------------------------------------------------------------ comparisons with a known effect
TASKS = [Task.model_validate(t) for t in make_tasks(["mixed"] * 8 + ["right", "right", "wrong", "wrong"])]


class CountingWorld(WorldChatModel):
    """The scripted world, counting its model calls (a call means a rollout was run, not read back)."""

    calls: int = 0

    def _generate(self, *args, **kwargs):
        self.calls += 1
        return super()._generate(*args, **kwargs)


def counting_world():
    model, tool = CountingWorld(), python_exec_tool()
    return model, lambda library, placement: build_react_agent(model, [tool], system_prompt="Add.",
                                                               experiences=library, placement=placement, max_steps=4)


def world_builder():
    model, tool = WorldChatModel(), python_exec_tool()
    return lambda library, placement: build_react_agent(model, [tool], system_prompt="Add.", experiences=library,
                                                        placement=placement, max_steps=4)


def library_file(path, *texts):
    return str(save_library(ExperienceLibrary.from_texts(texts), path))


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    configs = [
        EvalConfig(name="baseline"),
        EvalConfig(name="learned", library=library_file(out / "learned.json", f"When adding, {TRUST}.")),
        EvalConfig(name="fast", library=library_file(out / "fast.json", f"When adding, {SKIP_TOOL}.")),
        EvalConfig(name="tips", library=library_file(out / "tips.json", *GENERIC_TIPS)),
        EvalConfig(name="learned@user", library=str(out / "learned.json"), placement="user"),
    ]
    settings = EvalSettings(k=3, temperature=0.3, seed=1, concurrency=4, max_steps=4)
    result = asyncio.run(compare(world_builder(), configs, TASKS, MathGrader(), settings, out))
    return result, out


def arm(comparison, name):
    return next(a for a in comparison.arms if a.summary.name == name)


def test_learned_library_beats_the_baseline_outside_the_noise(comparison):
    result, _ = comparison
    base, learned = arm(result, "baseline"), arm(result, "learned")
    assert learned.summary.mean_at_k == pytest.approx(10 / 12)
    assert base.summary.mean_at_k < learned.summary.mean_at_k
    assert learned.versus_baseline.significant and learned.versus_baseline.ci_low > 0
    assert arm(result, "learned@user").summary.mean_at_k == learned.summary.mean_at_k, "placement ablation runs"


def test_direct_tips_change_nothing(comparison):
    tips = arm(comparison[0], "tips")
    assert tips.versus_baseline.difference == 0.0 and not tips.versus_baseline.significant


def test_tool_call_reduction_is_reported(comparison):
    fast = arm(comparison[0], "fast")
    assert fast.summary.avg_tool_calls == 0 and fast.tool_call_reduction_pct == pytest.approx(100.0)
    assert arm(comparison[0], "learned").tool_call_reduction_pct == pytest.approx(0.0)


def test_flips_point_at_the_rollouts(comparison):
    result, out = comparison
    learned = arm(result, "learned")
    assert learned.wrong_to_right and not learned.right_to_wrong
    assert all(f.rollouts.startswith(str(out / "learned" / "trajectories.jsonl")) for f in learned.wrong_to_right)
    assert {f.task_id for f in learned.wrong_to_right} <= {t.id for t in TASKS[:8]}


def test_report_and_plots_are_written(comparison):
    _, out = comparison
    report = (out / "report.md").read_text()
    assert "| learned | 0.833 |" in report and "a real difference (the 95% CI excludes 0)" in report
    assert "**tips**: accuracy +0.000" in report and "inside the noise" in report
    assert "100.0% fewer" in report and "wrong → right" in report
    data = json.loads((out / "report.json").read_text())
    assert [a["summary"]["name"] for a in data["arms"]] == ["baseline", "learned", "fast", "tips", "learned@user"]
    for name in ("accuracy_by_config.png", "tool_calls_histogram.png"):
        content = (out / name).read_bytes()
        assert content.startswith(PNG) and len(content) > 10_000


def test_learning_curve_over_snapshots(tmp_path):
    library = ExperienceLibrary()
    library.apply([{"op": "ADD", "text": "Read the question carefully."}])
    library.apply([{"op": "ADD", "text": f"When adding, {TRUST}."}])
    path = save_library(library, tmp_path / "lib.json")
    settings = EvalSettings(k=2, seed=1, concurrency=4, max_steps=4)
    points = asyncio.run(learning_curve(world_builder(), path, TASKS, MathGrader(), settings, tmp_path / "curve"))
    assert [p.step for p in points] == [0, 1, 2]
    assert points[0].summary.mean_at_k == points[1].summary.mean_at_k < points[2].summary.mean_at_k
    for name in ("accuracy_by_step.png", "tool_calls_by_step.png", "tool_calls_histogram.png"):
        assert (tmp_path / "curve" / name).read_bytes().startswith(PNG)
    assert "| 2 | 0.833 |" in (tmp_path / "curve" / "curve.md").read_text()


def test_compare_command_over_http_with_direct_tips(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(t.model_dump_json() + "\n" for t in TASKS[:6]))
    learned = library_file(tmp_path / "learned.json", f"When adding, {TRUST}.")
    with OpenAIStub(reply_fn=openai_reply) as stub:
        done = subprocess.run(
            [sys.executable, "-m", "tfgrpo_agents.cli", "compare", "--tasks", str(tasks), "--model", "gpt-4o-mini",
             "--base-url", stub.base_url, "--library", f"learned={learned}", "--direct-tips", "2", "--k", "2",
             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    tips = json.loads((tmp_path / "out" / "direct_tips.json").read_text())
    assert [e["text"] for e in tips["experiences"]] == GENERIC_TIPS
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [a["summary"]["name"] for a in report["arms"]] == ["baseline", "learned", "direct-tips"]


# ------------------------------------------------------------------ task sets
def test_stratified_sample_follows_the_ratio():
    if not SHARED.exists():
        pytest.skip("shared data not present")
    tasks = load_tasks(SHARED / "web" / "webwalkerqa_main.json")
    sample = stratified_sample(tasks, 34, ratio=parse_ratio("4:7:6"), seed=3)
    levels = [difficulty(t) for t in sample]
    assert (levels.count("easy"), levels.count("medium"), levels.count("hard")) == (8, 14, 12)
    assert sample == stratified_sample(tasks, 34, ratio=parse_ratio("4:7:6"), seed=3)


def test_train_test_split_is_disjoint_and_seeded():
    tasks = [Task(id=str(i), question=f"q{i}", metadata={"info": {"difficulty": ["easy", "hard"][i % 2]}})
             for i in range(40)]
    train, test = train_test_split(tasks, train=20, test=10, seed=5, ratio={"easy": 1, "hard": 1})
    assert len(train) == 20 and len(test) == 10 and not {t.id for t in train} & {t.id for t in test}
    assert [t.id for t in test] == [t.id for t in train_test_split(tasks, train=20, test=10, seed=5,
                                                                   ratio={"easy": 1, "hard": 1})[1]]
    with pytest.raises(ValueError, match="asked for 30 \\+ 20"):
        train_test_split(tasks, train=30, test=20)


def test_an_arm_with_recorded_trajectories_is_not_rerun(tmp_path):
    """Committed results carry trajectories.jsonl but not the scratch cache: a rerun reads the record."""
    import shutil

    model, build = counting_world()
    settings = EvalSettings(k=2, temperature=0.3, seed=1, concurrency=2, max_steps=4)
    first, _ = asyncio.run(evaluate(build, EvalConfig(name="baseline"), TASKS[:3], MathGrader(), settings, tmp_path))
    recorded = (tmp_path / "baseline" / "trajectories.jsonl").read_text()
    shutil.rmtree(tmp_path / "baseline" / "cache")
    model.calls = 0
    again, _ = asyncio.run(evaluate(build, EvalConfig(name="baseline"), TASKS[:3], MathGrader(), settings, tmp_path))
    assert model.calls == 0, "a recorded rollout was run again"
    assert again.summary.mean_at_k == first.summary.mean_at_k
    assert (tmp_path / "baseline" / "trajectories.jsonl").read_text() == recorded

    # Another temperature is another measurement: nothing recorded is reused.
    shutil.rmtree(tmp_path / "baseline" / "cache")
    hotter = settings.model_copy(update={"temperature": 0.9})
    asyncio.run(evaluate(build, EvalConfig(name="baseline"), TASKS[:1], MathGrader(), hotter, tmp_path))
    assert model.calls > 0


def test_an_arm_name_reused_for_another_library_at_the_same_step_is_run_again(tmp_path):
    """Rollouts carry their library's digest: neither the cache nor the record of one library stands in
    for another's, though both libraries are at step 0."""
    import shutil

    model, build = counting_world()
    settings = EvalSettings(k=1, temperature=0.3, seed=1, concurrency=2, max_steps=4)
    first = library_file(tmp_path / "first.json", "Check the sum with the python tool before answering.")
    second = library_file(tmp_path / "second.json", "Answer from memory when the numbers are small.")
    _, before = asyncio.run(evaluate(build, EvalConfig(name="arm", library=first), TASKS[:2], MathGrader(), settings,
                                     tmp_path / "eval"))
    assert before[0].library_digest == load_library(first).digest() != load_library(second).digest()
    for keep_cache in (True, False):  # the scratch cache, then the committed record alone
        if not keep_cache:
            shutil.rmtree(tmp_path / "eval" / "arm" / "cache")
        model.calls = 0
        _, after = asyncio.run(evaluate(build, EvalConfig(name="arm", library=second), TASKS[:2], MathGrader(),
                                        settings, tmp_path / "eval"))
        assert model.calls > 0, "rollouts made with another library were taken for this one's"
        assert {t.library_digest for t in after} == {load_library(second).digest()}
        # and the record of the same library is still taken
        model.calls = 0
        asyncio.run(evaluate(build, EvalConfig(name="arm", library=second), TASKS[:2], MathGrader(), settings,
                             tmp_path / "eval"))
        assert model.calls == 0
        asyncio.run(evaluate(build, EvalConfig(name="arm", library=first), TASKS[:2], MathGrader(), settings,
                             tmp_path / "eval"))


def test_recorded_rollouts_of_another_agent_set_up_are_run_again(tmp_path):
    """A tool added to the agent (its set-up digest changes) makes every recorded rollout stale, in the
    cache and in the committed record alike; records made without a digest are of an unknown set-up."""
    import shutil

    model, build = counting_world()
    plain = EvalSettings(k=1, temperature=0.3, seed=1, concurrency=2, max_steps=4)
    asyncio.run(evaluate(build, EvalConfig(name="arm"), TASKS[:2], MathGrader(), plain, tmp_path))
    for digest in ("setup-a", "setup-b"):
        for keep_cache in (True, False):
            if not keep_cache:
                shutil.rmtree(tmp_path / "arm" / "cache")
            model.calls = 0
            _, rows = asyncio.run(evaluate(build, EvalConfig(name="arm"), TASKS[:2], MathGrader(),
                                           plain.model_copy(update={"agent_digest": digest}), tmp_path))
            # first of each set-up: what is cached is another set-up's, so it runs; then its own record stands
            assert (model.calls > 0) == keep_cache
            assert {t.agent_digest for t in rows} == {digest}
        model.calls = 0
        asyncio.run(evaluate(build, EvalConfig(name="arm"), TASKS[:2], MathGrader(),
                             plain.model_copy(update={"agent_digest": digest}), tmp_path))
        assert model.calls == 0, "the record of the same set-up is taken"


def test_the_experiment_digest_changes_with_the_tools():
    from tests.fakes import scripted
    from tfgrpo_agents.session import Experiment

    with Experiment("math", scripted("x")) as math:
        with_python = math.agent_digest()
    bare = Experiment("math", scripted("x"))  # not opened: no tools
    assert with_python != bare.agent_digest()
    assert Experiment("math", scripted("x"), max_steps=3).agent_digest() != bare.agent_digest()


def test_an_arm_evaluated_alone_is_read_back_by_the_comparison(tmp_path):
    """The demo and the bench evaluate the baseline first and compare at the end; the comparison must take
    the baseline's rollouts, not run them again (it did, when the first evaluation was not stamped with
    the set-up's digest: the demo took twice as long)."""
    from tfgrpo_agents._async import run_sync
    from tfgrpo_agents.session import Experiment

    model = CountingWorld()
    settings = EvalSettings(k=1, temperature=0.3, seed=1, concurrency=2, max_steps=4)
    with Experiment("math", model, max_steps=4) as experiment:
        run_sync(experiment.aevaluate(EvalConfig(name="baseline"), TASKS[:3], settings, tmp_path))
        assert model.calls > 0
        model.calls = 0
        experiment.compare([EvalConfig(name="baseline")], TASKS[:3], settings, tmp_path)
    assert model.calls == 0
