"""What a killed run leaves behind is cleaned when the next one starts."""

import os
import subprocess
import time

from tfgrpo_agents.learning import RunDir


def test_half_written_files_of_a_dead_writer_are_removed_and_a_live_ones_kept(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".ledger.json.{dead.pid}.x1y2.tmp"
    old_style = tmp_path / ".library.json.q9w8.tmp"
    live = tmp_path / f".library.json.{os.getpid()}.abcd.tmp"
    for path in (stale, old_style, live):
        path.write_text("{")
    an_hour_ago = time.time() - 3700
    os.utime(old_style, (an_hour_ago, an_hour_ago))
    (tmp_path / "library.json").write_text("{}")
    RunDir(tmp_path)
    assert not stale.exists() and not old_style.exists()
    assert live.exists() and (tmp_path / "library.json").exists()
