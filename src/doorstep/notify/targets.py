"""Where a webhook may go: public addresses over https, plus what the operator allows.

A resident picks the URL and the worker, inside the operator's network, posts to it:
unchecked, that lets anyone with an account make the server call its own admin ports,
the cloud metadata service or the LAN. So a target must

- use https (plain http only where ``webhook_allow_http`` is on), and
- resolve only to public unicast addresses, unless the address is inside one of the
  operator's ``webhook_allowed_networks`` or the host name itself is listed there.

Registration checks this to answer early and clearly; delivery checks it again on the
addresses it is about to connect to (``resolve_target``), because DNS may answer
differently by then.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from doorstep.errors import DoorstepError

__all__ = [
    "IPAddress",
    "TargetPolicy",
    "TargetRefused",
    "TargetUnresolvable",
    "check_target",
    "check_url",
    "refusal_of_address",
    "resolve_target",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_ALLOW_HINT = "an operator can allow on-premises targets with DOORSTEP_WEBHOOK_ALLOWED_NETWORKS"
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, RFC 6052).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class TargetRefused(DoorstepError):
    """A webhook URL this instance will not post to; ``reason`` says which rule it broke."""

    status_code = 400
    code = "webhook_target_refused"

    def __init__(self, message: str, *, reason: str, **details: Any) -> None:
        super().__init__(message, reason=reason, **details)
        self.reason = reason


class TargetUnresolvable(TargetRefused):
    """The host name has no address (now): refused at registration, retried at delivery."""


@dataclass(frozen=True)
class TargetPolicy:
    """The rules for webhook targets; frozen and hashable so clients can be shared per policy."""

    allow_http: bool = False
    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Any) -> TargetPolicy:
        """The policy of ``settings.webhook_allow_http`` and ``webhook_allowed_networks``."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in settings.webhook_allowed_networks:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(_host_key(entry))
        return cls(
            allow_http=bool(settings.webhook_allow_http),
            networks=tuple(networks),
            hosts=frozenset(hosts),
        )

    def allows_host(self, host: str) -> bool:
        return _host_key(host) in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def check_url(url: str, policy: TargetPolicy) -> SplitResult:
    """The parts of ``url`` if its scheme and host are acceptable; raises ``TargetRefused``."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused("A webhook URL starts with https://.", reason="scheme")
    if scheme == "http" and not policy.allow_http:
        raise TargetRefused(
            "A webhook URL must use https:// on this instance (plain http is turned off).",
            reason="scheme",
        )
    try:
        host, _port = parts.hostname, parts.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise TargetRefused(f"The webhook URL's port is not valid: {exc}.", reason="url") from exc
    if not host:
        raise TargetRefused("A webhook URL needs a host name: https://host/path.", reason="url")
    return parts


def check_target(url: str, policy: TargetPolicy) -> None:
    """Refuse ``url`` (``TargetRefused``) unless it is a target the policy allows right now.

    Resolves the host, so an unknown name is refused (``TargetUnresolvable``) too.
    """
    parts = check_url(url, policy)
    assert parts.hostname is not None  # check_url refuses URLs without a host
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    resolve_target(parts.hostname, port, policy)


def resolve_target(host: str, port: int, policy: TargetPolicy) -> list[IPAddress]:
    """The addresses to connect to for ``host``, each one checked against the policy.

    One answer from the resolver, every address in it checked: if any is refused, the
    whole host is, since a name that also points inside is not a public receiver.
    The caller connects to these addresses and no others (no second lookup).
    """
    bare = host.strip("[]")
    try:
        literal: IPAddress | None = ipaddress.ip_address(bare)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            answers = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise TargetUnresolvable(
                f"The webhook host {bare!r} does not resolve ({exc}); check the name.",
                reason="unresolvable",
            ) from exc
        addresses = []
        for _family, _type, _proto, _name, sockaddr in answers:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise TargetUnresolvable(
                f"The webhook host {bare!r} has no address; check the name.",
                reason="unresolvable",
            )
    if literal is None and policy.allows_host(bare):
        return addresses
    for address in addresses:
        refusal = refusal_of_address(address, policy)
        if refusal is not None:
            named = f"{bare!r} resolves to {address}" if literal is None else f"{address}"
            raise TargetRefused(
                f"The webhook host {named}, {refusal}; webhooks go to public addresses only "
                f"({_ALLOW_HINT}).",
                reason="address",
            )
    return addresses


def refusal_of_address(address: IPAddress, policy: TargetPolicy) -> str | None:
    """Why ``address`` may not receive webhooks (for example "a loopback address"), or None."""
    if policy.allows_address(address):
        return None
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        if policy.allows_address(embedded):
            return None
        inner = refusal_of_address(embedded, policy)
        return None if inner is None else f"which carries {embedded}, {inner}"
    kinds = (
        ("an unspecified address", address.is_unspecified),
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
        (
            "a site-local address",
            isinstance(address, ipaddress.IPv6Address) and address.is_site_local,
        ),
        ("a non-public address", not address.is_global),
    )
    for kind, applies in kinds:
        if applies:
            return kind
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), which decides instead."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()
