"""The files of a website, from a folder or a ``.tar.gz``, addressed by URL path."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import posixpath
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

HTML_SUFFIXES = (".html", ".htm")


class SiteFiles:
    """Read-only view of a site's files keyed by relative POSIX path (``library/json.html``).

    A tarball is read into memory once (documentation sites are tens of MB); a folder is read
    from disk on demand. Nothing is ever extracted or copied.
    """

    def __init__(self, source: str | os.PathLike[str]) -> None:
        self.source = Path(source)
        if not self.source.exists():
            raise FileNotFoundError(f"no site at {self.source} (expected a folder or a .tar.gz of HTML)")
        self._archive = self.source.is_file()
        if self._archive and not tarfile.is_tarfile(self.source):
            raise ValueError(f"{self.source} is a file but not a tar archive")
        self._loaded: dict[str, bytes] | None = None
        self._loading = threading.Lock()  # the site server's threads may ask first at once

    @property
    def _members(self) -> dict[str, bytes] | None:
        """A tarball's files, read on first use (a process that only searches a built index never reads them)."""
        if not self._archive:
            return None
        with self._loading:
            if self._loaded is None:
                self._loaded = self._read_archive()
        return self._loaded

    def _read_archive(self) -> dict[str, bytes]:
        members = {}
        with tarfile.open(self.source) as archive:
            for member in archive:
                if member.isfile():
                    handle = archive.extractfile(member)
                    if handle is not None:
                        members[_clean(member.name)] = handle.read()
        return members

    def fingerprint(self) -> str:
        """Changes whenever a file of the site may have: the archive's size and time, or every file's."""
        if self._archive:
            stat = self.source.stat()
            return f"tar:{self.source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        digest = hashlib.sha1()
        for path in sorted(self.source.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path.relative_to(self.source).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
                              .encode())
        return f"dir:{digest.hexdigest()}"

    def paths(self) -> Iterator[str]:
        if self._members is not None:
            yield from sorted(self._members)
            return
        for path in sorted(self.source.rglob("*")):
            if path.is_file():
                yield path.relative_to(self.source).as_posix()

    def html_paths(self) -> list[str]:
        return [p for p in self.paths() if p.lower().endswith(HTML_SUFFIXES)]

    def resolve(self, path: str) -> str | None:
        """The file a URL path names: itself, or its directory's ``index.html``; ``None`` if absent."""
        path = _clean(path)
        for candidate in (path, posixpath.join(path, "index.html") if path else "index.html"):
            if self._members is not None:
                if candidate in self._members:
                    return candidate
                continue
            full = (self.source / candidate).resolve()
            if candidate and full.is_relative_to(self.source.resolve()) and full.is_file():
                return candidate
        return None

    def read(self, path: str) -> bytes | None:
        """Bytes of the file ``path`` names (see :meth:`resolve`); ``None`` if absent."""
        resolved = self.resolve(path)
        if resolved is None:
            return None
        if self._members is not None:
            return self._members[resolved]
        return (self.source / resolved).read_bytes()

    @staticmethod
    def content_type(path: str) -> str:
        guessed, _ = mimetypes.guess_type(path)
        if guessed is None:
            return "application/octet-stream"
        return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def _clean(name: str) -> str:
    name = posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")
    return "" if name == "." else name
