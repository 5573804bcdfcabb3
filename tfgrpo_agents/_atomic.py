"""Crash-safe file writes shared by everything that persists state on disk."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from tfgrpo_agents._process import pid_alive


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8",
                      durable: bool = True) -> Path:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a torn mix.

    The data goes to a temporary file in the same directory, is flushed and fsynced, and then
    replaces the target with ``os.replace`` (atomic on POSIX and Windows). If anything fails
    before the rename, the temporary file is removed and the original is left untouched.
    ``durable=False`` skips the fsyncs: still atomic if the process dies, but after a power loss
    the file may be missing or empty — right for caches whose readers treat that as absent.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp makes the file private (0600); keep the target's mode, or the usual 0644
        os.fchmod(fd, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        # errors="replace": a lone surrogate from a model reply is written as "?" instead of failing the save
        with os.fdopen(fd, "w", encoding=encoding, errors="replace") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    if durable:
        _fsync_directory(target.parent)
    return target


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself; best effort on platforms that cannot open directories."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def remove_stale_temps(directory: str | os.PathLike[str]) -> int:
    """Delete temporary files that a killed writer left in ``directory``; returns how many.

    Each temporary name carries its writer's pid (``.<name>.<pid>.<random>.tmp``); a file is stale
    when that process no longer runs. Older names without a pid are stale after an hour.
    """
    removed = 0
    folder = Path(directory)
    if not folder.is_dir():
        return 0
    for candidate in folder.glob(".*.tmp"):
        parts = candidate.name.split(".")
        pids = [int(p) for p in parts[2:-1] if p.isdigit()]
        try:
            if pids:
                if pids[-1] == os.getpid() or pid_alive(pids[-1]):
                    continue
            elif time.time() - candidate.stat().st_mtime < 3600:
                continue
            candidate.unlink()
            removed += 1
        except OSError:
            pass
    return removed

