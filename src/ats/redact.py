"""Secrets out of everything ATS prints: URLs, free text that quotes URLs, HTTP header mappings.

Every log line, error message and ``-v`` trace that can show a URL or a header goes through here,
so the rule is written once: a URL keeps its scheme, user name, host, port, path and query *keys*;
a password in it becomes ``***`` and so does every query value (tokens live there: webhook keys,
``?access_token=``, signed links). Header values whose name says credential become ``***``.

Imports nothing internal: the store layer uses it too (a database URL in a connection error).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Literal
from urllib.parse import urlsplit

MASK = "***"

Query = Literal["mask", "secrets", "drop"]
"""What :func:`url` does with the query string: ``mask`` every value, hide only the values whose
key looks like a credential (``secrets``: for our own API's ``?status=…&limit=…`` in ``-v``
traces), or ``drop`` it altogether."""

_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-ats-signature"}
)
# A header or query key with one of these in its name carries a credential.
_CREDENTIAL_WORDS = ("token", "secret", "key", "password", "passwd", "signature", "auth", "session")

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_TRAILING = ".,;:!?)]}'\""  # sentence punctuation after a URL in prose, not part of it
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
# base64 of user:password. Capitalised as headers write it, so prose ("basic setup") stays.
_BASIC = re.compile(r"\b(Basic)\s+[A-Za-z0-9+/]{8,}={0,2}")
_ATS_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])ats_[A-Za-z0-9_-]{20,}")
_ASSIGNMENT = re.compile(
    r"(?i)\b(password|passwd|secret|token|access_token|api_key|apikey)=(?!\*\*\*)[^\s&'\"]+"
)


def is_credential_name(name: str) -> bool:
    """Whether a header or query key names a credential (``X-Api-Key``, ``access_token``…)."""
    lowered = name.lower()
    return lowered in _CREDENTIAL_HEADERS or any(w in lowered for w in _CREDENTIAL_WORDS)


def headers(mapping: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A copy of the headers with every credential value replaced by ``***``."""
    items = mapping.items() if isinstance(mapping, Mapping) else mapping
    return {name: MASK if is_credential_name(name) else value for name, value in items}


def _query(text: str, mode: Query) -> str:
    parts = []
    for part in text.split("&"):
        key, sep, value = part.partition("=")
        if not sep:
            # A bare value (``?s3cr3t``) may be the secret itself; in ``secrets`` mode it has no
            # key that could say so, and our own API never sends one.
            parts.append(MASK if mode == "mask" and part else part)
        elif mode == "mask" or is_credential_name(key):
            parts.append(f"{key}={MASK}" if value else part)
        else:
            parts.append(part)
    return "&".join(parts)


def url(value: str, *, query: Query = "mask") -> str:
    """``value`` with its password and query values (see :data:`Query`) replaced by ``***``.

    What cannot be parsed as a URL comes back as ``(unparseable URL)``: an error path must not
    print the very text it failed to understand.
    """
    try:
        parts = urlsplit(value)
    except ValueError:
        return "(unparseable URL)"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if has_password else netloc
    shown = f"{parts.scheme}://{netloc}" if parts.scheme or netloc else ""
    shown += parts.path
    if parts.query and query != "drop":
        shown += "?" + _query(parts.query, query)
    if parts.fragment and query != "drop":
        # OAuth's implicit flow puts access tokens in the fragment.
        shown += "#" + _query(parts.fragment, "mask" if query == "mask" else "secrets")
    return shown


def text(value: str, *, query: Query = "mask") -> str:
    """Free text (an error message, a log line) with every URL in it redacted by :func:`url`,
    and bearer tokens, ``ats_…`` tokens and ``password=…``-style assignments hidden."""

    def one(match: re.Match[str]) -> str:
        found = match.group(0)
        stripped = found.rstrip(_TRAILING)
        return url(stripped, query=query) + found[len(stripped) :]

    if "://" in value:
        value = _URL.sub(one, value)
    if "=" in value:
        value = _ASSIGNMENT.sub(lambda m: f"{m.group(1)}={MASK}", value)
    if "bearer" in value.lower():
        value = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", value)
    if "Basic" in value:
        value = _BASIC.sub(lambda m: f"{m.group(1)} {MASK}", value)
    if "ats_" in value:
        value = _ATS_TOKEN.sub(f"ats_{MASK}", value)
    return value
