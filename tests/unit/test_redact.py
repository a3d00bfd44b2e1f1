"""What ATS prints never carries a secret: URLs, free text and headers (ats.redact)."""

from __future__ import annotations

import pytest

from ats import redact

TOKEN = "ats_" + "Q" * 20 + "-_x" * 7 + "zz"  # the shape of a real token: ats_ + 43


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://bob:hunter2@db.internal:5432/ats?sslpassword=zzz&application_name=x",
            "postgresql://bob:***@db.internal:5432/ats?sslpassword=***&application_name=***",
        ),
        ("postgresql://bob@db/ats", "postgresql://bob@db/ats"),  # a user name is not a secret
        ("https://hooks.example.com/ats?token=s3cr3t", "https://hooks.example.com/ats?token=***"),
        ("http://u:p@[::1]:8080/p?a=1&flag&b=", "http://u:***@[::1]:8080/p?a=***&***&b="),
        ("http://h/cb#access_token=abc", "http://h/cb#access_token=***"),
        ("sqlite:///var/lib/ats/ats.db", "sqlite:///var/lib/ats/ats.db"),
        ("http://[::1/", "(unparseable URL)"),
    ],
)
def test_url_hides_the_password_and_every_query_value(url: str, shown: str) -> None:
    assert redact.url(url) == shown


def test_url_can_keep_our_own_query_or_drop_it() -> None:
    url = "http://u:pw@h:1/events?status=pending&access_token=abc&channel=x"
    assert redact.url(url, query="secrets") == (
        "http://u:***@h:1/events?status=pending&access_token=***&channel=x"
    )
    assert redact.url(url, query="drop") == "http://u:***@h:1/events"


def test_url_is_idempotent() -> None:
    once = redact.url("http://u:pw@h/?token=abc")
    assert redact.url(once) == once == "http://u:***@h/?token=***"


def test_text_redacts_every_url_it_quotes_and_keeps_the_punctuation() -> None:
    message = (
        "cannot connect to PostgreSQL at postgresql://bob:hunter2@127.0.0.1:1/db?sslpassword=zz: "
        "[Errno 111] (see https://h/x?key=k1)."
    )
    assert redact.text(message) == (
        "cannot connect to PostgreSQL at postgresql://bob:***@127.0.0.1:1/db?sslpassword=***: "
        "[Errno 111] (see https://h/x?key=***)."
    )


def test_text_hides_tokens_and_assignments() -> None:
    said = f"Authorization: Bearer {TOKEN}; also {TOKEN} and password=hunter2 token=abc"
    shown = redact.text(said)
    assert TOKEN not in shown and "hunter2" not in shown and "abc" not in shown
    assert shown == ("Authorization: Bearer ***; also ats_*** and password=*** token=***")
    assert redact.text("Basic dXNlcjpwYXNz") == "Basic ***"
    plain = "basic setup done: 3 tasks, ats_dispatch ok, x=1"
    assert redact.text(plain) == plain  # nothing to hide, nothing changed


def test_text_for_a_trace_keeps_our_own_parameters() -> None:
    line = "> GET http://u:pw@h:1/tasks?status=pending&access_token=abc"
    assert redact.text(line, query="secrets") == (
        "> GET http://u:***@h:1/tasks?status=pending&access_token=***"
    )


def test_headers_hide_credentials_by_name() -> None:
    shown = redact.headers(
        {
            "Authorization": "Bearer x",
            "proxy-authorization": "Basic y",
            "Cookie": "s=1",
            "Set-Cookie": "s=2",
            "X-ATS-Signature": "sha256=ab",
            "X-Api-Key": "k",
            "X-Upstream-Token": "t",
            "X-Client-Secret": "c",
            "X-DB-Password": "p",
            "Accept": "application/json",
            "X-Actor-ID": "alice",
        }
    )
    kept = {k: v for k, v in shown.items() if v != redact.MASK}
    assert kept == {"Accept": "application/json", "X-Actor-ID": "alice"}
    assert redact.headers([("authorization", "Bearer z")]) == {"authorization": "***"}
