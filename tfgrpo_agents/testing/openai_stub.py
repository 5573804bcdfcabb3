"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests that take the
same HTTP path real users take (langchain-openai with ``base_url``)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = dict[str, Any] | str
ReplyFn = Callable[[dict[str, Any]], Reply]
FaultFn = Callable[[int, dict[str, Any]], str | None]  # request number, body -> None or a fault name


def completion(content: str = "", tool_calls: list[dict[str, Any]] | None = None,
               prompt_tokens: int = 10, completion_tokens: int = 5) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function",
             "function": {"name": c["name"], "arguments": json.dumps(c["args"])}}
            for i, c in enumerate(tool_calls)
        ]
    return {
        "id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()), "model": "stub-model",
        "choices": [{"index": 0, "message": message,
                     "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # many rollouts connect at once; the default backlog of 5 drops SYNs (1 s stalls)
    daemon_threads = True


class OpenAIStub:
    """Serves ``replies`` in order (a string is plain content); or calls ``reply_fn(request)``.

    Every request body is kept in ``requests``. Use as a context manager; ``base_url`` ends in ``/v1``.
    ``delay_s`` adds latency to every reply, spread by ``jitter_s`` either way (seeded by the request's
    number, so a rerun sees the same latencies; a fixed latency makes every rollout in flight step in
    lockstep, which real endpoints do not); ``fault_fn`` injects faults: ``"429"``, ``"500"``,
    ``"timeout"`` (no reply for ``hang_s``) or ``"malformed"`` (the content is cut mid-JSON).
    """

    def __init__(self, replies: list[Reply] | None = None, reply_fn: ReplyFn | None = None,
                 delay_s: float = 0.0, fault_fn: FaultFn | None = None, hang_s: float = 5.0,
                 jitter_s: float = 0.0) -> None:
        self.replies = list(replies or [])
        self.reply_fn = reply_fn
        self.delay_s = delay_s
        self.jitter_s = jitter_s
        self.fault_fn = fault_fn
        self.hang_s = hang_s
        self.faults: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do
            # headers and body go out as two writes; with Nagle on, the body waits for the client's
            # delayed ACK (~40 ms a request), which a benchmark would blame on the framework
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with stub._lock:
                    stub.requests.append(body)
                    number = len(stub.requests)
                    fault = stub.fault_fn(number, body) if stub.fault_fn else None
                    if fault:
                        stub.faults.append(fault)
                    reply = None if fault in ("429", "500", "timeout") else (
                        stub.reply_fn(body) if stub.reply_fn else (stub.replies.pop(0) if stub.replies else "out of script"))
                if stub.delay_s or stub.jitter_s:
                    spread = random.Random(number).uniform(-stub.jitter_s, stub.jitter_s)
                    time.sleep(max(0.0, stub.delay_s + spread))
                if fault in ("429", "500"):
                    error = json.dumps({"error": {"message": f"injected {fault}", "type": "server_error"}}).encode()
                    self.send_response(int(fault))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("retry-after-ms", "10")
                    self.send_header("Content-Length", str(len(error)))
                    self.end_headers()
                    self.wfile.write(error)
                    return
                if fault == "timeout":
                    time.sleep(stub.hang_s)
                    return
                payload = completion(reply) if isinstance(reply, str) else reply
                if fault == "malformed":
                    content = payload["choices"][0]["message"].get("content") or ""
                    payload["choices"][0]["message"]["content"] = content[: max(1, len(content) // 2)] + "\\'"
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
