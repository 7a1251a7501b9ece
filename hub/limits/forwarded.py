"""Which address a request comes from: the peer, unless the peer is a proxy we were told to trust.

`X-Forwarded-For` is believed only when the TCP peer is in `HUB_FORWARDED_ALLOW_IPS`
(default: nobody), for the audit trail and every throttle alike. The list is walked from the
right (the hop nearest to us) past trusted proxies; the first untrusted address is the
client, as uvicorn's ProxyHeadersMiddleware and RFC 7239 §5.2 describe. Anything that is not
an IP address ends the walk: a forged or garbled entry cannot become the client's address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(text: str) -> Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"HUB_FORWARDED_ALLOW_IPS: {text.strip()!r} is not an IP address or network"
        ) from None


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[Network, ...] = ()
    everyone: bool = False

    @classmethod
    def parse(cls, setting: str) -> TrustedProxies:
        """`"10.0.0.1, 10.1.0.0/16"`; `"*"` trusts every peer (only behind a proxy you run)."""
        items = [item for item in setting.split(",") if item.strip()]
        if any(item.strip() == "*" for item in items):
            return cls(everyone=True)
        return cls(networks=tuple(_network(item) for item in items))

    def trusts(self, address: str) -> bool:
        if self.everyone:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_address(self, peer: str | None, forwarded_for: list[str]) -> str | None:
        """The client's address: `peer`, or the nearest untrusted hop of X-Forwarded-For."""
        if peer is None or not self.trusts(peer) or not forwarded_for:
            return peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        address = peer
        for hop in reversed(hops):
            if not _is_ip(hop):
                break
            address = hop
            if not self.trusts(hop):
                break
        return address


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
