"""`Policy`: whether the guard is on, what the operator allows besides the public internet, and the
default limits of the guarded clients."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .addresses import METADATA_ADDRESSES, METADATA_HOSTS, IPAddress, refusal_reason

MB = 1024 * 1024


class DestinationBlocked(Exception):
    """A request for a user would reach an address the platform must not call (loopback, private, ...)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """``enabled=False`` turns the guard off (an operator's choice for a closed network).

    ``allowed_hosts`` are host names (exact, or ``.example.com`` for a domain and its subdomains) and
    ``allowed_networks`` CIDR ranges that are reachable although not public; cloud metadata addresses
    and names stay refused whatever the allow-list says.
    """

    enabled: bool = True
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    timeout: float = 30.0
    max_response_bytes: int = 10 * MB
    max_redirects: int = 5
    _hosts_lower: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_hosts_lower", frozenset(h.strip().lower().rstrip(".") for h in self.allowed_hosts)
        )

    @classmethod
    def build(
        cls,
        *,
        enabled: bool = True,
        allowed_hosts: Iterable[str] = (),
        allowed_networks: Iterable[str] = (),
        **limits: float | int,
    ) -> Policy:
        """A policy from plain values (settings): network strings are parsed, blanks ignored."""
        networks = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in allowed_networks if n.strip())
        hosts = frozenset(h for h in allowed_hosts if h.strip())
        return cls(enabled=enabled, allowed_hosts=hosts, allowed_networks=networks, **limits)  # type: ignore[arg-type]

    def host_allowed(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        return any(
            name == h or (h.startswith(".") and (name.endswith(h) or name == h[1:]))
            for h in self._hosts_lower
        )

    def check_name(self, host: str) -> None:
        """Refuse a metadata service by name, before it is resolved."""
        if self.enabled and host.lower().rstrip(".") in METADATA_HOSTS:
            raise DestinationBlocked(f"destination {host} is not allowed (cloud metadata)")

    def check_address(self, host: str, address: IPAddress) -> None:
        """Refuse ``address`` (one that ``host`` resolved to) unless it is public or allow-listed."""
        if not self.enabled:
            return
        if address in METADATA_ADDRESSES:
            raise DestinationBlocked(f"destination {host} ({address}) is not allowed (cloud metadata)")
        reason = refusal_reason(address)
        if reason is None or self.host_allowed(host) or any(address in n for n in self.allowed_networks):
            return
        raise DestinationBlocked(f"destination {host} ({address}) is not allowed ({reason} address)")


PolicySource = Policy | Callable[[], Policy]


def current(source: PolicySource) -> Policy:
    """The policy in force: a fixed one, or the one a callable reads now (settings can change)."""
    return source if isinstance(source, Policy) else source()
