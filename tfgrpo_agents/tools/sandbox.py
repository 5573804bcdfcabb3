"""How python_exec contains code on this machine: the plan, found once, and the command it runs.

The goal, whatever the host user: the code runs as an unprivileged uid in its own user, PID,
mount, network and IPC namespaces, with no capabilities, a read-only view of the system and
of the interpreter, and only size-capped private ``/tmp`` and ``/dev/shm`` to write to.

* ``bwrap`` (bubblewrap) gives all of that. On a root host bubblewrap alone would keep host
  root (its user namespace maps to uid 0 outside), so the run first enters a private mount
  namespace as root, binds the interpreter's folders where an unprivileged user can reach
  them (they often live under ``/root``), then drops to ``nobody`` with ``setpriv`` and only
  then starts bubblewrap.
* ``unshare`` (fallback): new user/PID/mount/network namespaces, mapped to an unprivileged
  uid (never to root inside, so the code cannot unmount ``/proc``); the file system is the
  host's, protected only by the uid's permissions, and no total size cap applies.
* none: resource limits and a scrubbed environment only.

On a root host, a plan that would keep root's privileges is refused unless the caller opts
in (``allow_root=True`` or ``TFGRPO_SANDBOX_ALLOW_ROOT=1``), with the reason.
"""

from __future__ import annotations

import atexit
import functools
import glob
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from tfgrpo_agents._process import pid_alive
from tfgrpo_agents.errors import TfgrpoError

logger = logging.getLogger(__name__)

NOBODY = 65534
ALLOW_ROOT_ENV = "TFGRPO_SANDBOX_ALLOW_ROOT"
SANDBOX_HOME = "/tmp"  # inside bubblewrap: the writable, size-capped working directory
_SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_PREFIX = "tfgrpo-"  # every host folder this module or python_exec creates starts so, then the pid

# Root host only: runs as root in a private mount namespace; binds each interpreter folder onto
# its stage folder read-only, joins the run's pids cgroup, then drops to the sandbox user.
_STAGE_SCRIPT = r"""set -e
if [ -n "$1" ]; then echo $$ > "$1"; fi
uid=$2; n=$3; shift 3
while [ "$n" -gt 0 ]; do
  mount --bind "$1" "$2"; mount -o remount,bind,ro "$2"; shift 2; n=$((n - 1))
done
exec setpriv --reuid="$uid" --regid="$uid" --clear-groups --inh-caps=-all --bounding-set=-all -- "$@"
"""


class Isolation(StrEnum):
    BWRAP = "bwrap"
    UNSHARE = "unshare"
    NONE = "none"


class SandboxUnavailable(TfgrpoError, RuntimeError):
    """No plan contains code on this machine without keeping root's privileges."""


class SandboxPlan(BaseModel):
    """What this machine supports, found by trying it once."""

    isolation: Isolation
    user: int | None  # host uid the code runs as, or None to keep the host's own
    python: str
    python_dirs: list[str] = []  # the interpreter's folders, bound read-only into the sandbox
    staged: bool = False  # root host: bind the interpreter in a private mount namespace, then drop to `user`
    stage_points: list[str] = []  # staged: the empty host folders the interpreter folders are bound onto
    pids_cgroup: str | None = None  # a cgroup directory under which each run gets a process limit

    @property
    def privileged(self) -> bool:
        """True when the code keeps the host's root privileges (only with an explicit opt-in)."""
        return os.geteuid() == 0 and self.user is None

    def describe(self) -> str:
        who = "host root" if self.privileged else (f"uid {self.user}" if self.user is not None else "the host user")
        return f"{self.isolation.value} as {who}" + (", interpreter staged" if self.staged else "")


def _host_dirs_bound(python_dirs: list[str]) -> list[str]:
    """Interpreter folders that the system binds do not already cover."""
    system = [d for d in _SYSTEM_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    return [d for d in python_dirs if not any(d == s or d.startswith(s + "/") for s in system)]


def stage_points(python_dirs: list[str]) -> list[str]:
    """Empty host folders (traversable by anyone), one mount point per interpreter folder not under a system one."""
    python_dirs = _host_dirs_bound(python_dirs)
    root = tempfile.mkdtemp(prefix=f"{_PREFIX}stage-{os.getpid()}-")
    os.chmod(root, 0o711)
    points = []
    for index, _ in enumerate(python_dirs):
        point = os.path.join(root, f"p{index}")
        os.mkdir(point)
        os.chmod(point, 0o755)
        points.append(point)
    atexit.register(shutil.rmtree, root, True)
    return points


def bwrap_args(plan: SandboxPlan, env: dict[str, str], *, disk_bytes: int) -> list[str]:
    """The bubblewrap command line, up to and including ``--``."""
    tmp_bytes = max(1 << 20, disk_bytes * 3 // 4)
    shm_bytes = max(1 << 20, disk_bytes - tmp_bytes)
    args = ["bwrap", "--unshare-all", "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
            "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv",
            "--size", str(tmp_bytes), "--tmpfs", SANDBOX_HOME,
            "--proc", "/proc", "--dev", "/dev", "--size", str(shm_bytes), "--tmpfs", "/dev/shm"]
    for directory in _SYSTEM_DIRS:
        if os.path.islink(directory):
            args += ["--symlink", os.readlink(directory), directory]
        elif os.path.isdir(directory):
            args += ["--ro-bind", directory, directory]
    extra = _host_dirs_bound(plan.python_dirs)
    for index, directory in enumerate(extra):
        source = plan.stage_points[index] if plan.staged else directory
        args += ["--ro-bind", source, directory]
    # Nothing outside /tmp and /dev/shm is writable: bubblewrap's own root and /dev are tmpfs without a size cap.
    args += ["--remount-ro", "/", "--remount-ro", "/dev", "--chdir", SANDBOX_HOME]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--"]


def staged_prefix(plan: SandboxPlan, cgroup_procs: str | None) -> list[str]:
    """Root host: the private-mount-namespace launcher that hands over to bubblewrap as ``plan.user``."""
    extra = _host_dirs_bound(plan.python_dirs)
    pairs = [item for directory, point in zip(extra, plan.stage_points, strict=True) for item in (directory, point)]
    return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", _STAGE_SCRIPT, "sh",
            cgroup_procs or "", str(plan.user), str(len(extra)), *pairs]


def die_with_parent() -> list[str]:
    """A prefix that kills the command when the host process dies (bubblewrap has its own option)."""
    return ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []


def unshare_args() -> list[str]:
    """New namespaces mapped to an unprivileged uid: nothing inside holds a capability after exec."""
    return [*die_with_parent(), "unshare", "--user", f"--map-user={NOBODY}", f"--map-group={NOBODY}", "--net",
            "--pid", "--fork", "--mount", "--mount-proc", "--ipc", "--kill-child", "--"]


def signal_name(exit_code: int | None, wrapped: bool) -> str | None:
    """The signal that ended the code: a negative code, or (through a wrapper) 128 + the signal number."""
    if exit_code is None:
        return None
    number = -exit_code if exit_code < 0 else (exit_code - 128 if wrapped and 128 < exit_code < 160 else 0)
    try:
        return signal.Signals(number).name if number else None
    except ValueError:
        return None


def _python_dirs(python: str) -> list[str]:
    try:
        out = subprocess.run([python, "-I", "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    dirs = {os.path.realpath(line.strip()) for line in out.splitlines() if line.strip()}
    dirs.add(os.path.dirname(os.path.realpath(python)))
    # drop folders inside another one of the set
    return sorted(d for d in dirs if not any(d != o and d.startswith(o + "/") for o in dirs))


def _pids_cgroup_root() -> str | None:
    """A writable cgroup hierarchy with the pids controller (v1 or v2), if this process may use one."""
    if os.geteuid() != 0:
        return None
    for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        probe = os.path.join(root, f"{_PREFIX}probe-{os.getpid()}")
        try:
            os.mkdir(probe)
            usable = os.path.exists(os.path.join(probe, "pids.max"))
            os.rmdir(probe)
        except OSError:
            continue
        if usable:
            return root
    return None


def _owner_pid(name: str) -> int | None:
    """The pid in a ``tfgrpo-<kind>-<pid>-…`` name."""
    parts = os.path.basename(name).split("-")
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None


def clean_leftovers() -> int:
    """Remove work folders, stage folders and pids cgroups left by a killed process; returns how many."""
    removed = 0
    patterns = [os.path.join(tempfile.gettempdir(), f"{_PREFIX}{kind}-*") for kind in ("exec", "stage", "probe")]
    patterns += [f"/sys/fs/cgroup/pids/{_PREFIX}exec-*", f"/sys/fs/cgroup/{_PREFIX}exec-*"]
    for pattern in patterns:
        for path in glob.glob(pattern):
            pid = _owner_pid(path)
            if pid is None or pid == os.getpid() or pid_alive(pid):
                continue
            try:
                if path.startswith("/sys/fs/cgroup"):
                    os.rmdir(path)
                else:
                    shutil.rmtree(path)
                removed += 1
            except OSError:
                pass
    return removed


def as_user(uid: int | None) -> dict[str, Any]:
    """``subprocess`` arguments that run a child as ``uid`` (its own group, no supplementary ones)."""
    return {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}


def _works(command: list[str], user: int | None) -> bool:
    try:
        done = subprocess.run(command, capture_output=True, timeout=20, **as_user(user))
    except (OSError, subprocess.SubprocessError):
        return False
    if done.returncode != 0:
        logger.debug("sandbox probe %s failed: %s", command[:3], done.stderr[-300:])
    return done.returncode == 0


def _probe(plan: SandboxPlan) -> bool:
    env = {"PATH": "/usr/bin:/bin"}
    code = [plan.python, "-I", "-c", "import os, sys; sys.exit(0 if os.getuid() != 0 or %r else 3)" % plan.privileged]
    if plan.isolation is Isolation.BWRAP:
        if plan.staged:
            if not all(shutil.which(tool) for tool in ("unshare", "setpriv", "mount")):
                return False
            plan.stage_points = stage_points(plan.python_dirs)
            return _works([*staged_prefix(plan, None), *bwrap_args(plan, env, disk_bytes=4 << 20), *code], None)
        return _works([*bwrap_args(plan, env, disk_bytes=4 << 20), *code], plan.user)
    scratch = tempfile.mkdtemp(prefix=f"{_PREFIX}probe-{os.getpid()}-")
    try:
        if plan.user is not None:
            os.chown(scratch, plan.user, plan.user)
        wrapper = unshare_args() if plan.isolation is Isolation.UNSHARE else []
        try:
            done = subprocess.run([*wrapper, *code], capture_output=True, timeout=20, cwd=scratch, env=env,
                                  **as_user(plan.user))
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _candidates(python: str, python_dirs: list[str], allow_root: bool) -> list[SandboxPlan]:
    root = os.geteuid() == 0
    plans = []
    if shutil.which("bwrap"):
        plans.append(SandboxPlan(isolation=Isolation.BWRAP, user=NOBODY if root else None, python=python,
                                 python_dirs=python_dirs, staged=root))
    drop = [NOBODY] if root else [None]
    for user in drop:
        if shutil.which("unshare"):
            plans.append(SandboxPlan(isolation=Isolation.UNSHARE, user=user, python=python, python_dirs=python_dirs))
        plans.append(SandboxPlan(isolation=Isolation.NONE, user=user, python=python, python_dirs=python_dirs))
    if root and allow_root:
        plans.append(SandboxPlan(isolation=Isolation.NONE, user=None, python=python, python_dirs=python_dirs))
    return plans


def allow_root_from_env() -> bool:
    return os.environ.get(ALLOW_ROOT_ENV, "").strip().lower() in ("1", "true", "yes")


@functools.cache
def detect_sandbox(python: str | None = None, allow_root: bool | None = None) -> SandboxPlan:
    """The strongest containment this machine allows, with an interpreter the sandbox can run.

    Raises :class:`SandboxUnavailable` on a root host where every plan would keep root's
    privileges, unless ``allow_root`` (or ``TFGRPO_SANDBOX_ALLOW_ROOT=1``) opts in.
    """
    interpreter = python or sys.executable
    allow = allow_root_from_env() if allow_root is None else allow_root
    clean_leftovers()
    python_dirs = _python_dirs(interpreter)
    for plan in _candidates(interpreter, python_dirs, allow):
        if not _probe(plan):
            continue
        if plan.user is None or plan.staged:
            plan.pids_cgroup = _pids_cgroup_root()
        if plan.isolation is Isolation.NONE:
            logger.warning("python_exec: neither bwrap nor unshare works here; code runs without network or "
                           "file-system isolation (%s)", plan.describe())
        elif plan.isolation is Isolation.UNSHARE:
            logger.warning("python_exec: bubblewrap is not usable; unshare gives no read-only file system and "
                           "no total size cap (%s)", plan.describe())
        if plan.privileged:
            logger.warning("python_exec: code runs with host root's privileges (opted in with %s)", ALLOW_ROOT_ENV)
        return plan
    if os.geteuid() == 0 and not allow:
        raise SandboxUnavailable(
            f"python_exec will not run code as root: bubblewrap (with unshare, setpriv and mount) is not usable and "
            f"{interpreter} cannot be run as nobody. Install bubblewrap (apt-get install bubblewrap), or opt in to "
            f"running code with root's privileges with {ALLOW_ROOT_ENV}=1")
    raise SandboxUnavailable(f"python_exec cannot start {interpreter}")
