"""Settings of the web app: defaults, then the environment, then an explicit mapping (tests, CLI)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def default_instance_path() -> Path:
    """The instance folder (database, secret key): `$TUNEBACK_INSTANCE_PATH` or `instance/` at the repo root."""
    env = os.environ.get("TUNEBACK_INSTANCE_PATH")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "instance"


def default_database_url() -> str:
    """`$DATABASE_URL`, else a SQLite file in the instance folder."""
    env = os.environ.get("DATABASE_URL")
    if env:
        return normalise_url(env)
    return f"sqlite:///{default_instance_path() / 'tuneback.sqlite'}"


def normalise_url(url: str) -> str:
    """Map the bare `postgres://` / `postgresql://` schemes (Heroku style) onto the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def utc_clock() -> datetime:
    """The default clock: now, aware, in UTC."""
    return datetime.now(timezone.utc)


def persistent_secret(instance_path: Path) -> str:
    """Read (or create once, atomically) a random secret key in the instance folder, shared by all workers."""
    path = instance_path / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    instance_path.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text().strip()


@dataclass(frozen=True)
class Config:
    """Everything the app reads; built once by `from_sources`, then copied into `app.config`."""

    DATABASE_URL: str = field(default_factory=default_database_url)
    SECRET_KEY: str | None = None
    INSTANCE_PATH: str = field(default_factory=lambda: str(default_instance_path()))
    TRIAL_GRACE_S: float = 1.0
    PROLIFIC_COMPLETE_URL: str = "https://app.prolific.com/submissions/complete?cc={code}"
    SESSION_COOKIE_SECURE: bool = False
    SESSION_COOKIE_HTTPONLY: bool = True
    SESSION_COOKIE_SAMESITE: str = "Lax"
    SESSION_COOKIE_NAME: str = "tuneback"
    SESSION_REFRESH_EACH_REQUEST: bool = False
    PERMANENT_SESSION_LIFETIME: int = 24 * 3600
    WTF_CSRF_TIME_LIMIT: int | None = None
    MAX_CONTENT_LENGTH: int = 64 * 1024
    MIGRATE_ON_START: bool = False
    PROXY_HOPS: int = 0
    """Reverse proxies in front of the app that set X-Forwarded-For/-Proto/-Host (werkzeug's ProxyFix trusts this
    many); 0 trusts none. Behind one proxy set TUNEBACK_PROXY_HOPS=1, else every login looks like the proxy's."""
    RATE_LIMIT_ASSIGN: str = "10 per minute;100 per hour"
    """Consent POSTs (each may take a place) per client address; raise it for a lab whose computers share one."""
    RATE_LIMIT_PARTICIPANT: str = "240 per minute"
    """Requests per participant session (or per address before one exists) on every participant route."""
    RATELIMIT_STORAGE_URI: str = "memory://"
    """Where Flask-Limiter keeps its counters: memory:// is per worker; redis://host:6379 shares them."""
    TESTING: bool = False
    CLOCK: Callable[[], datetime] = utc_clock

    @classmethod
    def from_sources(cls, overrides: Mapping[str, Any] | None = None) -> Config:
        """Defaults, then `TUNEBACK_*` / `DATABASE_URL` / `SECRET_KEY` environment variables, then `overrides`.

        Keys of `overrides` that are not settings of this object are ignored here (the factory passes them on).
        """
        values: dict[str, Any] = {}
        env = os.environ
        for f in fields(cls):
            raw = env.get(f"TUNEBACK_{f.name}")
            if raw is None or f.name == "CLOCK":
                continue
            values[f.name] = _parse(raw, f.type)
        if env.get("SECRET_KEY"):
            values["SECRET_KEY"] = env["SECRET_KEY"]
        values.update(overrides or {})
        if "DATABASE_URL" in values:
            values["DATABASE_URL"] = normalise_url(str(values["DATABASE_URL"]))
        config = cls(**{k: v for k, v in values.items() if k in cls.names()})
        if config.SECRET_KEY is None:
            config = replace(config, SECRET_KEY=persistent_secret(Path(config.INSTANCE_PATH)))
        return config

    @classmethod
    def names(cls) -> frozenset[str]:
        """The setting names this object knows (other keys pass straight through to Flask)."""
        return frozenset(f.name for f in fields(cls))

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain mapping for `app.config.update`."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _parse(raw: str, type_: Any) -> Any:
    """Turn an environment string into the field's type (bool, int, float or str)."""
    text = str(type_)
    if "bool" in text:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if text.startswith("int"):
        return int(raw)
    if text.startswith("float"):
        return float(raw)
    return raw
