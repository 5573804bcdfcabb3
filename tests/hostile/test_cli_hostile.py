"""Bad input to the CLI: every case gets a short error naming the problem and a non-zero exit,
never a traceback, and nothing is written on the way."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tfgrpo_agents.cli import app

runner = CliRunner()
LEARN = ["learn", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--agent", "qa"]
EVAL = ["eval", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--agent", "qa"]


@pytest.fixture
def tasks(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"id": "a", "question": "What is 1 + 1?", "answer": "2"}) + "\n")
    return path


def refused(result, *words: str) -> None:
    text = result.output
    assert result.exit_code != 0, text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in text
    for word in words:
        assert word in text, text


@pytest.mark.parametrize("option,value", [
    ("--group-size", "-1"), ("--group-size", "0"), ("--epochs", "0"), ("--batch-size", "-3"),
    ("--concurrency", "0"), ("--temperature", "-1"), ("--rollout-timeout", "0"), ("--max-steps", "0"),
    ("--placement", "bogus"), ("--structured-method", "bogus"), ("--limit", "-1"), ("--limit", "0"),
    ("--summaries", "bogus"),
])
def test_learn_refuses_bad_numbers_and_names(tmp_path, tasks, option, value):
    out = tmp_path / "run"
    result = runner.invoke(app, [*LEARN, "--tasks", str(tasks), "--out", str(out), option, value])
    refused(result, option)
    assert not out.exists(), "nothing is written for a refused command"


def test_learn_refuses_missing_files(tmp_path, tasks):
    for option in ("--site", "--prices"):
        result = runner.invoke(app, [*LEARN, "--tasks", str(tasks), "--out", str(tmp_path / "r"), option,
                                     str(tmp_path / "nope")])
        refused(result, option, "does not exist")


def test_learn_refuses_a_bad_price_table(tmp_path, tasks):
    prices = tmp_path / "prices.json"
    prices.write_text("[1, 2")
    result = runner.invoke(app, [*LEARN, "--tasks", str(tasks), "--out", str(tmp_path / "r"), "--prices", str(prices)])
    refused(result, "not a price table")


@pytest.mark.parametrize("content,words", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", ["not UTF-8"]),
    (json.dumps({"question": ["a", "list"], "answer": "2"}).encode() + b"\n", ["must be text or numbers"]),
    (json.dumps({"question": "What?", "answer": {"a": 1}}).encode() + b"\n", ["must be text or numbers"]),
    (b"[" * 50000, ["not valid JSON"]),
])
def test_learn_refuses_bad_task_files(tmp_path, content, words):
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(content)
    result = runner.invoke(app, [*LEARN, "--tasks", str(path), "--out", str(tmp_path / "r")])
    refused(result, *words)


def test_eval_refuses_a_missing_library_and_bad_placement(tmp_path, tasks):
    result = runner.invoke(app, [*EVAL, "--tasks", str(tasks), "--out", str(tmp_path / "e"),
                                 "--experiences", str(tmp_path / "nope.json")])
    refused(result, "--experiences", "does not exist")
    result = runner.invoke(app, [*EVAL, "--tasks", str(tasks), "--out", str(tmp_path / "e"), "--placement", "x"])
    refused(result, "--placement")
    broken = tmp_path / "broken.json"
    broken.write_bytes(b"\xff\xfe\x00")
    result = runner.invoke(app, [*EVAL, "--tasks", str(tasks), "--out", str(tmp_path / "e"),
                                 "--experiences", str(broken)])
    refused(result, str(broken))


def test_site_commands_refuse_a_missing_site(tmp_path):
    refused(runner.invoke(app, ["browse", "index.html", "--site", str(tmp_path / "nosite")]), "does not exist")
    refused(runner.invoke(app, ["search", str(tmp_path / "nosite"), "x"]), "no site at")


def test_exec_refuses_missing_and_binary_files(tmp_path):
    refused(runner.invoke(app, ["exec", str(tmp_path / "nope.py")]), "does not exist")
    binary = tmp_path / "bin.py"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    refused(runner.invoke(app, ["exec", str(binary)]), "not UTF-8")
    refused(runner.invoke(app, ["exec", "--timeout", "0"], input="print(1)\n"), "--timeout")


def test_learn_against_a_dead_endpoint_fails_the_run_and_can_resume(tmp_path, tasks):
    out = tmp_path / "run"
    process = subprocess.run(
        [sys.executable, "-m", "tfgrpo_agents.cli", *LEARN, "--tasks", str(tasks), "--out", str(out),
         "--group-size", "2", "--epochs", "1", "--batch-size", "1"],
        capture_output=True, text=True, timeout=180)
    assert process.returncode == 1, process.stdout + process.stderr
    assert "failed before the model answered" in process.stderr and "--resume" in process.stderr
    assert "Traceback" not in process.stderr
    assert not list((out / "cache").glob("rollout/*.json")), "failures to reach the model are not cached"


def test_eval_against_a_dead_endpoint_fails(tmp_path, tasks):
    process = subprocess.run(
        [sys.executable, "-m", "tfgrpo_agents.cli", *EVAL, "--tasks", str(tasks), "--out", str(tmp_path / "e"),
         "--k", "1"], capture_output=True, text=True, timeout=180)
    assert process.returncode == 1 and "failed before the model answered" in process.stderr, process.stderr


def test_ctrl_c_stops_an_evaluation_promptly_with_exit_130(tmp_path, tasks):
    import signal
    import time

    from tfgrpo_agents.testing import OpenAIStub

    with OpenAIStub(["Final answer: 2"] * 8, delay_s=30) as stub:  # every model call hangs for 30 s
        process = subprocess.Popen(
            [sys.executable, "-m", "tfgrpo_agents.cli", "eval", "--model", "m", "--base-url", stub.base_url,
             "--agent", "qa", "--tasks", str(tasks), "--out", str(tmp_path / "e"), "--k", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not stub.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stub.requests, "rollouts are in flight"
        start = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=15)
        elapsed = time.monotonic() - start
    assert code == 130 and elapsed < 5, (code, elapsed)
    assert "interrupted" in process.stderr.read()
