"""python_exec on a root host: each snippet of the independent review, contained.

CI runs as root with bubblewrap installed by ``.ci/run`` and the interpreter under ``/root`` (a
folder ``nobody`` cannot enter), which is the set-up these tests are about; on a non-root host
they are skipped (the sandbox then runs as that user, see README's security paragraph).
"""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tfgrpo_agents.tools import (
    Isolation,
    SandboxUnavailable,
    SubprocessExecutor,
    detect_sandbox,
)
from tfgrpo_agents.tools import sandbox as sandbox_module

ROOT = os.geteuid() == 0
pytestmark = [pytest.mark.skipif(not ROOT, reason="about a root host")]
if ROOT and shutil.which("bwrap") is None:
    if os.environ.get("TFGRPO_REQUIRE_BWRAP"):
        raise RuntimeError(".ci/run installs bubblewrap for these tests, but bwrap is not on PATH")
    pytestmark.append(pytest.mark.skip(reason="bubblewrap is not installed (.ci/run installs it)"))
PROJECT = Path(__file__).resolve().parents[2]
PACKAGE_FILE = PROJECT / "tfgrpo_agents" / "__init__.py"


@pytest.fixture(scope="module")
def executor():
    return SubprocessExecutor(timeout=8, memory_mb=512, max_processes=64, disk_mb=32)


def attempt(executor, body: str) -> str:
    """Run ``body`` (which may raise OSError) and return 'refused ...' or its own output."""
    code = "try:\n" + textwrap.indent(textwrap.dedent(body), "    ") + \
        "\nexcept OSError as e:\n    print('refused', type(e).__name__)"
    result = executor.run(code)
    return result.stdout + result.stderr


def marker_processes(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_the_plan_drops_root_whatever_the_interpreter_location():
    plan = detect_sandbox()
    assert plan.isolation is Isolation.BWRAP and plan.user == 65534 and plan.staged and not plan.privileged


def test_code_runs_unprivileged_with_no_capabilities(executor):
    out = executor.run("import os\nprint(os.getuid(), os.geteuid(), os.getgid())\n"
                       "print([l for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm', 'CapBnd'))])")
    assert out.stdout.startswith("65534 65534 65534")
    assert out.stdout.count("0000000000000000") == 3, out.stdout


@pytest.mark.parametrize("target", ["/tmp/tfgrpo-escape-{pid}", str(PROJECT / "ESCAPED-{pid}"),
                                    "/root/tfgrpo-escape-{pid}", str(PACKAGE_FILE), "/tfgrpo-escape-{pid}",
                                    "/dev/tfgrpo-escape-{pid}"])
def test_cannot_write_host_files(executor, target):
    path = target.format(pid=os.getpid())
    before = Path(path).read_bytes() if Path(path).exists() else None
    out = attempt(executor, f"open({path!r}, 'a').write('pwned')\nprint('wrote')")
    assert (Path(path).read_bytes() if Path(path).exists() else None) == before, "the host file is untouched"
    if not path.startswith("/tmp/"):  # the sandbox's /tmp is its own, so that write lands there
        assert "wrote" not in out


def test_cannot_read_shadow(executor):
    assert "refused" in attempt(executor, "print(open('/etc/shadow').read()[:20])")


def test_cannot_write_proc_sys(executor):
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    out = attempt(executor, "open('/proc/sys/kernel/core_pattern', 'w').write('|/tmp/x')\nprint('wrote')")
    assert "wrote" not in out
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before


def test_unmounting_proc_uncovers_nothing(executor):
    result = executor.run(
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print('umount', libc.umount2(b'/proc', 2), ctypes.get_errno())\n"
        "pids = [p for p in os.listdir('/proc') if p.isdigit()]\nprint('pids', len(pids))\n"
        f"print('parent visible', os.path.exists('/proc/{os.getpid()}/cmdline'))")
    assert "umount -1" in result.stdout
    assert "parent visible False" in result.stdout
    assert int(result.stdout.split("pids ")[1].split()[0]) < 10


def test_cannot_join_another_cgroup_or_exceed_the_process_limit(executor):
    root_cgroup = "/sys/fs/cgroup/pids/cgroup.procs"
    out = attempt(executor, f"open({root_cgroup!r}, 'w').write(str(__import__('os').getpid()))\nprint('joined')")
    assert "joined" not in out
    result = executor.run(
        "import os, time\nstarted = 0\nfor _ in range(120):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(3)\n        os._exit(0)\n"
        "    started += 1\nprint('started', started)", timeout=8)
    assert "started" in result.stdout
    assert int(result.stdout.split("started ")[1].split()[0]) < 64


def test_dev_shm_is_private_and_gone_after_the_run(executor):
    marker = f"tfgrpo-shm-{os.getpid()}"
    result = executor.run(f"open('/dev/shm/{marker}', 'w').write('x')\nprint('wrote')")
    assert "wrote" in result.stdout
    assert not Path(f"/dev/shm/{marker}").exists()


def test_everything_written_is_capped_in_total(executor):
    result = executor.run(
        "import os\nwritten = 0\nfor i in range(64):\n    for folder in ('/tmp', '/dev/shm'):\n        try:\n"
        "            with open(f'{folder}/f{i}', 'wb') as f:\n                f.write(b'0' * (16 << 20))\n"
        "            written += 16\n        except OSError:\n            pass\nprint('written', written)", timeout=20)
    written = int(result.stdout.split("written ")[1].split()[0])
    assert written <= 32


def assert_dies_with_its_parent(tmp_path, marker: str, plan: str = "None") -> None:
    """Start a parent running sleeping sandboxed code, kill -9 the parent, and see the code go too."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys\nfrom tfgrpo_agents.tools import Isolation, SandboxPlan, SubprocessExecutor\n"
        "code = 'import os, sys; os.execv(sys.executable, [sys.executable, \"-c\", \"import time; time.sleep(60)\", "
        f"\"{marker}\"])'\n"
        f"SubprocessExecutor(plan={plan}, timeout=60).run(code)\n")
    parent = subprocess.Popen([sys.executable, str(script)], cwd=PROJECT)
    deadline = time.monotonic() + 30
    while not marker_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker_processes(marker), "the sandboxed code started"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while marker_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker_processes(marker) == []


def test_the_sandbox_dies_with_a_killed_parent(tmp_path):
    assert_dies_with_its_parent(tmp_path, f"tfgrpo-orphan-{os.getpid()}")


@pytest.mark.parametrize("isolation", [Isolation.UNSHARE, Isolation.NONE])
def test_weaker_plans_die_with_a_killed_parent_too(tmp_path, isolation):
    """The opt-in plans (no bubblewrap) are still killed with the host process."""
    assert_dies_with_its_parent(tmp_path, f"tfgrpo-orphan-{isolation.value}-{os.getpid()}",
                                f"SandboxPlan(isolation=Isolation({isolation.value!r}), user=None, python=sys.executable)")


def test_crashes_name_their_signal(executor):
    result = executor.run("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
    assert result.signal == "SIGSEGV"
    assert "[killed by signal SIGSEGV]" in result.render() and "exit code 139" not in result.render()


@pytest.fixture(scope="module")
def interpreter_in_root_only_tmp():
    """A venv under /tmp inside a folder only root may enter: bubblewrap's /tmp would hide it."""
    folder = Path("/tmp") / f"rootonly-{os.getpid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / "venv")], check=True)
    yield str(folder / "venv" / "bin" / "python")
    shutil.rmtree(folder, ignore_errors=True)


def test_an_interpreter_under_tmp_in_a_root_only_folder_still_gets_bubblewrap(interpreter_in_root_only_tmp):
    plan = detect_sandbox(interpreter_in_root_only_tmp)
    assert plan.isolation is Isolation.BWRAP and plan.user == 65534
    result = SubprocessExecutor(plan=plan).run("import sys, os\nprint(sys.prefix, os.getuid())")
    assert result.stdout.split() == [str(Path(interpreter_in_root_only_tmp).parents[1]), "65534"]


def test_without_bubblewrap_it_refuses_to_run_as_root_unless_asked(interpreter_in_root_only_tmp, monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: None if name == "bwrap" else real_which(name))
    monkeypatch.delenv(sandbox_module.ALLOW_ROOT_ENV, raising=False)
    detect_sandbox.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="will not run code as root.*TFGRPO_SANDBOX_ALLOW_ROOT"):
            detect_sandbox(interpreter_in_root_only_tmp)
        plan = detect_sandbox(interpreter_in_root_only_tmp, allow_root=True)
        assert plan.privileged
    finally:
        detect_sandbox.cache_clear()


def test_leftovers_of_a_killed_process_are_cleaned_on_the_next_start(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = Path("/tmp") / f"tfgrpo-exec-{dead.pid}-leftover"
    stale.mkdir()
    (stale / "junk").write_text("x")
    cgroup = Path(f"/sys/fs/cgroup/pids/tfgrpo-exec-{dead.pid}-1")
    try:
        cgroup.mkdir()
    except OSError:
        cgroup = None
    assert sandbox_module.clean_leftovers() >= 1
    assert not stale.exists()
    assert cgroup is None or not cgroup.exists()

