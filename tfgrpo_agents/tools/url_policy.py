"""Which URLs the agent may fetch: http(s) only, no private networks unless explicitly allowed."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from pydantic import BaseModel, Field


def origin(url: str) -> str:
    """``scheme://host:port`` with the default port made explicit and a trailing dot dropped."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    except ValueError:
        port = -1
    return f"{parts.scheme}://{normal_host(parts.hostname or '')}:{port}"


def normal_host(host: str) -> str:
    """``localhost.`` and ``127.0.0.1.`` name the same hosts as without the dot."""
    return host.strip("[]").lower().rstrip(".")


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
        host = normal_host(parts.hostname or "")
        if not host:
            return f"{url!r} has no host name"
        if not self.block_private or origin(url) in {origin(a) for a in self.allow}:
            return None
        addresses = _addresses(host)
        if not addresses:
            return f"the host name {host!r} could not be resolved"
        for address in addresses:
            if not _is_public(address):
                return (f"{host} is a private, loopback or reserved address ({address}); "
                        "such addresses are blocked unless allowed explicitly")
        return None


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _is_public(address: Address) -> bool:
    """Global, and so is any IPv4 address embedded in it (mapped, compatible, 6to4, Teredo, NAT64)."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return True
    packed = int(address)
    embedded = [address.ipv4_mapped, address.sixtofour]
    if address.teredo:
        embedded.append(address.teredo[1])
    if packed >> 32 == 0 or packed >> 32 == 0x0064FF9B << 64:  # ::a.b.c.d and 64:ff9b::a.b.c.d
        embedded.append(ipaddress.IPv4Address(packed & 0xFFFFFFFF))
    return all(item is None or _is_public(item) for item in embedded)


def _addresses(host: str) -> list[Address]:
    """Every address ``host`` stands for; an empty list when it cannot be resolved."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
