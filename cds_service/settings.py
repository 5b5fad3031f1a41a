"""The one typed settings object, read from `B12CDS_*` environment variables.

Every value is parsed and checked once, at start-up, so a typo stops the service with a
message naming the variable instead of surfacing on the first patient. A CLI flag or a
test passes `overrides` (field names), which win over the environment.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cds_service.policy import BUILT_IN as BUILT_IN_POLICIES

PREFIX = "B12CDS_"
# application threads per worker process; the event loop in front reads every request
# whole before one of them is given it (`edge/front.py`)
APP_THREADS_PER_WORKER = 4
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class SettingsError(ValueError):
    """A setting is malformed or unsafe; the message names the variable."""


DATABASE_FILE = "b12cds.sqlite3"


def default_data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the default SQLite database lives: `$XDG_DATA_HOME/b12-cds`, else
    `~/.local/share/b12-cds` (the same for `serve`, `report` and `worklist`, wherever they
    are started from). The container sets `B12CDS_DATA_DIR=/data`, a volume."""
    base = environ.get("XDG_DATA_HOME") or str(
        Path(environ.get("HOME") or Path.home()) / ".local" / "share"
    )
    return Path(base).expanduser() / "b12-cds"


def sqlite_in(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / DATABASE_FILE}"


@dataclass(frozen=True, slots=True)
class Settings:
    auth: str = "jwt"  # "jwt" | "none"
    trusted_clients: Path | None = None
    policy: Path | None = None
    fhir_timeout: float = 5.0
    database_url: str = ""  # empty: the SQLite file in `data_dir`
    data_dir: Path = field(default_factory=default_data_dir)
    log_level: str = "INFO"
    public_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 5_000_000
    demo: bool = False
    fhir_page_cap: int = 10
    fhir_allow_http_hosts: tuple[str, ...] = ()
    validate_responses: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    audience_urls: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    fhir_concurrency: int = 2

    def __post_init__(self) -> None:
        if not self.database_url:
            object.__setattr__(self, "database_url", sqlite_in(self.data_dir))

    @property
    def auth_required(self) -> bool:
        return self.auth == "jwt"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **overrides: Any) -> Settings:
        """Read `B12CDS_*` from `environ`, apply `overrides`, validate, and freeze."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        explicit: set[str] = set()
        for name, parse in _PARSERS.items():
            var = PREFIX + name.upper()
            if name in overrides and overrides[name] is not None:
                raw = overrides[name]
                values[name] = parse(var, raw) if isinstance(raw, str) else raw
                explicit.add(name)
            elif var in environ:
                values[name] = parse(var, environ[var])
                explicit.add(name)
        if "data_dir" not in values or values["data_dir"] is None:
            values["data_dir"] = default_data_dir(environ)
        settings = cls(**values)
        # --no-auth on loopback is the developer's demo mode: open CORS and demo on,
        # unless the operator said otherwise.
        if settings.auth == "none":
            if "cors_origins" not in explicit:
                settings = replace(settings, cors_origins=("*",))
            if "demo" not in explicit:
                settings = replace(settings, demo=True)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.auth not in ("jwt", "none"):
            raise SettingsError(f"B12CDS_AUTH must be 'jwt' or 'none', not {self.auth!r}")
        if self.auth == "none" and not is_loopback(self.host):
            raise SettingsError(
                f"B12CDS_AUTH=none (--no-auth) is refused on {self.host!r}: "
                "it is allowed only on a loopback address such as 127.0.0.1"
            )
        if "*" in self.cors_origins and self.auth != "none":
            raise SettingsError(
                "B12CDS_CORS_ORIGINS='*' is allowed only with B12CDS_AUTH=none; "
                "list the browser origins instead"
            )
        for origin in self.cors_origins:
            if origin != "*" and not _is_origin(origin):
                raise SettingsError(
                    f"B12CDS_CORS_ORIGINS: {origin!r} is not an origin like https://host[:port]"
                )
        if self.trusted_clients is not None and not self.trusted_clients.is_file():
            raise SettingsError(f"B12CDS_TRUSTED_CLIENTS: no such file: {self.trusted_clients}")
        if (
            self.policy is not None
            and str(self.policy) not in BUILT_IN_POLICIES
            and not self.policy.is_file()
        ):
            raise SettingsError(
                f"B12CDS_POLICY: no such file: {self.policy} "
                f"(or a built-in name: {', '.join(sorted(BUILT_IN_POLICIES))})"
            )
        if not 0 < self.fhir_timeout <= 120:
            raise SettingsError("B12CDS_FHIR_TIMEOUT must be between 0 and 120 seconds")
        if self.max_body_bytes < 1:
            raise SettingsError("B12CDS_MAX_BODY_BYTES must be a positive number of bytes")
        if self.fhir_page_cap < 1:
            raise SettingsError("B12CDS_FHIR_PAGE_CAP must be at least 1")
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(f"B12CDS_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        for var, url in [("B12CDS_PUBLIC_URL", self.public_url)] + [
            ("B12CDS_AUDIENCE_URLS", u) for u in self.audience_urls
        ]:
            if url is not None and not _is_base_url(url):
                raise SettingsError(
                    f"{var} must be an absolute http(s) base URL without query, "
                    f"fragment or credentials, not {url!r}"
                )
        if (
            self.auth == "jwt"
            and not is_loopback(self.host)
            and self.public_url is None
            and not self.audience_urls
        ):
            raise SettingsError(
                f"JWT auth on {self.host!r} needs B12CDS_PUBLIC_URL (the base URL clients "
                "call, e.g. https://cds.hospital.example) or B12CDS_AUDIENCE_URLS: a token's "
                "aud is checked against configuration, never against the request's Host"
            )
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy)
            except ValueError:
                raise SettingsError(
                    f"B12CDS_TRUSTED_PROXIES: {proxy!r} is not an IP address or network"
                ) from None
        if not 0 < self.header_timeout <= 300:
            raise SettingsError("B12CDS_HEADER_TIMEOUT must be between 0 and 300 seconds")
        if not 0 < self.body_timeout <= 600:
            raise SettingsError("B12CDS_BODY_TIMEOUT must be between 0 and 600 seconds")
        if not 1 <= self.fhir_concurrency < APP_THREADS_PER_WORKER:
            raise SettingsError(
                f"B12CDS_FHIR_CONCURRENCY must be between 1 and {APP_THREADS_PER_WORKER - 1} "
                f"(of the {APP_THREADS_PER_WORKER} threads per worker, at least one is kept "
                "for calls that need no FHIR fallback)"
            )
        if "://" not in self.database_url:
            raise SettingsError(
                "B12CDS_DATABASE_URL must be a SQLAlchemy URL such as sqlite:///x.db"
            )
        if not 0 <= self.port <= 65535:
            raise SettingsError("B12CDS_PORT must be between 0 and 65535")
        if not 1 <= self.workers <= 64:
            raise SettingsError("B12CDS_WORKERS must be between 1 and 64")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_origin(origin: str) -> bool:
    parts = urlsplit(origin)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and parts.path == ""
        and not parts.query
    )


def _is_base_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError on a malformed port
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.query
        and not parts.fragment
        and "@" not in parts.netloc
    )


def _text(var: str, raw: str) -> str:
    return raw.strip()


def _choice_lower(var: str, raw: str) -> str:
    return raw.strip().lower()


def _upper(var: str, raw: str) -> str:
    return raw.strip().upper()


def _optional_text(var: str, raw: str) -> str | None:
    return raw.strip().rstrip("/") or None


def _path(var: str, raw: str) -> Path | None:
    return Path(raw.strip()).expanduser() if raw.strip() else None


def _number(var: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{var} must be a number, not {raw!r}") from None


def _integer(var: str, raw: str) -> int:
    try:
        return int(raw.strip().replace("_", ""))
    except ValueError:
        raise SettingsError(f"{var} must be a whole number, not {raw!r}") from None


def _flag(var: str, raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise SettingsError(f"{var} must be true or false, not {raw!r}")


def _comma_list(var: str, raw: str) -> tuple[str, ...]:
    return tuple(item.strip().rstrip("/") for item in raw.split(",") if item.strip())


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "auth": _choice_lower,
    "trusted_clients": _path,
    "policy": _path,
    "fhir_timeout": _number,
    "database_url": _text,
    "data_dir": _path,
    "log_level": _upper,
    "public_url": _optional_text,
    "cors_origins": _comma_list,
    "max_body_bytes": _integer,
    "demo": _flag,
    "fhir_page_cap": _integer,
    "fhir_allow_http_hosts": _comma_list,
    "validate_responses": _flag,
    "host": _text,
    "port": _integer,
    "workers": _integer,
    "audience_urls": _comma_list,
    "trusted_proxies": _comma_list,
    "header_timeout": _number,
    "body_timeout": _number,
    "fhir_concurrency": _integer,
}
