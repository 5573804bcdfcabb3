"""`tfgrpo serve / search / browse / exec` as a user runs them."""

import re
import signal
import subprocess
import sys

import httpx
from typer.testing import CliRunner

from tests.sites import DEEP_FACT, make_site
from tfgrpo_agents.cli import app

runner = CliRunner()


def test_search_and_browse_a_local_site(tmp_path, monkeypatch):
    monkeypatch.setenv("TFGRPO_CACHE", str(tmp_path / "cache"))
    site = make_site(tmp_path / "site")
    found = runner.invoke(app, ["search", str(site), "workshop chair", "-n", "2"])
    assert found.exit_code == 0 and re.search(r"1\. Workshops\n\s+URL: http://127\.0\.0\.1:\d+/program/workshops\.html", found.output)
    page = runner.invoke(app, ["browse", "program/workshops.html", "--site", str(site), "--goal", "chair"])
    assert page.exit_code == 0 and DEEP_FACT in page.output


def test_search_on_a_missing_site_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["search", str(tmp_path / "nope"), "x"])
    assert result.exit_code == 2 and "no site at" in result.output


def test_exec_runs_code_from_stdin():
    result = runner.invoke(app, ["exec"], input="print(sum(range(5)))\n")
    assert result.exit_code == 0 and "sandbox:" in result.output and "10" in result.output
    failed = runner.invoke(app, ["exec", "--timeout", "1"], input="while True: pass\n")
    assert failed.exit_code == 1 and "stopped: the code ran longer" in failed.output


def test_serve_until_interrupted(tmp_path):
    site = make_site(tmp_path / "site")
    process = subprocess.Popen([sys.executable, "-m", "tfgrpo_agents.cli", "serve", str(site)],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = re.search(r"at (http://127\.0\.0\.1:\d+/)", line).group(1)
        assert "Welcome to Orbit Conf" in httpx.get(url).text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
