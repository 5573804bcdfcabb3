"""Serve a folder or ``.tar.gz`` of HTML on 127.0.0.1, so an offline site is walked like the real web."""

from __future__ import annotations

import os
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from tfgrpo_agents.tools.site_files import SiteFiles


class LocalSiteServer:
    """A threaded HTTP server for one site, on a free loopback port.

    ``with LocalSiteServer("site.tar.gz") as server: server.url`` → ``http://127.0.0.1:PORT/``.
    Only GET and HEAD; paths cannot escape the site.
    """

    def __init__(self, source: str | os.PathLike[str] | SiteFiles, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.files = source if isinstance(source, SiteFiles) else SiteFiles(source)
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            server_version = "tfgrpo-site/1"

            def log_message(self, *args: Any) -> None:
                pass

            def _respond(self, with_body: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                resolved = files.resolve(path)
                if resolved is not None and resolved.endswith("index.html") and not path.endswith(
                        ("/", "index.html")):
                    self.send_response(HTTPStatus.MOVED_PERMANENTLY)  # a directory without its slash
                    self.send_header("Location", path + "/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if resolved is None:
                    data = b"<html><head><title>Not Found</title></head><body><h1>404 Not Found</h1></body></html>"
                    self.send_response(HTTPStatus.NOT_FOUND)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                else:
                    data = files.read(resolved) or b""
                    self.send_response(HTTPStatus.OK)
                    self.send_header("Content-Type", files.content_type(resolved))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if with_body:
                    self.wfile.write(data)

            def do_GET(self) -> None:
                self._respond(True)

            def do_HEAD(self) -> None:
                self._respond(False)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}/"

    @property
    def origin(self) -> str:
        return self.url.rstrip("/")

    def start(self) -> LocalSiteServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="tfgrpo-site", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def serve_forever(self) -> None:
        """Block serving requests (the CLI's ``tfgrpo serve``); Ctrl-C returns."""
        try:
            self._server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._server.server_close()

    def __enter__(self) -> LocalSiteServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
