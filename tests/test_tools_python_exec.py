"""The sandboxed python_exec: normal use, and a hostile-snippet suite asserting containment.

Each hostile test checks both that the snippet was contained and that this (host) process
and machine are unaffected afterwards.
"""

import os
import socket
import threading
import time

import pytest

from tfgrpo_agents.tools import (
    ExecResult,
    Isolation,
    SubprocessExecutor,
    detect_sandbox,
    python_exec_tool,
)

PLAN = detect_sandbox()
ISOLATED = PLAN.isolation is not Isolation.NONE
SEPARATE_USER_OR_PIDNS = ISOLATED or PLAN.user is not None
needs_isolation = pytest.mark.skipif(not ISOLATED, reason="neither bwrap nor unshare works on this machine")
needs_fs_isolation = pytest.mark.skipif(
    PLAN.isolation is not Isolation.BWRAP and PLAN.user is None,
    reason="file-system containment needs bwrap or an unprivileged user",
)


@pytest.fixture(scope="module")
def executor():
    return SubprocessExecutor(timeout=5, memory_mb=512, max_output_chars=2000, max_processes=32)


def host_is_healthy():
    """This process can still fork, and a trivial child completes."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WEXITSTATUS(status) == 0


def processes_matching(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if marker.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_runs_code_and_reports_everything(executor):
    result = executor.run("import sys\nprint(6 * 7)\nprint('warn', file=sys.stderr)\nsys.exit(3)")
    assert isinstance(result, ExecResult)
    assert result.stdout == "42\n" and result.stderr == "warn\n"
    assert result.exit_code == 3 and not result.timed_out and result.duration_s > 0


def test_errors_show_a_clean_traceback(executor):
    result = executor.run("def f():\n    return 1 / 0\nf()")
    assert result.exit_code == 1
    assert 'File "<python_exec>", line 2, in f' in result.stderr
    assert "ZeroDivisionError" in result.stderr and "_BOOTSTRAP" not in result.stderr


def test_tool_wraps_results_as_text(executor):
    tool = python_exec_tool(executor)
    assert tool.invoke({"code": "print(sum(range(10)))"}) == "45"
    assert "[no output: use print() to show results]" in tool.invoke({"code": "x = 1"})
    assert "NameError" in tool.invoke({"code": "print(undefined)"})


def test_infinite_loop_is_stopped_at_the_timeout(executor):
    start = time.monotonic()
    result = executor.run("while True:\n    pass", timeout=1.5)
    assert result.timed_out and result.duration_s < 3
    assert "[stopped: the code ran longer than the time limit" in result.render()
    assert time.monotonic() - start < 5 and host_is_healthy()


def test_fork_bomb_is_contained(executor):
    marker = "tfgrpo-forkbomb-marker"
    code = f"import os\n# {marker}\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    result = executor.run(code, timeout=2)
    assert result.timed_out or result.exit_code != 0
    time.sleep(0.2)
    assert processes_matching(marker) == [], "no fork-bomb process survives the run"
    assert host_is_healthy()


def test_memory_hog_fails_inside_the_child(executor):
    result = executor.run("blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 1024 * 1024))")
    assert result.exit_code != 0 and "MemoryError" in result.stderr
    assert host_is_healthy()


def test_huge_output_is_truncated(executor):
    result = executor.run("for i in range(2_000_000):\n    print('spam' * 20)", timeout=10)
    assert result.truncated
    assert len(result.stdout) < 2200 and "[output truncated:" in result.stdout


@needs_fs_isolation
def test_cannot_write_outside_its_directory(executor, tmp_path):
    target = tmp_path / "escaped.txt"
    project_file = os.path.join(os.path.dirname(__file__), "ESCAPED")
    result = executor.run(
        "import os\nfor path in [%r, %r]:\n    try:\n        open(path, 'w').write('pwned')\n"
        "        print('wrote', path)\n    except OSError as e:\n        print('refused', type(e).__name__)\n"
        "open('inside.txt', 'w').write('ok'); print(open('inside.txt').read())" % (str(target), project_file)
    )
    assert not target.exists() and not os.path.exists(project_file)
    assert result.stdout.count("refused") == 2 and result.stdout.strip().endswith("ok")


def test_parent_environment_secrets_do_not_leak(executor, monkeypatch):
    monkeypatch.setenv("TFGRPO_TEST_API_KEY", "sk-very-secret-value")
    result = executor.run(
        "import os\nprint(dict(os.environ))\n"
        "for pid in (os.getppid(), %d):\n    try:\n        print(open(f'/proc/{pid}/environ').read())\n"
        "    except OSError as e:\n        print('no access', type(e).__name__)" % os.getpid()
    )
    assert "sk-very-secret-value" not in result.stdout + result.stderr
    assert "TFGRPO_TEST_API_KEY" not in result.stdout


@needs_isolation
def test_network_is_off(executor):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(3)
    accepted = []
    thread = threading.Thread(target=lambda: _accept(listener, accepted), daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    result = executor.run(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', %d), timeout=2)\n    print('connected')\n"
        "except OSError as e:\n    print('blocked', type(e).__name__)" % port
    )
    thread.join()
    listener.close()
    assert result.stdout.startswith("blocked") and accepted == []


def _accept(listener, accepted):
    try:
        accepted.append(listener.accept())
    except OSError:
        pass


@pytest.mark.skipif(not SEPARATE_USER_OR_PIDNS, reason="without isolation or a separate user the child could signal us")
def test_cannot_kill_the_parent(executor):
    result = executor.run(
        "import os, signal\nfor pid in (%d, os.getppid()):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
        "        print('sent', pid)\n    except OSError as e:\n        print('refused', pid, type(e).__name__)" % os.getpid()
    )
    assert f"refused {os.getpid()}" in result.stdout
    assert host_is_healthy()  # we are still here to assert it


def test_spawned_shells_and_background_processes_die_with_the_run(executor, tmp_path):
    marker = "tfgrpo-background-sleeper"
    result = executor.run(
        "import subprocess\nprint(subprocess.run(['sh', '-c', 'echo from-shell'], capture_output=True, text=True).stdout)\n"
        "subprocess.Popen(['sh', '-c', 'exec -a %s sleep 300'], start_new_session=True)\nprint('spawned')" % marker
    )
    assert "from-shell" in result.stdout and "spawned" in result.stdout
    time.sleep(0.3)
    assert processes_matching(marker) == [], "background processes are killed when the run ends"


def test_file_descriptors_do_not_leak(executor, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("fd-secret-content")
    handle = open(secret)
    os.set_inheritable(handle.fileno(), True)
    try:
        result = executor.run(
            "import os\nfor fd in range(3, 256):\n    try:\n        print(os.read(fd, 100))\n    except OSError:\n        pass"
        )
    finally:
        handle.close()
    assert "fd-secret-content" not in result.stdout


def test_executor_survives_its_limits_being_hit_repeatedly(executor):
    for _ in range(3):
        executor.run("while True: pass", timeout=0.5)
    assert executor.run("print('still fine')").stdout == "still fine\n"
