"""Run model-written Python in a contained subprocess.

Containment, not a hardened security boundary: it stops runaway, careless and hostile
one-liners (infinite loops, memory hogs, fork bombs, huge output, stray writes, network use,
peeking at the parent's secrets or the host's files) from hurting the host or the learning run.
For untrusted users, put a VM-grade sandbox (gVisor, Firecracker, E2B, …) behind the
:class:`CodeExecutor` protocol. How the code is isolated on this machine is decided once by
:func:`~tfgrpo_agents.tools.sandbox.detect_sandbox`; every run adds:

* resource limits set inside the child before the code runs: CPU seconds, address space,
  file size, open files, processes, no core dumps; a pids cgroup when the host allows one;
* ``python -I`` (no user site, no ``PYTHON*`` variables) and a scrubbed environment: no API
  keys reach the code;
* a new session, whose whole process group is killed at the wall-clock timeout, and (under
  bubblewrap) death with the parent if the host process is killed.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from tfgrpo_agents.tools.sandbox import (
    SANDBOX_HOME,
    Isolation,
    SandboxPlan,
    as_user,
    bwrap_args,
    detect_sandbox,
    die_with_parent,
    signal_name,
    staged_prefix,
    unshare_args,
)

logger = logging.getLogger(__name__)

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


class ExecResult(BaseModel):
    stdout: str
    stderr: str
    exit_code: int | None
    timed_out: bool
    duration_s: float
    truncated: bool = False
    signal: str | None = None  # e.g. "SIGSEGV" when a signal ended the code

    def render(self) -> str:
        """The result as a tool message: output first, then errors, then how it ended."""
        parts = []
        if self.stdout:
            parts.append(self.stdout.rstrip())
        if self.stderr:
            parts.append(f"[stderr]\n{self.stderr.rstrip()}")
        if self.timed_out:
            parts.append(f"[stopped: the code ran longer than the time limit ({self.duration_s:.1f}s)]")
        elif self.signal:
            parts.append(f"[killed by signal {self.signal}]")
        elif self.exit_code not in (0, None):
            parts.append(f"[exit code {self.exit_code}]")
        if not parts:
            parts.append("[no output: use print() to show results]")
        return "\n".join(parts)


@runtime_checkable
class CodeExecutor(Protocol):
    """Anything that runs Python code and reports what happened (local, E2B, a remote service…)."""

    def run(self, code: str, timeout: float | None = None) -> ExecResult: ...


class _PidsCgroups:
    """Per-run cgroups capping the number of processes, reused across runs.

    Each concurrent run gets its own cgroup (so killing one run's leftovers never touches
    another's); creating and removing a cgroup is slow next to a small run (BENCHMARKS.md,
    python_exec start-up), so they are kept and reused, and removed at exit.
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
    """Run code in a contained ``python -I`` child process (see the module docstring).

    ``disk_mb`` caps everything the code writes under bubblewrap (its ``/tmp`` working
    directory and ``/dev/shm`` together); ``allow_root`` opts in to running with root's
    privileges where no unprivileged plan works.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        memory_mb: int = 1024,
        file_size_mb: int = 16,
        disk_mb: int = 64,
        max_open_files: int = 64,
        max_processes: int = 64,
        max_output_chars: int = 6000,
        python: str | None = None,
        plan: SandboxPlan | None = None,
        allow_root: bool | None = None,
    ) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.file_size_mb = file_size_mb
        self.disk_mb = disk_mb
        self.max_open_files = max_open_files
        self.max_processes = max_processes
        self.max_output_chars = max_output_chars
        self.plan = plan or detect_sandbox(python, allow_root)
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

    def _command(self, workdir: str, env: dict[str, str], cgroup: str | None, bootstrap: str) -> list[str]:
        plan = self.plan
        code = [plan.python, "-I", "-c", bootstrap]
        procs = os.path.join(cgroup, "cgroup.procs") if cgroup else None
        if plan.isolation is Isolation.BWRAP:
            sandbox = bwrap_args(plan, env, disk_bytes=self.disk_mb * 1024 * 1024)
            if plan.staged:
                return [*staged_prefix(plan, procs), *sandbox, *code]
            return [*_PidsCgroups.prefix(cgroup), *sandbox, *code]
        wrapper = unshare_args() if plan.isolation is Isolation.UNSHARE else die_with_parent()
        return [*_PidsCgroups.prefix(cgroup), *wrapper, *code]

    def run(self, code: str, timeout: float | None = None) -> ExecResult:
        timeout = self.timeout if timeout is None else timeout
        plan = self.plan
        workdir = tempfile.mkdtemp(prefix=f"tfgrpo-exec-{os.getpid()}-")
        home = SANDBOX_HOME if plan.isolation is Isolation.BWRAP else workdir
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8",
               "PYTHONIOENCODING": "utf-8", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        bootstrap = _BOOTSTRAP.format(limits=self._limits(timeout))
        cgroup = self._cgroups.acquire()
        command = self._command(workdir, env, cgroup, bootstrap)
        drop_user = plan.user is not None and not plan.staged
        user_kwargs = as_user(plan.user) if drop_user else {}
        start = time.monotonic()
        try:
            if drop_user:
                os.chown(workdir, plan.user, plan.user)
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                process = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=workdir, env=env,
                    start_new_session=True, close_fds=True, **user_kwargs,
                )
                # A timer kills the group at the deadline; waitpid blocks meanwhile. (communicate
                # with a timeout polls with sleeps, which added latency to every call.)
                expired = threading.Event()

                def expire() -> None:
                    expired.set()
                    _kill_group(process)

                timer = threading.Timer(timeout, expire)
                timer.start()
                try:
                    try:
                        process.stdin.write(code.encode("utf-8", errors="surrogateescape"))
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
            died_of = None if timed_out else signal_name(exit_code, plan.isolation is not Isolation.NONE)
            return ExecResult(stdout=stdout, stderr=stderr, exit_code=exit_code, timed_out=timed_out,
                              duration_s=round(duration, 4), truncated=cut_out or cut_err, signal=died_of)
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
