"""What every response must satisfy (SPEC §3, §10): the checks the fuzz tier runs.

Schemathesis' own checks cover the documented side — status codes, content types and bodies as
the OpenAPI document describes them, and schema-violating input answered with a 4xx. The house
rule that no document states goes here: an error is JSON with an ``"error"`` string, and 422 is
never used (bad input is 400).
"""

from __future__ import annotations

import json
from typing import Any

from schemathesis import CheckContext, Response
from schemathesis.generation.case import Case

# Endless event streams: read briefly, never to the end.
STREAM_PATHS = r"/(events|feed)/stream$"

CHECKS: dict[str, Any] = {
    "not_a_server_error": {"expected-statuses": ["2xx", "4xx"]},
    "status_code_conformance": {"enabled": True},
    "content_type_conformance": {"enabled": True},
    "response_schema_conformance": {"enabled": True},
    "response_headers_conformance": {"enabled": True},
    # Schema-violating input: refused as bad (400), missing (404), in a refused state (409), too
    # large (413) or sent with a method the path does not take (405). Never 422, never 5xx.
    "negative_data_rejection": {"expected-statuses": ["400", "404", "405", "409", "413"]},
    # Off: much schema-valid input is rightly refused by state or meaning the document cannot
    # state ("since" beyond the newest event, an unknown project, an unparsable time). Run
    # by hand now and then (it found the blank title, text parts, nulls and 60000.0 cases).
    "positive_data_acceptance": {"enabled": False},
    "unsupported_method": {"enabled": True},
    "allow_header_conformance": {"enabled": True},
    "missing_required_header": {"enabled": True},
    # No authentication here (--auth off on loopback). max_response_time stays unset: tests
    # never assert timings.
    "ignored_auth": {"enabled": False},
    # Stateful checks: they need the stateful phase, which the pytest integration does not run.
    "use_after_free": {"enabled": False},
    "ensure_resource_availability": {"enabled": False},
    "object_level_authorization": {"enabled": False},
}


def error_body(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx/5xx is ``application/json`` ``{"error": "<text>", …}``; 422 never happens."""
    status = response.status_code
    assert status != 422, "422 answered: bad input must be 400 (SPEC §3)"
    if status < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/json"), (
        f"{status} answered with Content-Type {content_type!r}, not JSON"
    )
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{status} body is not JSON: {response.content[:200]!r}") from exc
    assert isinstance(body, dict), f"{status} body is not a JSON object: {body!r}"
    assert isinstance(body.get("error"), str) and body["error"], (
        f'{status} body has no "error" string: {body!r}'
    )
    return True
