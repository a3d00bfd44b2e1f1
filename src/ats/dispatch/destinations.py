"""Where a task may make the dispatcher send a request: public addresses only, unless allowed.

A task's ``payload.callback_url`` is chosen by whoever created the task, and the dispatcher POSTs
to it from inside the operator's network. Left unchecked that reaches what only the dispatcher's
host can reach: ``127.0.0.1``, a cloud metadata service at ``169.254.169.254``, the private
network. So the host is resolved once, every address it resolves to is checked, and the request
goes to the checked address itself (the URL's host becomes the IP; the name travels in the
``Host`` header and, for https, as the TLS server name): a DNS answer that changes between the
check and the connection (rebinding) is never used.

Allowed anyway: everything with ``allow_private`` (``--allow-private-callbacks``), and the hosts
and networks the operator lists (``--callback-allow-host``). Notification targets the operator
configured (webhook, Telegram API) are not checked at all: see ``Deliveries.submit(trusted=…)``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ats.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]


class Forbidden(Exception):
    """The destination resolves to an address the policy does not allow; ``why`` says which."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _kind(ip: Address) -> str | None:
    """What makes ``ip`` internal ("loopback", "private" …), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _kind(ip.ipv4_mapped)  # ::ffff:127.0.0.1 is 127.0.0.1
    for name in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    # Shared (100.64/10), documentation, benchmarking … ranges: not private, not public either.
    return None if ip.is_global else "non-public"


@dataclass(frozen=True, slots=True)
class Policy:
    allow_private: bool = False
    hosts: frozenset[str] = frozenset()  # lower-case names, no trailing dot
    networks: tuple[Network, ...] = ()

    @classmethod
    def of(cls, allow_private: bool, allowed: Iterable[str]) -> Policy:
        """The policy for ``--allow-private-callbacks`` and ``--callback-allow-host`` values
        (host names, IP addresses or networks like ``10.1.0.0/16``)."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in (e.strip() for e in allowed):
            if not entry:
                continue
            try:  # an address (a one-address network) or a network
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if any(c in entry for c in "/:@?#"):
                raise InvalidInput(
                    f"callback allow host {entry!r}: give a host name, an IP address or a "
                    "network (10.0.0.0/8), not a URL"
                )
            hosts.add(_name(entry))
        return cls(allow_private, frozenset(hosts), tuple(networks))

    def why_not(self, host: str, ip: Address) -> str | None:
        """None when ``ip`` (one of ``host``'s addresses) may be used, else the reason."""
        if self.allow_private or _name(host) in self.hosts:
            return None
        if any(ip in net for net in self.networks):
            return None
        kind = _kind(ip)
        if kind is None:
            return None
        if _name(host) == str(ip):
            return f"{ip} is a {kind} address"
        return f"{host} resolves to {ip}, a {kind} address"


def _name(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class Request:
    """What to send instead of the plain URL: the pinned address, and the name it stands for."""

    url: httpx.URL
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Destinations:
    policy: Policy = Policy()
    resolver: Resolver = system_resolver

    async def pin(self, url: str) -> Request:
        """Resolve ``url``'s host once, check every address, and aim the request at one of them.

        Raises :class:`Forbidden` for a refused address and ``OSError`` when the name does not
        resolve (worth a retry: DNS may be back in a moment).
        """
        target = httpx.URL(url)
        host = target.host
        if self.policy.allow_private:
            return Request(target)  # nothing to check: let httpx connect as usual
        port = target.port or (443 if target.scheme == "https" else 80)
        found = await self.resolver(host, port)
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
        if not addresses:
            raise OSError(f"{host} has no address")
        for ip in addresses:
            why = self.policy.why_not(host, ip)
            if why is not None:
                # One internal address is enough: which one a connection would use is not ours
                # to predict, and a name that mixes public and private answers is a red flag.
                raise Forbidden(why)
        ip = addresses[0]
        headers = {"Host": target.netloc.decode("ascii")}
        extensions: dict[str, Any] = {}
        if target.scheme == "https":
            # Certificate checked against the name, not the address we connect to.
            extensions["sni_hostname"] = host
            # httpcore pools connections by (scheme, address, port): a TLS connection verified
            # for one name must not carry a request meant for another name on the same address.
            headers["Connection"] = "close"
        return Request(target.copy_with(host=str(ip)), headers, extensions)
