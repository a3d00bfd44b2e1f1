"""Dispatcher settings: flags > environment (``ATS_DISPATCH_*``) > TOML file > defaults.

Read once into a frozen :class:`DispatchSettings` and passed down. The TOML file is the one given
by ``--config`` / ``ATS_DISPATCH_CONFIG``, else ``.ats/dispatch.toml`` in the current directory or a
parent; ``examples/dispatch.toml`` documents every key. Unknown keys are errors (a typo must not
silently fall back to a default), and so is every value of the wrong type.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field

from ats.dispatch.destinations import Policy
from ats.errors import InvalidInput
from ats.tomlfile import Strict, find_upwards, read

CONFIG_NAME = "dispatch.toml"


class ExecutorKind(StrEnum):
    COMMAND = "command"
    HTTP = "http"
    PYTHON = "python"


@dataclass(frozen=True, slots=True)
class ExecutorSpec:
    kind: ExecutorKind
    target: str  # the command line, the URL or "module:function"


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    channels: tuple[str, ...]
    executor: ExecutorSpec
    concurrency: int = 1
    lease_ms: int = 300_000  # long: the lease is renewed every lease/4 while the work runs
    timeout: float | None = None  # seconds per run; None = no limit
    max_attempts: int = 3
    retry_backoff: float = 5.0  # seconds before the first retry, doubled per attempt
    kill_grace: float = 10.0  # SIGTERM → SIGKILL
    leave_leases: bool = False
    heartbeat: bool = True
    poll_interval: float = 5.0  # backstop only: delayed releases and a silent event stream
    log_format: str = "json"
    limits: Mapping[str, int] = field(default_factory=dict)
    require_encryption: bool = False
    keyring: Path | None = None
    callback_secret: str | None = None
    callback_attempts: int = 5
    allow_private_callbacks: bool = False  # a task's callback may lead to 127.0.0.1, 10.x …
    callback_allow_hosts: tuple[str, ...] = ()  # names, addresses, networks allowed anyway
    telegram_token: str | None = None
    telegram_chat_id: str | None = None
    telegram_api: str = "https://api.telegram.org"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    config_file: Path | None = None

    @property
    def renew_every(self) -> float:
        return self.lease_ms / 4000

    @property
    def callback_policy(self) -> Policy:
        return Policy.of(self.allow_private_callbacks, self.callback_allow_hosts)


# -- the TOML file (pydantic at the boundary) -------------------------------------------------


class _Executor(Strict):
    command: str | None = None
    http: str | None = None
    python: str | None = None


class _Callbacks(Strict):
    secret: str | None = None
    attempts: int | None = Field(default=None, ge=1, le=100)
    allow_private: bool | None = None
    allow_hosts: list[str] | None = None


class _Telegram(Strict):
    token: str | None = None
    chat_id: str | int | None = None
    api: str | None = None


class _Webhook(Strict):
    url: str | None = None
    secret: str | None = None


class _File(Strict):
    channels: list[str] | None = None
    concurrency: int | None = Field(default=None, ge=1, le=1000)
    lease_ms: int | None = Field(default=None, ge=1000)
    timeout: float | None = Field(default=None, gt=0)
    max_attempts: int | None = Field(default=None, ge=1, le=1000)
    retry_backoff: float | None = Field(default=None, ge=0)
    kill_grace: float | None = Field(default=None, ge=0)
    leave_leases: bool | None = None
    heartbeat: bool | None = None
    poll_interval: float | None = Field(default=None, gt=0)
    log_format: str | None = None
    require_encryption: bool | None = None
    keyring: str | None = None
    executor: _Executor | None = None
    limits: dict[str, int] | None = None
    callbacks: _Callbacks | None = None
    telegram: _Telegram | None = None
    webhook: _Webhook | None = None


@dataclass(frozen=True, slots=True)
class Flags:
    """What the command line said; None means "not given"."""

    channels: tuple[str, ...] = ()
    command: str | None = None
    http: str | None = None
    python: str | None = None
    concurrency: int | None = None
    lease_ms: int | None = None
    timeout: float | None = None
    max_attempts: int | None = None
    retry_backoff: float | None = None
    kill_grace: float | None = None
    leave_leases: bool | None = None
    heartbeat: bool | None = None
    log_format: str | None = None
    require_encryption: bool | None = None
    keyring: str | None = None
    config: str | None = None
    allow_private_callbacks: bool | None = None
    callback_allow_hosts: tuple[str, ...] = ()


ENV = {
    "channels": "ATS_DISPATCH_CHANNELS",
    "command": "ATS_DISPATCH_COMMAND",
    "http": "ATS_DISPATCH_HTTP",
    "python": "ATS_DISPATCH_PYTHON",
    "concurrency": "ATS_DISPATCH_CONCURRENCY",
    "lease_ms": "ATS_DISPATCH_LEASE_MS",
    "timeout": "ATS_DISPATCH_TIMEOUT",
    "max_attempts": "ATS_DISPATCH_MAX_ATTEMPTS",
    "retry_backoff": "ATS_DISPATCH_RETRY_BACKOFF",
    "kill_grace": "ATS_DISPATCH_KILL_GRACE",
    "leave_leases": "ATS_DISPATCH_LEAVE_LEASES",
    "heartbeat": "ATS_DISPATCH_HEARTBEAT",
    "log_format": "ATS_DISPATCH_LOG_FORMAT",
    "require_encryption": "ATS_REQUIRE_ENCRYPTION",
    "keyring": "ATS_KEYRING",
    "config": "ATS_DISPATCH_CONFIG",
    "callback_secret": "ATS_CALLBACK_SECRET",
    "allow_private_callbacks": "ATS_ALLOW_PRIVATE_CALLBACKS",
    "callback_allow_hosts": "ATS_CALLBACK_ALLOW_HOSTS",
    "telegram_token": "ATS_TELEGRAM_TOKEN",
    "telegram_chat_id": "ATS_TELEGRAM_CHAT_ID",
    "telegram_api": "ATS_TELEGRAM_API",
    "webhook_url": "ATS_WEBHOOK_URL",
    "webhook_secret": "ATS_WEBHOOK_SECRET",
}


def _env_value(env: Mapping[str, str], key: str) -> str | None:
    value = env.get(ENV[key])
    return value if value not in (None, "") else None


def _number(text: str | None, name: str, kind: type[int] | type[float]) -> Any:
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        raise InvalidInput(f"{name} must be a number, got {text!r}") from None


def _boolean(text: str | None, name: str) -> bool | None:
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise InvalidInput(f"{name} must be true or false, got {text!r}")


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def load(
    flags: Flags,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    default_channel: str | None = None,
) -> DispatchSettings:
    """Resolve every setting; InvalidInput (one clear line) when something is wrong."""
    env = os.environ if env is None else env
    path_text = flags.config or _env_value(env, "config")
    path = (
        Path(path_text).expanduser() if path_text else find_upwards(cwd or Path.cwd(), CONFIG_NAME)
    )
    file = read(path, _File, "config file") if path is not None else _File()
    fx = file.executor or _Executor()

    def pick(key: str, kind: type[int] | type[float] | None = None) -> Any:
        flag = getattr(flags, key)
        raw = _env_value(env, key)
        from_env = _number(raw, ENV[key], kind) if kind is not None else raw
        return _first(flag, from_env, getattr(file, key, None))

    def pick_bool(key: str) -> bool | None:
        value: bool | None = _first(
            getattr(flags, key), _boolean(_env_value(env, key), ENV[key]), getattr(file, key)
        )
        return value

    channels: tuple[str, ...] = flags.channels
    if not channels and (text := _env_value(env, "channels")):
        channels = tuple(c.strip() for c in text.split(",") if c.strip())
    if not channels and file.channels:
        channels = tuple(file.channels)
    if not channels and default_channel:
        channels = (default_channel,)
    if not channels:
        raise InvalidInput("no channel to watch: give --channel (or ATS_DISPATCH_CHANNELS)")

    executor = _executor(
        _first(flags.command, flags.http, flags.python) is not None,
        flags.command,
        flags.http,
        flags.python,
    ) or _executor(
        any(_env_value(env, k) for k in ("command", "http", "python")),
        _env_value(env, "command"),
        _env_value(env, "http"),
        _env_value(env, "python"),
    )
    executor = executor or _executor(True, fx.command, fx.http, fx.python)
    assert executor is not None

    log_format = pick("log_format") or "json"
    if log_format not in ("json", "text"):
        raise InvalidInput(f"log format must be json or text, got {log_format!r}")
    defaults = DispatchSettings(channels=channels, executor=executor)
    cb = file.callbacks or _Callbacks()
    tg = file.telegram or _Telegram()
    wh = file.webhook or _Webhook()
    keyring = pick("keyring")
    allow_hosts: tuple[str, ...] = flags.callback_allow_hosts
    if not allow_hosts and (text := _env_value(env, "callback_allow_hosts")):
        allow_hosts = tuple(h.strip() for h in text.split(",") if h.strip())
    if not allow_hosts and cb.allow_hosts:
        allow_hosts = tuple(cb.allow_hosts)
    settings = DispatchSettings(
        channels=channels,
        executor=executor,
        concurrency=_first(pick("concurrency", int), defaults.concurrency),
        lease_ms=_first(pick("lease_ms", int), defaults.lease_ms),
        timeout=pick("timeout", float),
        max_attempts=_first(pick("max_attempts", int), defaults.max_attempts),
        retry_backoff=_first(pick("retry_backoff", float), defaults.retry_backoff),
        kill_grace=_first(pick("kill_grace", float), defaults.kill_grace),
        leave_leases=bool(pick_bool("leave_leases")),
        heartbeat=_first(pick_bool("heartbeat"), True),
        poll_interval=file.poll_interval or defaults.poll_interval,
        log_format=log_format,
        limits=dict(file.limits or {}),
        require_encryption=bool(pick_bool("require_encryption")),
        keyring=Path(keyring).expanduser() if keyring else None,
        callback_secret=_first(_env_value(env, "callback_secret"), cb.secret),
        callback_attempts=cb.attempts or defaults.callback_attempts,
        allow_private_callbacks=bool(
            _first(
                flags.allow_private_callbacks,
                _boolean(
                    _env_value(env, "allow_private_callbacks"), ENV["allow_private_callbacks"]
                ),
                cb.allow_private,
            )
        ),
        callback_allow_hosts=allow_hosts,
        telegram_token=_first(_env_value(env, "telegram_token"), tg.token),
        telegram_chat_id=_first(
            _env_value(env, "telegram_chat_id"), str(tg.chat_id) if tg.chat_id else None
        ),
        telegram_api=_first(_env_value(env, "telegram_api"), tg.api, defaults.telegram_api),
        webhook_url=_first(_env_value(env, "webhook_url"), wh.url),
        webhook_secret=_first(_env_value(env, "webhook_secret"), wh.secret),
        config_file=path,
    )
    _check(settings)
    return settings


def _executor(
    given: bool, command: str | None, http: str | None, python: str | None
) -> ExecutorSpec | None:
    if not given:
        return None
    chosen = [
        ExecutorSpec(kind, target)
        for kind, target in (
            (ExecutorKind.COMMAND, command),
            (ExecutorKind.HTTP, http),
            (ExecutorKind.PYTHON, python),
        )
        if target
    ]
    if not chosen:
        raise InvalidInput("no executor: give one of --command, --http or --python")
    if len(chosen) > 1:
        names = ", ".join(f"--{c.kind.value}" for c in chosen)
        raise InvalidInput(f"choose one executor, not several ({names})")
    return chosen[0]


def _check(s: DispatchSettings) -> None:
    if s.concurrency < 1:
        raise InvalidInput(f"concurrency must be at least 1, got {s.concurrency}")
    if s.lease_ms < 1000:
        raise InvalidInput(f"lease must be at least 1000 ms, got {s.lease_ms}")
    if s.timeout is not None and s.timeout <= 0:
        raise InvalidInput(f"timeout must be positive, got {s.timeout:g}")
    if s.max_attempts < 1:
        raise InvalidInput(f"max attempts must be at least 1, got {s.max_attempts}")
    if s.retry_backoff < 0 or s.kill_grace < 0:
        raise InvalidInput("retry backoff and kill grace cannot be negative")
    _ = s.callback_policy  # InvalidInput for an allowed host that is a URL, say
    for name, limit in s.limits.items():
        if limit < 1:
            raise InvalidInput(f"limit for class {name!r} must be at least 1, got {limit}")
