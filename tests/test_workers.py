"""Rollouts over worker processes (`--workers`): the same trajectories, library and run directory as
in one process, against the scripted OpenAI-compatible stub."""

import json
import os

from tests.test_cli_own_agent import EXAMPLES, shop_tasks, tfgrpo
from tests.test_examples import shop_reply
from tfgrpo_agents._async import run_sync
from tfgrpo_agents.core.rollout import RolloutSettings, rollout_seed
from tfgrpo_agents.core.rundir import RunDir, rollout_key
from tfgrpo_agents.core.runner import RolloutBatch, RolloutJob
from tfgrpo_agents.experience import ExperienceLibrary
from tfgrpo_agents.learning import Task
from tfgrpo_agents.session import ExperimentSpec, ModelRecipe
from tfgrpo_agents.sharding import ProcessRunner
from tfgrpo_agents.testing import OpenAIStub

SHOP = ["--agent", "your_own_agent:make_agent", "--grader", "your_own_agent:reward", "--model", "m"]


def test_a_batch_is_shared_out_among_worker_processes_and_lands_in_the_cache(tmp_path, monkeypatch):
    tasks = [Task.model_validate_json(line) for line in shop_tasks(tmp_path).read_text().splitlines()]
    monkeypatch.syspath_prepend(str(EXAMPLES))
    with OpenAIStub(reply_fn=shop_reply) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        spec = ExperimentSpec(domain="your_own_agent:make_agent", policy=ModelRecipe(model="m", base_url=stub.base_url))
        experiment = spec.build()
        runner = ProcessRunner(spec, 2)
        experiment.closing(runner.close)
        jobs = [RolloutJob(task=t, sample=s, seed=rollout_seed(0, 0, t.id, s), key=rollout_key(t.id, s))
                for t in tasks for s in range(2)]
        seen = []
        try:
            run_sync(runner.fill(RolloutBatch(jobs=jobs, library=ExperienceLibrary(), run_dir=str(tmp_path / "arm"),
                                              settings=RolloutSettings(temperature=0.7), concurrency=4),
                                 lambda key, failed: seen.append((key, failed))))
        finally:
            experiment.__exit__(None, None, None)
    assert sorted(seen) == sorted((job.key, False) for job in jobs)
    assert len(runner.pids) == 2 and os.getpid() not in runner.pids and sum(runner.pids.values()) == len(jobs)
    cached = [RunDir(tmp_path / "arm").cached("rollout", job.key) for job in jobs]
    assert all(c and c["tool_calls"][0]["name"] == "lookup_price" for c in cached)


def _records(path):
    return sorted((r["task_id"], r["sample"], r["final_answer"], r["reward"], len(r["tool_calls"]))
                  for r in map(json.loads, path.read_text().splitlines()))


def test_eval_and_learn_with_two_workers_match_one_process(tmp_path):
    tasks = str(shop_tasks(tmp_path))
    with OpenAIStub(reply_fn=shop_reply) as stub:
        env = {**os.environ, "OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "test"}
        runs = {}
        for workers in ("1", "2"):
            evaluated = tfgrpo("eval", *SHOP, "--tasks", tasks, "--base-url", stub.base_url, "--k", "3",
                               "--concurrency", "4", "--workers", workers, "--out", str(tmp_path / f"eval{workers}"),
                               "--json", env=env)
            assert evaluated.returncode == 0, evaluated.stderr[-3000:]
            learned = tfgrpo("learn", *SHOP, "--tasks", tasks, "--base-url", stub.base_url, "--group-size", "3",
                             "--epochs", "1", "--batch-size", "2", "--workers", workers,
                             "--out", str(tmp_path / f"learn{workers}"), "--json", env=env)
            assert learned.returncode == 0, learned.stderr[-3000:]
            runs[workers] = (json.loads(evaluated.stdout), json.loads(learned.stdout))
    one, two = runs["1"], runs["2"]
    assert _records(tmp_path / "eval1" / "baseline" / "trajectories.jsonl") == \
        _records(tmp_path / "eval2" / "baseline" / "trajectories.jsonl")
    assert one[0]["arms"][0]["summary"]["mean_at_k"] == two[0]["arms"][0]["summary"]["mean_at_k"]
    assert [e["text"] for e in one[1]["experiences"]] == [e["text"] for e in two[1]["experiences"]]
    for step in ("step-0001", "step-0002"):
        assert _records(tmp_path / "learn1" / "steps" / step / "trajectories.jsonl") == \
            _records(tmp_path / "learn2" / "steps" / step / "trajectories.jsonl")


def test_workers_with_the_embedded_model_is_a_one_line_error(tmp_path):
    tasks = tmp_path / "t.jsonl"
    tasks.write_text(json.dumps({"question": "1+1?", "answer": "2"}) + "\n")
    result = tfgrpo("eval", "--tasks", str(tasks), "--model", "local", "--workers", "2", "--out", str(tmp_path / "o"),
                    env=dict(os.environ), cwd=tmp_path)
    assert result.returncode == 2
    assert "--workers 2: more than one worker needs an endpoint" in result.stderr.strip().splitlines()[-1]
    assert "llama" not in (result.stdout + result.stderr).lower()  # refused before the embedded model started


def test_a_worker_that_cannot_build_the_agent_leaves_its_rollouts_to_this_process(tmp_path, caplog):
    spec = ExperimentSpec(domain="no_such_module_here:make", policy=ModelRecipe(model="m", base_url="http://127.0.0.1:9"))
    runner = ProcessRunner(spec, 2)
    task = Task(id="q", question="1+1?", answer="2")
    jobs = [RolloutJob(task=task, sample=s, seed=s, key=rollout_key("q", s)) for s in range(2)]
    try:
        run_sync(runner.fill(RolloutBatch(jobs=jobs, library=ExperienceLibrary(), settings=RolloutSettings(),
                                          run_dir=str(tmp_path / "arm"))))
    finally:
        runner.close()
    assert "a rollout worker failed" in caplog.text and "no_such_module_here" in caplog.text
    assert all(RunDir(tmp_path / "arm").cached("rollout", job.key) is None for job in jobs)
