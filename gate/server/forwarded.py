"""The client's real address: forwarded headers count only when a trusted proxy sent them.

The address recorded in the audit is the TCP peer's, unless the peer is a proxy the operator
lists (`GATE_TRUSTED_PROXIES`, addresses or CIDR networks, empty by default). Then the gate
reads the hops that proxy reports (`Forwarded: for=`, else `X-Forwarded-For`, else
`X-Real-IP`) from the right, skipping hops that are themselves trusted proxies: the first
untrusted hop is the client. Anyone can write these headers, so without a trusted peer they
are ignored, and a hop that is not an IP address stops the walk at the last trusted hop.

uvicorn has its own version of this, on by default and trusting 127.0.0.1: `gate serve` turns it
off (`proxy_headers=False`) so this module is the only one that decides.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from gate.networks import Address, Network
from gate.server.limits import ASGIApp, Receive, Scope, Send


def _address(text: str) -> Address | None:
    text = text.strip().strip('"')
    if text.startswith("["):  # [2001:db8::1]:4711
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # 192.0.2.1:4711
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


_FOR = re.compile(r'(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)


def _hops(headers: dict[bytes, list[bytes]]) -> list[str]:
    """The addresses the nearest proxy reports, client first (one header kind only)."""
    forwarded = headers.get(b"forwarded")
    if forwarded:
        hops = []
        for element in b",".join(forwarded).decode("latin-1").split(","):
            found = _FOR.search(element)
            hops.append(found.group(1) if found else "")
        return hops
    for name in (b"x-forwarded-for", b"x-real-ip"):
        values = headers.get(name)
        if values:
            return [h for h in b",".join(values).decode("latin-1").split(",")]
    return []


def client_address(
    peer: str | None, headers: Iterable[tuple[bytes, bytes]], trusted: tuple[Network, ...]
) -> str | None:
    """The client's address, given the TCP peer, the request headers and the trusted proxies."""

    def is_trusted(address: Address) -> bool:
        return any(address in network for network in trusted)

    current = _address(peer) if peer else None
    if current is None or not trusted or not is_trusted(current):
        return peer
    grouped: dict[bytes, list[bytes]] = {}
    for key, value in headers:
        grouped.setdefault(key.lower(), []).append(value)
    for hop in reversed(_hops(grouped)):
        address = _address(hop)
        if address is None:
            break  # a hop the proxy could not name: keep the last address we can vouch for
        current = address
        if not is_trusted(address):
            break
    return str(current)


class ClientAddress:
    """ASGI middleware: puts the real client address into `scope["client"]`."""

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.trusted and scope.get("client"):
            host, _port = scope["client"]
            real = client_address(host, scope.get("headers", ()), self.trusted)
            if real != host:
                scope = dict(scope)
                scope["client"] = (real, 0)
        await self.app(scope, receive, send)
