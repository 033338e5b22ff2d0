"""Addresses and networks the operator lists (trusted reverse proxies), parsed once."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from gate.errors import InputError, excerpt

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str | Iterable[str]) -> tuple[Network, ...]:
    """`10.0.0.0/8, 192.0.2.7` (or a list of such) as networks; InputError naming the bad one."""
    items = text.split(",") if isinstance(text, str) else list(text)
    networks: list[Network] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise InputError(
                "trusted_proxies", f"not an IP address or CIDR network: {excerpt(item)}"
            ) from None
    return tuple(networks)
