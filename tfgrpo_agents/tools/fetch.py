"""Fetch a URL with httpx under a safety policy: one total deadline, a decoded-byte cap, a redirect cap.

The timeout is a deadline over the whole fetch (connect, headers, body, every redirect): a
server that trickles one header line a second cannot hold the agent. Bodies are decompressed
here, a bounded slice at a time, and the cap counts decoded bytes, so a small compressed bomb
never becomes a large buffer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import zlib
from collections.abc import AsyncIterator
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel

from tfgrpo_agents.errors import TfgrpoError
from tfgrpo_agents.tools.url_policy import UrlPolicy

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/ld+json")
_DECODE_STEP = 64 * 1024  # at most this many decoded bytes per decompression call
_ZLIB_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


class FetchError(TfgrpoError):
    """A fetch failed; the message is written for the agent to read and act on."""


class Fetched(BaseModel):
    url: str
    status: int
    content_type: str
    text: str
    is_html: bool
    truncated: bool


async def _inflate(chunks: AsyncIterator[bytes], encoding: str) -> AsyncIterator[bytes]:
    """Decompress one content-coding layer lazily: each yield is at most ``_DECODE_STEP`` bytes."""
    wbits = _ZLIB_WBITS[encoding]
    decoder = zlib.decompressobj(wbits)
    first = True
    async for chunk in chunks:
        data = chunk
        while data:
            try:
                out = decoder.decompress(data, _DECODE_STEP)
            except zlib.error:
                if not (first and encoding == "deflate"):
                    raise
                decoder, wbits = zlib.decompressobj(-15), -15  # raw deflate, as some servers send
                out = decoder.decompress(data, _DECODE_STEP)
            first = False
            if out:
                yield out
            data = decoder.unconsumed_tail
            if decoder.eof and decoder.unused_data:  # another gzip member follows
                data, decoder = decoder.unused_data, zlib.decompressobj(wbits)
    tail = decoder.flush()
    if tail:
        yield tail


def _decoded(raw: AsyncIterator[bytes], content_encoding: str) -> AsyncIterator[bytes]:
    layers = [item.strip().lower() for item in content_encoding.split(",") if item.strip()]
    stream = raw
    for layer in reversed(layers):
        if layer == "identity":
            continue
        if layer not in _ZLIB_WBITS:
            raise FetchError(f"the page uses the {layer!r} content encoding, which cannot be read")
        stream = _inflate(stream, layer)
    return stream


class PageFetcher:
    """GET pages safely. Every failure becomes a :class:`FetchError` with a readable message."""

    def __init__(
        self,
        *,
        policy: UrlPolicy | None = None,
        timeout: float = 15.0,
        max_bytes: int = 3_000_000,
        max_redirects: int = 5,
        user_agent: str = "Mozilla/5.0 (compatible; tfgrpo-agents/0.1)",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy or UrlPolicy()
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.transport = transport
        self.headers = {"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate",
                        "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5"}

    def fetch(self, url: str) -> Fetched:
        """Fetch from sync code (a worker thread, a script); inside a running event loop use :meth:`afetch`."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.afetch(url))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # called from a loop's thread: keep it free
            return pool.submit(asyncio.run, self.afetch(url)).result()

    async def afetch(self, url: str) -> Fetched:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._follow(url)
        except TimeoutError as exc:
            raise FetchError(f"Timed out after {self.timeout:g}s fetching {url}.") from exc

    async def _follow(self, url: str) -> Fetched:
        async with httpx.AsyncClient(timeout=httpx.Timeout(self.timeout), follow_redirects=False,
                                     transport=self.transport, headers=self.headers) as client:
            for _ in range(self.max_redirects + 1):
                reason = self.policy.check(url)
                if reason:
                    raise FetchError(f"Blocked: {reason}.")
                try:
                    async with client.stream("GET", url) as response:
                        if response.is_redirect:
                            location = response.headers.get("location")
                            if not location:
                                raise FetchError(f"{url} redirected without saying where to.")
                            url = urljoin(url, location)
                            continue
                        return await self._read(url, response)
                except httpx.TimeoutException as exc:
                    raise FetchError(f"Timed out after {self.timeout:g}s fetching {url}.") from exc
                except httpx.InvalidURL as exc:
                    raise FetchError(f"{url!r} is not a valid URL ({exc}).") from exc
                except httpx.HTTPError as exc:
                    raise FetchError(
                        f"Could not fetch {url}: {type(exc).__name__}: {exc or 'connection failed'}.") from exc
                except zlib.error as exc:
                    raise FetchError(f"{url} sent a body that does not decompress ({exc}).") from exc
        raise FetchError(f"Too many redirects (more than {self.max_redirects}) starting from the requested URL.")

    async def _read(self, url: str, response: httpx.Response) -> Fetched:
        if response.status_code in (404, 410):
            # a guessed address: steer the next step to finding the page, not to answering without it
            raise FetchError(f"HTTP {response.status_code} {response.reason_phrase} for {url}: there is no such page. "
                             "Search for it, or open the site's home page and follow its links; do not answer "
                             "without having read it.")
        if response.status_code >= 400:
            raise FetchError(f"HTTP {response.status_code} {response.reason_phrase} for {url}.")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type and not content_type.startswith((*HTML_TYPES, *TEXT_TYPES)):
            raise FetchError(f"{url} is {content_type} content, not a web page or text; it cannot be read.")
        chunks: list[bytes] = []
        size, truncated = 0, False
        async for chunk in _decoded(response.aiter_raw(), response.headers.get("content-encoding", "")):
            chunks.append(chunk)
            size += len(chunk)
            if size >= self.max_bytes:
                truncated = True
                break
        body = b"".join(chunks)[: self.max_bytes]
        if not content_type and b"\x00" in body[:4096]:
            raise FetchError(f"{url} is binary content, not a web page or text; it cannot be read.")
        encoding = response.charset_encoding or "utf-8"
        try:
            text = body.decode(encoding, errors="replace")
        except LookupError:
            text = body.decode("utf-8", errors="replace")
        is_html = content_type in HTML_TYPES or (not content_type and "<html" in text[:2048].lower())
        return Fetched(url=url, status=response.status_code, content_type=content_type or "unknown",
                       text=text, is_html=is_html, truncated=truncated)

    def close(self) -> None:
        """Nothing to release: each fetch opens and closes its own client."""
