"""web_browse against hostile servers on loopback: trickled headers, compression bombs, one huge
paragraph, and addresses that dress up loopback."""

import gzip
import socket
import threading
import time
import tracemalloc
import zlib

import pytest

from tfgrpo_agents._text import estimate_tokens
from tfgrpo_agents.tools import Browser, FetchError, PageFetcher
from tfgrpo_agents.tools.url_policy import UrlPolicy


class RawServer:
    """A loopback TCP server whose handler writes whatever bytes it likes, as slowly as it likes."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            conn.recv(65536)
            self.handler(conn, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.fixture
def serve():
    servers = []

    def start(handler):
        server = RawServer(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def fetcher(server, **kwargs) -> PageFetcher:
    return PageFetcher(policy=UrlPolicy().allowing(server.url), **kwargs)


def trickle_headers(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
    for number in range(200):
        if stop.wait(1.0):
            return
        conn.sendall(f"X-Slow-{number}: 1\r\n".encode())


def trickle_body(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
    while not stop.wait(0.5):
        conn.sendall(b"<p>x</p>")


@pytest.mark.parametrize("handler", [trickle_headers, trickle_body], ids=["headers", "body"])
def test_the_timeout_is_a_total_deadline_over_headers_and_body(serve, handler):
    server = serve(handler)
    start = time.monotonic()
    with pytest.raises(FetchError, match="Timed out after 2s"):
        fetcher(server, timeout=2).fetch(server.url)
    assert time.monotonic() - start < 4


def _gzip_of_zeros(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + compressor.flush()


@pytest.fixture(scope="module")
def double_gzip_bomb():
    inner = _gzip_of_zeros(500 << 20)  # 500 MB of zeros
    return gzip.compress(inner, 9)


def test_a_stacked_gzip_bomb_is_decoded_within_the_cap(serve, double_gzip_bomb):
    def bomb(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip, gzip\r\n"
                     + f"Content-Length: {len(double_gzip_bomb)}\r\n\r\n".encode() + double_gzip_bomb)

    server = serve(bomb)
    assert len(double_gzip_bomb) < 10_000
    tracemalloc.start()
    try:
        fetched = fetcher(server, max_bytes=3_000_000).fetch(server.url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fetched.truncated and len(fetched.text) <= 3_000_000
    assert peak < 40_000_000, f"peak {peak / 1e6:.0f} MB while decoding"


def test_an_unknown_content_encoding_is_a_readable_error(serve):
    def odd(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: zstd\r\n"
                     b"Content-Length: 4\r\n\r\nabcd")

    server = serve(odd)
    with pytest.raises(FetchError, match="zstd"):
        fetcher(server).fetch(server.url)


def test_gzip_pages_still_read_normally(serve):
    body = gzip.compress(b"<html><head><title>Zipped</title></head><body><p>Hello there.</p></body></html>")

    def zipped(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    server = serve(zipped)
    page = Browser(fetcher(server)).browse(server.url, "hello")
    assert "Title: Zipped" in page and "Hello there." in page


@pytest.mark.parametrize("compressed", [False, True])
def test_the_text_budget_holds_for_one_huge_first_passage(serve, compressed):
    paragraph = ("lorem ipsum dolor sit amet " * 2400).encode()  # ~64 KB, one paragraph
    body = b"<html><body><p>" + paragraph + b"</p></body></html>"
    if compressed:
        body = gzip.compress(body)
    encoding = b"Content-Encoding: gzip\r\n" if compressed else b""

    def huge(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + encoding
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    server = serve(huge)
    text = Browser(fetcher(server), text_budget=900).browse(server.url, "lorem")
    assert estimate_tokens(text) < 1100
    assert len(text) < 9000 and "cut at the text budget" in text


@pytest.mark.parametrize("url", ["http://[::127.0.0.1]/", "http://[::ffff:127.0.0.1]/", "http://[64:ff9b::7f00:1]/",
                                 "http://[2002:7f00:1::]/", "http://localhost./", "http://127.0.0.1./",
                                 "http://LOCALHOST../", "http://0x7f.1/"])
def test_loopback_in_disguise_is_blocked(url):
    reason = UrlPolicy().check(url)
    assert reason and ("loopback" in reason or "could not be resolved" in reason)


def test_an_unresolvable_name_is_blocked_not_let_through():
    assert "could not be resolved" in UrlPolicy().check("http://no-such-host.invalid/")


def test_public_addresses_still_pass():
    assert UrlPolicy().check("http://8.8.8.8/") is None
    assert UrlPolicy().check("http://[2001:4860:4860::8888]/") is None
