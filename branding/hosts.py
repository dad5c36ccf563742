"""Which host a request is for. The Host header, normalised (``api.domain.brands``); the
X-Forwarded-Host header only when the connection comes from a proxy listed in
``DIALTONE_TRUSTED_PROXIES`` (IPs or networks), and then its last value: the one that proxy set
(earlier values came from further away, possibly from the client itself)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import HTTPConnection

from api.domain.brands import request_host

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def proxy_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """The trusted proxies as networks; raises ValueError naming a bad entry."""
    out = []
    for entry in proxies:
        try:
            out.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"DIALTONE_TRUSTED_PROXIES: not an IP or network: {entry!r}") from None
    return tuple(out)


def is_trusted_proxy(peer: str | None, proxies: tuple[str, ...]) -> bool:
    if not peer or not proxies:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in proxy_networks(proxies))


def host_of(request: HTTPConnection, trusted_proxies: tuple[str, ...]) -> str | None:
    """The normalised host the request is for, or None when it names no valid host."""
    raw = request.headers.get("host")
    peer = request.client.host if request.client else None
    if is_trusted_proxy(peer, trusted_proxies):
        forwarded = request.headers.get("x-forwarded-host")
        if forwarded:
            raw = forwarded.rsplit(",", 1)[-1]
    return request_host(raw)


def address_of(request: HTTPConnection, trusted_proxies: tuple[str, ...]) -> str | None:
    """The client's IP address: the peer's, or the last X-Forwarded-For value when the peer is
    a trusted proxy (the one that proxy added)."""
    peer = request.client.host if request.client else None
    if is_trusted_proxy(peer, trusted_proxies):
        forwarded = request.headers.get("x-forwarded-for", "").rsplit(",", 1)[-1].strip()
        if forwarded:
            try:
                return str(ipaddress.ip_address(forwarded))
            except ValueError:
                pass
    return peer
