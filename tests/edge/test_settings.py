"""Settings from B12CDS_* variables: defaults, parsing, and the unsafe combinations refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service.settings import Settings, SettingsError, is_loopback


def test_defaults_are_safe() -> None:
    settings = Settings.from_env({})
    assert settings.auth == "jwt"
    assert settings.cors_origins == ()
    assert settings.demo is False
    assert settings.max_body_bytes == 5_000_000
    assert settings.fhir_timeout == 5
    assert settings.fhir_page_cap == 10
    assert settings.host == "127.0.0.1"


def test_variables_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "B12CDS_FHIR_TIMEOUT": "2.5",
            "B12CDS_MAX_BODY_BYTES": "1_000",
            "B12CDS_CORS_ORIGINS": "https://a.example.org, https://b.example.org/",
            "B12CDS_FHIR_ALLOW_HTTP_HOSTS": "localhost,fhir",
            "B12CDS_VALIDATE_RESPONSES": "yes",
            "B12CDS_LOG_LEVEL": "debug",
            "B12CDS_PUBLIC_URL": "https://cds.example.org/",
        }
    )
    assert settings.fhir_timeout == 2.5
    assert settings.max_body_bytes == 1000
    assert settings.cors_origins == ("https://a.example.org", "https://b.example.org")
    assert settings.fhir_allow_http_hosts == ("localhost", "fhir")
    assert settings.validate_responses is True
    assert settings.log_level == "DEBUG"
    assert settings.public_url == "https://cds.example.org"


def test_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env({"B12CDS_PORT": "9000"}, port=9100)
    assert settings.port == 9100


def test_no_auth_turns_on_demo_and_open_cors_unless_told_otherwise() -> None:
    assert Settings.from_env({}, auth="none").cors_origins == ("*",)
    assert Settings.from_env({}, auth="none").demo is True
    told = Settings.from_env({"B12CDS_DEMO": "off", "B12CDS_CORS_ORIGINS": ""}, auth="none")
    assert told.demo is False
    assert told.cors_origins == ()


@pytest.mark.parametrize(
    ("environ", "overrides", "named"),
    [
        ({"B12CDS_AUTH": "none", "B12CDS_HOST": "192.0.2.10"}, {}, "loopback"),
        ({}, {"auth": "none", "host": "10.1.2.3"}, "loopback"),
        ({"B12CDS_AUTH": "basic"}, {}, "B12CDS_AUTH"),
        ({"B12CDS_CORS_ORIGINS": "*"}, {}, "B12CDS_CORS_ORIGINS"),
        ({"B12CDS_CORS_ORIGINS": "sandbox.cds-hooks.org"}, {}, "B12CDS_CORS_ORIGINS"),
        ({"B12CDS_FHIR_TIMEOUT": "soon"}, {}, "B12CDS_FHIR_TIMEOUT"),
        ({"B12CDS_FHIR_TIMEOUT": "0"}, {}, "B12CDS_FHIR_TIMEOUT"),
        ({"B12CDS_MAX_BODY_BYTES": "-1"}, {}, "B12CDS_MAX_BODY_BYTES"),
        ({"B12CDS_FHIR_PAGE_CAP": "0"}, {}, "B12CDS_FHIR_PAGE_CAP"),
        ({"B12CDS_DEMO": "maybe"}, {}, "B12CDS_DEMO"),
        ({"B12CDS_LOG_LEVEL": "LOUD"}, {}, "B12CDS_LOG_LEVEL"),
        ({"B12CDS_PUBLIC_URL": "cds.example.org"}, {}, "B12CDS_PUBLIC_URL"),
        ({"B12CDS_HEADER_TIMEOUT": "0"}, {}, "B12CDS_HEADER_TIMEOUT"),
        ({"B12CDS_BODY_TIMEOUT": "later"}, {}, "B12CDS_BODY_TIMEOUT"),
        ({"B12CDS_TRUSTED_PROXIES": "proxy.example.org"}, {}, "B12CDS_TRUSTED_PROXIES"),
        ({"B12CDS_FHIR_CONCURRENCY": "4"}, {}, "B12CDS_FHIR_CONCURRENCY"),
        ({"B12CDS_FHIR_CONCURRENCY": "0"}, {}, "B12CDS_FHIR_CONCURRENCY"),
        ({"B12CDS_TRUSTED_CLIENTS": "/no/such/clients.json"}, {}, "B12CDS_TRUSTED_CLIENTS"),
        ({"B12CDS_POLICY": "/no/such/policy.json"}, {}, "B12CDS_POLICY"),
        ({}, {"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(
    environ: dict[str, str], overrides: dict[str, object], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(environ, **overrides)


def test_trusted_clients_path_is_kept(tmp_path: Path) -> None:
    clients = tmp_path / "clients.json"
    clients.write_text("{}", encoding="utf-8")
    assert Settings.from_env({"B12CDS_TRUSTED_CLIENTS": str(clients)}).trusted_clients == clients


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("192.0.2.10", False),
        ("192.168.1.4", False),
        ("example.org", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
