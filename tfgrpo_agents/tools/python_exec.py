"""Run model-written Python in a contained subprocess.

This is containment, not a hardened security boundary: it stops runaway and careless code
(infinite loops, memory hogs, fork bombs, huge output, stray writes, network use, peeking at the
parent's secrets) from hurting the host or the learning run. For untrusted users, put a real
sandbox (a VM, gVisor, E2B, …) behind the :class:`CodeExecutor` protocol.

Layers, each used when the machine offers it (detected once, logged when missing):

* resource limits set inside the child before the code runs: CPU seconds, address space,
  file size, open files, processes, no core dumps;
* a fresh temporary working directory, ``python -I`` (no user site, no ``PYTHON*`` variables)
  and a scrubbed environment: no API keys reach the code;
* a new session, whose whole process group is killed at the wall-clock timeout;
* when the host runs as root, the code runs as ``nobody`` (so it cannot signal or read the
  host's processes, and the process limit applies);
* ``bwrap`` (bubblewrap): read-only root file system, private ``/tmp``, writable working
  directory only, new PID and network namespaces; else ``unshare``: new user, PID, mount and
  network namespaces. Without either, the code can reach the network (logged warning).
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

logger = logging.getLogger(__name__)

NOBODY = 65534

# Runs inside the child: read the code, lock the limits, then execute it as __main__.
_BOOTSTRAP = """
import os, resource, sys
code = sys.stdin.read()
fd = os.open(os.devnull, os.O_RDONLY); os.dup2(fd, 0); os.close(fd)
for name, value in {limits!r}:
    resource.setrlimit(getattr(resource, name), (value, value))
sys.argv = ["<python_exec>"]
globals_ = {{"__name__": "__main__", "__builtins__": __builtins__}}
try:
    exec(compile(code, "<python_exec>", "exec"), globals_)
except SystemExit:
    raise
except BaseException as error:
    import traceback
    traceback.print_exception(type(error), error, error.__traceback__.tb_next)
    sys.exit(1)
"""


class Isolation(StrEnum):
    BWRAP = "bwrap"
    UNSHARE = "unshare"
    NONE = "none"


class ExecResult(BaseModel):
    stdout: str
    stderr: str
    exit_code: int | None
    timed_out: bool
    duration_s: float
    truncated: bool = False

    def render(self) -> str:
        """The result as a tool message: output first, then errors, then how it ended."""
        parts = []
        if self.stdout:
            parts.append(self.stdout.rstrip())
        if self.stderr:
            parts.append(f"[stderr]\n{self.stderr.rstrip()}")
        if self.timed_out:
            parts.append(f"[stopped: the code ran longer than the time limit ({self.duration_s:.1f}s)]")
        elif self.exit_code not in (0, None):
            parts.append(f"[exit code {self.exit_code}]")
        if not parts:
            parts.append("[no output: use print() to show results]")
        return "\n".join(parts)


@runtime_checkable
class CodeExecutor(Protocol):
    """Anything that runs Python code and reports what happened (local, E2B, a remote service…)."""

    def run(self, code: str, timeout: float | None = None) -> ExecResult: ...


class SandboxPlan(BaseModel):
    """What this machine supports, found by trying it once."""

    isolation: Isolation
    user: int | None  # uid/gid to run as, or None to keep the host's
    python: str
    python_dirs: list[str] = []  # the interpreter's install, re-exposed when the home directory is hidden
    pids_cgroup: str | None = None  # a cgroup directory under which each run gets a process limit


def _wrap(plan: SandboxPlan, workdir: str, env: dict[str, str]) -> list[str]:
    if plan.isolation is Isolation.BWRAP:
        command = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        home = os.path.expanduser("~")
        if home not in ("/", "") and os.path.isdir(home):
            command += ["--tmpfs", home]  # the host user's files (keys, configs) stay out of sight
            for directory in plan.python_dirs:
                if directory.startswith(home.rstrip("/") + "/"):
                    command += ["--ro-bind", directory, directory]
        command += ["--bind", workdir, workdir, "--chdir", workdir, "--unshare-all", "--die-with-parent",
                    "--new-session", "--clearenv"]
        for key, value in env.items():
            command += ["--setenv", key, value]
        return [*command, "--"]
    if plan.isolation is Isolation.UNSHARE:
        return ["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--mount",
                "--mount-proc", "--kill-child", "--"]
    return []


def _works(command: list[str], user: int | None) -> bool:
    try:
        kwargs = {"user": user, "group": user, "extra_groups": []} if user is not None else {}
        done = subprocess.run(command, capture_output=True, timeout=20, **kwargs)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _python_dirs(python: str) -> list[str]:
    try:
        out = subprocess.run([python, "-I", "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.strip() for line in out.splitlines() if line.strip()})


def _pids_cgroup_root() -> str | None:
    """A writable cgroup hierarchy with the pids controller (v1 or v2), if this process may use one."""
    if os.geteuid() != 0:
        return None
    for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        probe = os.path.join(root, f"tfgrpo-probe-{os.getpid()}")
        try:
            os.mkdir(probe)
            usable = os.path.exists(os.path.join(probe, "pids.max"))
            os.rmdir(probe)
        except OSError:
            continue
        if usable:
            return root
    return None


@functools.cache
def detect_sandbox(python: str | None = None) -> SandboxPlan:
    """The strongest containment this machine allows, with an interpreter the sandbox can run.

    Prefers running as ``nobody`` (when the host is root) with the host's interpreter; an
    interpreter ``nobody`` cannot reach (e.g. under ``/root``) keeps the host's user instead,
    and the process limit then comes from a pids cgroup.
    """
    interpreter = python or sys.executable
    users: list[int | None] = [NOBODY, None] if os.geteuid() == 0 else [None]
    scratch = tempfile.mkdtemp(prefix="tfgrpo-probe-")
    python_dirs = _python_dirs(interpreter)
    try:
        for user in users:
            os.chown(scratch, os.getuid() if user is None else user, os.getgid() if user is None else user)
            for isolation in (Isolation.BWRAP, Isolation.UNSHARE, Isolation.NONE):
                if isolation is not Isolation.NONE and shutil.which(isolation.value) is None:
                    continue
                plan = SandboxPlan(isolation=isolation, user=user, python=interpreter, python_dirs=python_dirs)
                probe = [*_wrap(plan, scratch, {"PATH": "/usr/bin:/bin"}), interpreter, "-I", "-c", "pass"]
                if not _works(probe, user):
                    continue
                if user is None:
                    plan.pids_cgroup = _pids_cgroup_root()
                if isolation is Isolation.NONE:
                    logger.warning("python_exec: neither bwrap nor unshare works here; code runs without "
                                   "network or file-system isolation")
                if os.geteuid() == 0 and user is None and plan.pids_cgroup is None:
                    logger.warning("python_exec: runs as root without a pids cgroup; the process limit does not apply")
                return plan
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    raise RuntimeError(f"python_exec cannot start {interpreter}")


class _PidsCgroups:
    """Per-run cgroups capping the number of processes, reused across runs.

    Each concurrent run gets its own cgroup (so killing one run's leftovers never touches
    another's); creating and removing a cgroup costs ~15 ms, so they are kept and reused, and
    removed at exit.
    """

    def __init__(self, root: str | None, limit: int) -> None:
        self.root = root
        self.limit = limit
        self._free: list[str] = []
        self._all: list[str] = []
        self._lock = threading.Lock()
        if root is not None:
            atexit.register(self.close)

    def acquire(self) -> str | None:
        if self.root is None:
            return None
        with self._lock:
            if self._free:
                return self._free.pop()
        path = os.path.join(self.root, f"tfgrpo-exec-{os.getpid()}-{time.monotonic_ns()}")
        try:
            os.mkdir(path)
            with open(os.path.join(path, "pids.max"), "w") as handle:
                handle.write(str(self.limit))
        except OSError as exc:
            logger.warning("python_exec: no pids cgroup for this run (%s)", exc)
            return None
        with self._lock:
            self._all.append(path)
        return path

    @staticmethod
    def prefix(path: str | None) -> list[str]:
        """A shell that moves itself into the cgroup, then execs the command (children inherit it)."""
        if path is None:
            return []
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', os.path.join(path, "cgroup.procs")]

    def release(self, path: str | None) -> None:
        """Kill whatever the run left in its cgroup, then make the cgroup available again."""
        if path is None:
            return
        for _ in range(100):
            pids = _cgroup_pids(path)
            if not pids:
                with self._lock:
                    self._free.append(path)
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.005)
        logger.warning("python_exec: processes in %s would not die; not reusing it", path)

    def close(self) -> None:
        with self._lock:
            paths, self._all, self._free = self._all, [], []
        for path in paths:
            try:
                os.rmdir(path)
            except OSError:
                pass


def _cgroup_pids(path: str) -> list[int]:
    try:
        with open(os.path.join(path, "cgroup.procs")) as handle:
            return [int(line) for line in handle if line.strip()]
    except OSError:
        return []


class SubprocessExecutor:
    """Run code in a contained ``python -I`` child process (see the module docstring)."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        memory_mb: int = 1024,
        file_size_mb: int = 16,
        max_open_files: int = 64,
        max_processes: int = 64,
        max_output_chars: int = 6000,
        python: str | None = None,
        plan: SandboxPlan | None = None,
    ) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.file_size_mb = file_size_mb
        self.max_open_files = max_open_files
        self.max_processes = max_processes
        self.max_output_chars = max_output_chars
        self.plan = plan or detect_sandbox(python)
        self._cgroups = _PidsCgroups(self.plan.pids_cgroup, max_processes)

    def _limits(self, timeout: float) -> list[tuple[str, int]]:
        return [
            ("RLIMIT_CPU", max(1, int(timeout) + 1)),
            ("RLIMIT_AS", self.memory_mb * 1024 * 1024),
            ("RLIMIT_FSIZE", self.file_size_mb * 1024 * 1024),
            ("RLIMIT_NOFILE", self.max_open_files),
            ("RLIMIT_NPROC", self.max_processes),
            ("RLIMIT_CORE", 0),
        ]

    def run(self, code: str, timeout: float | None = None) -> ExecResult:
        timeout = self.timeout if timeout is None else timeout
        plan = self.plan
        workdir = tempfile.mkdtemp(prefix="tfgrpo-exec-")
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
               "PYTHONIOENCODING": "utf-8", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        bootstrap = _BOOTSTRAP.format(limits=self._limits(timeout))
        cgroup = self._cgroups.acquire()
        command = [*self._cgroups.prefix(cgroup), *_wrap(plan, workdir, env), plan.python, "-I", "-c", bootstrap]
        user_kwargs = {"user": plan.user, "group": plan.user, "extra_groups": []} if plan.user is not None else {}
        start = time.monotonic()
        try:
            if plan.user is not None:
                os.chown(workdir, plan.user, plan.user)
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                process = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=workdir, env=env,
                    start_new_session=True, close_fds=True, **user_kwargs,
                )
                # A timer kills the group at the deadline; waitpid blocks meanwhile. (communicate
                # with a timeout polls with sleeps, which added ~25 ms to every call.)
                expired = threading.Event()

                def expire() -> None:
                    expired.set()
                    _kill_group(process)

                timer = threading.Timer(timeout, expire)
                timer.start()
                try:
                    try:
                        process.stdin.write(code.encode("utf-8"))
                        process.stdin.close()
                    except BrokenPipeError:
                        pass  # the child died before reading its code; its exit status tells why
                    process.wait()
                finally:
                    timer.cancel()
                    _kill_group(process)
                    process.wait()
                timed_out = expired.is_set()
                duration = time.monotonic() - start
                stdout, cut_out = self._read(out)
                stderr, cut_err = self._read(err)
            exit_code = process.returncode
            if exit_code is not None and exit_code < 0:
                stderr += f"\n[killed by signal {signal.Signals(-exit_code).name}]"
            return ExecResult(stdout=stdout, stderr=stderr, exit_code=exit_code, timed_out=timed_out,
                              duration_s=round(duration, 4), truncated=cut_out or cut_err)
        finally:
            self._cgroups.release(cgroup)
            shutil.rmtree(workdir, ignore_errors=True)

    def _read(self, handle) -> tuple[str, bool]:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(0)
        text = handle.read(self.max_output_chars * 4).decode("utf-8", errors="replace")
        if size <= self.max_output_chars and len(text) <= self.max_output_chars:
            return text, False
        head = text[: self.max_output_chars]
        return f"{head}\n[output truncated: {size - len(head.encode('utf-8'))} more bytes not shown]", True


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the child's whole session, including anything it left running in the background."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
