"""Console sign-in at a trusted outside provider, as configuration: the relying party's keys
of a trusted issuer entry, checked at start-up with one-line errors; an entry without them
keeps working for bearer tokens only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.auth.issuers import IssuerConfigError, TrustedIssuer, trusted_issuers
from hub.config import Settings

ISSUER = "https://sso.example.gov.cn/realms/grid"
BEARER_ONLY: dict[str, Any] = {
    "issuer": ISSUER,
    "jwks_uri": "https://sso.example.gov.cn/realms/grid/certs",
    "audience": "urn:gridhub",
    "allowed_roles": ["grid_worker"],
}


def console(secret_file: Path, **more: Any) -> dict[str, Any]:
    return {
        **BEARER_ONLY,
        "name": "citysso",
        "display_name": "市统一身份认证",
        "console_client_id": "gridhub-console",
        "console_client_secret_file": str(secret_file),
        "console_scopes": ["openid", "roles"],
        **more,
    }


def validated(entries: list[Any], *, production: bool = True) -> tuple[TrustedIssuer, ...]:
    return trusted_issuers(
        entries, file=None, hub_issuer="https://hub.example.gov.cn", production=production
    )


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "client-secret"
    path.write_text("s3cret-from-the-provider\n", encoding="utf-8")
    return path


def test_an_issuer_without_console_settings_is_for_bearer_tokens_only() -> None:
    (trusted,) = validated([BEARER_ONLY])

    assert not trusted.console
    assert trusted.console_client_secret() is None


def test_console_settings_give_a_button_a_discovery_url_and_the_secret_from_its_file(
    secret_file: Path,
) -> None:
    (trusted,) = validated([console(secret_file)])

    assert trusted.console
    assert trusted.button_label == "市统一身份认证"
    assert trusted.discovery_url == ISSUER + "/.well-known/openid-configuration"
    assert trusted.console_client_secret() == "s3cret-from-the-provider"
    secret_file.write_text("rotated\n", encoding="utf-8")
    assert trusted.console_client_secret() == "rotated"  # read at use: a rotation counts


def test_the_secret_may_come_from_an_environment_variable(
    monkeypatch: pytest.MonkeyPatch, secret_file: Path
) -> None:
    entry = console(secret_file, console_client_secret_env="CITYSSO_SECRET")
    del entry["console_client_secret_file"]
    monkeypatch.setenv("CITYSSO_SECRET", "from-the-environment")

    (trusted,) = validated([entry])

    assert trusted.console_client_secret() == "from-the-environment"
    monkeypatch.delenv("CITYSSO_SECRET")
    with pytest.raises(IssuerConfigError, match="CITYSSO_SECRET, which is not set"):
        validated([entry])


@pytest.mark.parametrize(
    ("change", "production", "problem"),
    [
        pytest.param({"name": None}, True, "console_client_id needs a name", id="no-name"),
        pytest.param({"name": "city sso"}, True, "is not a short name", id="bad-name"),
        pytest.param(
            {"console_client_secret": "inline"},
            True,
            "console_client_secret: unknown key",
            id="inline-secret",
        ),
        pytest.param({"console_client_secret_env": "X"}, True, "not both", id="file-and-env"),
        pytest.param(
            {"console_client_secret_file": "/nonexistent/secret"},
            True,
            "cannot read console_client_secret_file /nonexistent/secret",
            id="unreadable-secret",
        ),
        pytest.param({"console_scopes": ["roles"]}, True, 'must include "openid"', id="no-openid"),
        pytest.param(
            {"issuer": "http://127.0.0.1:9000", "jwks_uri": "https://k.example/certs"},
            True,
            "console sign-in needs an https issuer",
            id="http-issuer-in-prod",
        ),
        pytest.param(
            {"issuer": "http://sso.example", "jwks_uri": "https://k.example/certs"},
            False,
            "plain http only on a loopback address in dev",
            id="http-issuer-not-loopback",
        ),
    ],
)
def test_bad_console_settings_are_refused_in_one_line(
    secret_file: Path, change: dict[str, Any], production: bool, problem: str
) -> None:
    entry = {**console(secret_file), **change}
    entry = {key: value for key, value in entry.items() if value is not None}

    with pytest.raises(IssuerConfigError) as refused:
        validated([entry], production=production)

    message = str(refused.value)
    assert problem in message
    assert "\n" not in message
    assert message.startswith("HUB_TRUSTED_ISSUERS: issuers[0]")


def test_a_secret_without_a_client_id_and_a_name_used_twice_are_refused(
    secret_file: Path,
) -> None:
    orphan = {**BEARER_ONLY, "console_client_secret_file": str(secret_file)}
    other = {**console(secret_file), "issuer": "https://other.example", "audience": "x"}

    with pytest.raises(IssuerConfigError, match="needs console_client_id"):
        validated([orphan])
    with pytest.raises(IssuerConfigError, match=r"issuers\[1\]\.name: 'citysso' is used twice"):
        validated([console(secret_file), other])


def test_a_loopback_http_provider_is_allowed_in_dev_only(secret_file: Path) -> None:
    entry = console(
        secret_file, issuer="http://127.0.0.1:9000", jwks_uri="http://127.0.0.1:9000/jwks"
    )

    (trusted,) = validated([entry], production=False)

    assert trusted.discovery_url == "http://127.0.0.1:9000/.well-known/openid-configuration"


def test_settings_refuse_a_bad_console_entry_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "issuers.toml"
    path.write_text(
        f"""
[[issuers]]
issuer = "{ISSUER}"
jwks_uri = "{ISSUER}/certs"
audience = "urn:gridhub"
allowed_roles = ["grid_worker"]
console_client_id = "gridhub-console"
""",
        encoding="utf-8",
    )

    with pytest.raises(ValueError, match="console_client_id needs a name"):
        Settings(trusted_issuers_file=path)
