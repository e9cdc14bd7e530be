"""Who sent a request: its client's address, through the proxy in front when there is one.

Without TRUST_PROXY_HEADERS the address is the connection's own (REMOTE_ADDR), and
`X-Forwarded-For` is ignored: anybody can write it. With it, the request came through proxies
that each appended the address they received it from, so the header reads, left to right,
whatever the client wrote itself, then the client's address, then each proxy's but the last
(whose address is REMOTE_ADDR). The client is the rightmost address that is not a proxy of
TRUSTED_PROXIES: everything to its left was written by someone who is not trusted.

    client_address(request) -> "203.0.113.7" (None when there is no usable address)
"""

import functools
import ipaddress
from ipaddress import IPv4Address, IPv6Address

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Address = IPv4Address | IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(request) -> str | None:
    """The address of the client that sent the request, as text."""
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    if not settings.TRUST_PROXY_HEADERS:
        return str(remote) if remote else None
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    # The connection's peer is the nearest hop, to the right of all the header names; over a
    # Unix socket it has no address, and is the proxy on this machine.
    if request.META.get("REMOTE_ADDR"):
        hops.append(request.META["REMOTE_ADDR"])
    trusted = _networks(tuple(settings.TRUSTED_PROXIES))
    nearest = None
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # Not an address: written by someone no proxy vouches for. The client is unknown
            # beyond the last proxy that passed the request on.
            return str(nearest) if nearest else None
        if not any(address in network for network in trusted):
            return str(address)
        nearest = address
    # Every hop is a proxy: the request started at the farthest one.
    return str(nearest) if nearest else None


def _address(text: str) -> Address | None:
    """An address as a proxy may write it: `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`,
    `[2001:db8::1]:4711`; an IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is IPv4."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {entry!r} is neither an address nor a network (CIDR)."
            ) from None
    return tuple(networks)
