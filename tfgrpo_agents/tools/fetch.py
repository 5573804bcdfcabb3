"""Fetch a URL with httpx under a safety policy: timeouts, byte cap, redirect cap, content types."""

from __future__ import annotations

import time
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel

from tfgrpo_agents.tools.url_policy import UrlPolicy

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/ld+json")


class FetchError(Exception):
    """A fetch failed; the message is written for the agent to read and act on."""


class Fetched(BaseModel):
    url: str
    status: int
    content_type: str
    text: str
    is_html: bool
    truncated: bool


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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy or UrlPolicy()
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout), follow_redirects=False, transport=transport,
            headers={"User-Agent": user_agent, "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5"},
        )

    def fetch(self, url: str) -> Fetched:
        deadline = time.monotonic() + self.timeout
        for _ in range(self.max_redirects + 1):
            reason = self.policy.check(url)
            if reason:
                raise FetchError(f"Blocked: {reason}.")
            try:
                with self._client.stream("GET", url) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchError(f"{url} redirected without saying where to.")
                        url = urljoin(url, location)
                        continue
                    return self._read(url, response, deadline)
            except httpx.TimeoutException as exc:
                raise FetchError(f"Timed out after {self.timeout:g}s fetching {url}.") from exc
            except httpx.InvalidURL as exc:
                raise FetchError(f"{url!r} is not a valid URL ({exc}).") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"Could not fetch {url}: {type(exc).__name__}: {exc or 'connection failed'}.") from exc
        raise FetchError(f"Too many redirects (more than {self.max_redirects}) starting from the requested URL.")

    def _read(self, url: str, response: httpx.Response, deadline: float) -> Fetched:
        if response.status_code >= 400:
            raise FetchError(f"HTTP {response.status_code} {response.reason_phrase} for {url}.")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type and not content_type.startswith((*HTML_TYPES, *TEXT_TYPES)):
            raise FetchError(f"{url} is {content_type} content, not a web page or text; it cannot be read.")
        chunks: list[bytes] = []
        size, truncated = 0, False
        for chunk in response.iter_bytes():
            if time.monotonic() > deadline:
                raise FetchError(f"Timed out after {self.timeout:g}s reading {url}.")
            chunks.append(chunk)
            size += len(chunk)
            if size >= self.max_bytes:
                truncated = True
                break
        body = b"".join(chunks)[: self.max_bytes]
        if not content_type and b"\x00" in body[:4096]:
            raise FetchError(f"{url} is binary content, not a web page or text; it cannot be read.")
        encoding = response.encoding or "utf-8"
        text = body.decode(encoding, errors="replace")
        is_html = content_type in HTML_TYPES or (not content_type and "<html" in text[:2048].lower())
        return Fetched(url=url, status=response.status_code, content_type=content_type or "unknown",
                       text=text, is_html=is_html, truncated=truncated)

    def close(self) -> None:
        self._client.close()
