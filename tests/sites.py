"""Small generated websites and special-purpose HTTP servers for the tool tests."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FACT = "The registration deadline for Orbit Conf is 14 March 2031."
DEEP_FACT = "The workshop chair is Dr. Imogen Vasquez-Ortiz."
BURIED_FACT = "The keynote venue is the Halvorsen Pavilion, room 4B."


def page(title: str, body: str, links: dict[str, str] | None = None) -> str:
    anchors = "".join(f'<li><a href="{href}">{text}</a></li>' for text, href in (links or {}).items())
    return (f"<html><head><title>{title} — Orbit Conf 2031</title></head><body>"
            f"<nav><ul>{anchors}</ul></nav><main><h1>{title}</h1>{body}</main></body></html>")


def filler(n: int, topic: str) -> str:
    return "".join(
        f"<p>Paragraph {i} about {topic}: the committee reviewed logistics, catering and signage "
        f"for session block {i}, noting that nothing unusual was reported for this block.</p>"
        for i in range(n)
    )


def make_site(root: Path) -> Path:
    """A conference site: facts one and two clicks from the root, a long page, a binary file."""
    files = {
        "index.html": page("Home", "<p>Welcome to Orbit Conf 2031.</p>",
                           {"Important Dates": "dates.html", "Program": "program/index.html",
                            "Venue guide": "venue.html", "Self": "#top"}),
        "dates.html": page("Important Dates", f"<p>{FACT}</p><p>Camera-ready copies are due 2 May 2031.</p>",
                           {"Home": "index.html"}),
        "program/index.html": page("Program", "<p>The program has talks and workshops.</p>",
                                   {"Workshops": "workshops.html", "Home": "../index.html"}),
        "program/workshops.html": page("Workshops", f"<p>{DEEP_FACT}</p>", {"Program": "index.html"}),
        "venue.html": page("Venue guide", filler(150, "the venue") + f"<p>{BURIED_FACT}</p>" + filler(150, "parking"),
                           {"Home": "index.html"}),
        "whatsnew/3.1.html": page("What's New In Release 3.1", "<p>Release 3.1 editor: Ann Lee.</p>"),
        "whatsnew/3.11.html": page("What's New In Release 3.11", "<p>Release 3.11 editor: Bo Chen.</p>"),
    }
    for name, html in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return root


class ScriptedWeb:
    """A loopback server with misbehaving endpoints: slow pages, redirects, binaries, huge pages."""

    def __init__(self, redirect_target: str = "http://169.254.169.254/latest/meta-data") -> None:
        target = redirect_target

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str | None, extra: dict | None = None) -> None:
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (timeout tests)

            def do_GET(self) -> None:
                if self.path == "/slow":
                    time.sleep(3)
                    self._send(200, b"<html><title>slow</title></html>", "text/html")
                elif self.path == "/redirect-private":
                    self._send(302, b"", None, {"Location": target})
                elif self.path.startswith("/loop"):
                    n = int(self.path.rsplit("/", 1)[-1] or 0) if self.path.count("/") > 1 else 0
                    self._send(302, b"", None, {"Location": f"/loop/{n + 1}"})
                elif self.path == "/hop":
                    self._send(301, b"", None, {"Location": "/final"})
                elif self.path == "/final":
                    self._send(200, page("Final", "<p>You arrived after a redirect.</p>").encode(), "text/html")
                elif self.path == "/binary":
                    self._send(200, b"\x00\x01\x02" * 1000, None)
                elif self.path == "/pdf":
                    self._send(200, b"%PDF-1.4 ...", "application/pdf")
                elif self.path == "/huge":
                    self._send(200, page("Huge", filler(40000, "bulk")).encode(), "text/html; charset=utf-8")
                elif self.path == "/plain":
                    self._send(200, b"just text\nsecond line", "text/plain")
                else:
                    self._send(404, b"<html><title>404</title></html>", "text/html")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ScriptedWeb:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
