"""``langgraph dev`` (the in-memory LangGraph Server) on 127.0.0.1, for tests and benchmarks.

Starts the server for a ``langgraph.json`` on a free port, waits until it answers ``/ok``, and stops
it (and its workers) on exit. It runs in ``workdir``, where its ``.langgraph_api`` state goes, from
a copy of the config whose relative paths (which the server resolves against its working
directory) are made absolute, so every start begins with an empty store.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


class LangGraphDevUnavailable(RuntimeError):
    """langgraph-cli with its in-memory server is not installed (pip install 'tfgrpo-agents[server]')."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LangGraphDev:
    def __init__(self, config: str | os.PathLike[str], workdir: str | os.PathLike[str], *,
                 env: dict[str, str] | None = None, startup_s: float = 120.0) -> None:
        self.config, self.workdir = Path(config).resolve(), Path(workdir)
        self.env = {**os.environ, **(env or {})}
        self.port = _free_port()
        self.startup_s = startup_s
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config_copy(self) -> Path:
        config = json.loads(self.config.read_text())
        base = self.config.parent

        def absolute(spec: str) -> str:
            return str((base / spec).resolve()) if spec.startswith(".") else spec

        config["graphs"] = {name: absolute(spec) if isinstance(spec, str) else spec
                            for name, spec in config.get("graphs", {}).items()}
        config["dependencies"] = [absolute(dep) for dep in config.get("dependencies", [])]
        if isinstance(config.get("env"), str):
            config["env"] = absolute(config["env"])
        path = self.workdir / "langgraph.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    @property
    def log(self) -> str:
        path = self.workdir / "langgraph-dev.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> LangGraphDev:
        binary = shutil.which("langgraph", path=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
        try:
            import langgraph_api  # noqa: F401
        except ImportError as exc:
            raise LangGraphDevUnavailable("langgraph dev needs langgraph-cli[inmem]: "
                                          "pip install 'tfgrpo-agents[server]'") from exc
        if binary is None:
            raise LangGraphDevUnavailable("no langgraph command on PATH: pip install 'tfgrpo-agents[server]'")
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "LANGSMITH_TRACING": "false", "LANGCHAIN_TRACING_V2": "false"}
        with open(self.workdir / "langgraph-dev.log", "ab") as log:
            self.process = subprocess.Popen(
                [binary, "dev", "--config", str(self._config_copy()), "--host", "127.0.0.1", "--port", str(self.port),
                 "--no-browser", "--no-reload"],
                cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"langgraph dev exited with {self.process.returncode}:\n{self.log[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/ok", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError(f"langgraph dev did not answer on {self.url} in {self.startup_s:.0f} s:\n{self.log[-3000:]}")

    def __exit__(self, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)
