"""Trusted proxies: X-Forwarded-For is believed only from HUB_FORWARDED_ALLOW_IPS."""

from __future__ import annotations

import pytest

from hub.limits.forwarded import TrustedProxies


@pytest.mark.parametrize(
    ("setting", "peer", "forwarded", "client"),
    [
        ("", "127.0.0.1", ["203.0.113.9"], "127.0.0.1"),
        ("10.0.0.1", "127.0.0.1", ["203.0.113.9"], "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.0/8", "10.1.2.3", ["203.0.113.9, 10.0.0.7"], "203.0.113.9"),
        ("10.0.0.0/8", "10.1.2.3", ["198.51.100.1, 203.0.113.9"], "203.0.113.9"),
        ("127.0.0.1", "127.0.0.1", ["not-an-address"], "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1", ["203.0.113.9, garbage"], "127.0.0.1"),
        ("*", "192.0.2.1", ["203.0.113.9"], "203.0.113.9"),
        ("::1", "::1", ["2001:db8::1"], "2001:db8::1"),
    ],
    ids=[
        "nobody trusted",
        "another proxy trusted",
        "trusted peer",
        "walk past trusted hops",
        "the nearest untrusted hop, not the first",
        "garbage is not an address",
        "garbage ends the walk",
        "everyone",
        "IPv6",
    ],
)
def test_the_client_address(setting: str, peer: str, forwarded: list[str], client: str) -> None:
    assert TrustedProxies.parse(setting).client_address(peer, forwarded) == client


def test_a_setting_that_is_not_an_address_fails_naming_it() -> None:
    with pytest.raises(ValueError, match=r"HUB_FORWARDED_ALLOW_IPS: 'proxy\.local'"):
        TrustedProxies.parse("10.0.0.1, proxy.local")
