"""The webhook target settings as an operator writes them, and the address rules."""

from __future__ import annotations

import ipaddress

import pytest
from pydantic import ValidationError

from doorstep.config import Settings
from doorstep.notify.targets import TargetPolicy, refusal_of_address


def test_allowlist_is_read_from_a_comma_separated_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOORSTEP_WEBHOOK_ALLOW_HTTP", "true")
    monkeypatch.setenv("DOORSTEP_WEBHOOK_ALLOWED_NETWORKS", " 10.0.5.0/24, hooks.LAN ,fd00::/8,")

    settings = Settings()
    policy = TargetPolicy.from_settings(settings)

    assert settings.webhook_allowed_networks == ["10.0.5.0/24", "hooks.LAN", "fd00::/8"]
    assert policy.allow_http
    assert policy.networks == (
        ipaddress.ip_network("10.0.5.0/24"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert policy.allows_host("hooks.lan.") and not policy.allows_host("other.lan")


def test_the_defaults_allow_only_https_to_public_addresses() -> None:
    policy = TargetPolicy.from_settings(Settings())

    assert policy == TargetPolicy()
    assert refusal_of_address(ipaddress.ip_address("10.0.5.1"), policy) == "a private address"
    assert refusal_of_address(ipaddress.ip_address("2606:4700::1111"), policy) is None


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "hooks lan", "http://hooks.lan", "::g/64"])
def test_an_allowlist_entry_that_is_neither_network_nor_name_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    monkeypatch.setenv("DOORSTEP_WEBHOOK_ALLOWED_NETWORKS", entry)

    with pytest.raises(ValidationError, match="neither a network"):
        Settings()


def test_an_allowed_network_admits_its_ipv4_mapped_form() -> None:
    policy = TargetPolicy(networks=(ipaddress.ip_network("10.0.5.0/24"),))

    assert refusal_of_address(ipaddress.ip_address("::ffff:10.0.5.9"), policy) is None
    assert "private" in (refusal_of_address(ipaddress.ip_address("::ffff:10.0.6.9"), policy) or "")
