"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests that take the
same HTTP path real users take (langchain-openai with ``base_url``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = dict[str, Any] | str
ReplyFn = Callable[[dict[str, Any]], Reply]


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


class OpenAIStub:
    """Serves ``replies`` in order (a string is plain content); or calls ``reply_fn(request)``.

    Every request body is kept in ``requests``. Use as a context manager; ``base_url`` ends in ``/v1``.
    """

    def __init__(self, replies: list[Reply] | None = None, reply_fn: ReplyFn | None = None) -> None:
        self.replies = list(replies or [])
        self.reply_fn = reply_fn
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with stub._lock:
                    stub.requests.append(body)
                    reply = stub.reply_fn(body) if stub.reply_fn else (
                        stub.replies.pop(0) if stub.replies else "out of script")
                payload = completion(reply) if isinstance(reply, str) else reply
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
