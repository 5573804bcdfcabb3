"""Which URLs the agent may fetch: http(s) only, no private networks unless explicitly allowed."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from pydantic import BaseModel, Field


def origin(url: str) -> str:
    """``scheme://host:port`` with the default port made explicit."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


class UrlPolicy(BaseModel):
    """Blocks non-http(s) schemes and private, loopback, link-local and reserved addresses.

    ``allow`` lists origins (``http://127.0.0.1:8123``) that are fetched even though they are
    private: the local site server's address, typically. Host names are resolved before the
    check; a DNS answer that changes between the check and the fetch is not covered, so do not
    rely on this as the only barrier in front of sensitive internal services.
    """

    schemes: tuple[str, ...] = ("http", "https")
    block_private: bool = True
    allow: list[str] = Field(default_factory=list)

    def allowing(self, *urls: str) -> UrlPolicy:
        return self.model_copy(update={"allow": [*self.allow, *(origin(u) for u in urls)]})

    def check(self, url: str) -> str | None:
        """``None`` if ``url`` may be fetched, else the reason it may not."""
        parts = urlsplit(url)
        if parts.scheme not in self.schemes:
            return f"the scheme {parts.scheme or '(none)'!r} is not allowed; only {', '.join(self.schemes)} URLs can be opened"
        if not parts.hostname:
            return f"{url!r} has no host name"
        if not self.block_private or origin(url) in {origin(a) for a in self.allow}:
            return None
        for address in _addresses(parts.hostname):
            if not address.is_global:
                return (f"{parts.hostname} is a private, loopback or reserved address ({address}); "
                        "such addresses are blocked unless allowed explicitly")
        return None


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return []  # unresolvable: the fetch itself will fail with a readable error
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
