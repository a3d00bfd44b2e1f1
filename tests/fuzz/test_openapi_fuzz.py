"""Every operation of /openapi.json, fuzzed against a real ``ats serve`` on each backend.

Per operation, schemathesis runs its examples, coverage (boundary and schema-violating values)
and fuzzing phases, in both generation modes. Every response must pass the checks in
:mod:`tests.fuzz.checks`: no 5xx, no 422, errors as ``{"error": …}`` JSON, and statuses, content
types and bodies as the document describes them. A failure prints the curl command that
reproduces it; the run is seeded (:mod:`tests.fuzz.settings`), so rerunning replays it.

Schemathesis parametrizes at collection time, before any server runs, so the document is built
by the app factory in-process; the first test proves it is the one the live server serves.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.generation.case import Case

from ats.server.app import create_app
from tests.fuzz.checks import error_body
from tests.fuzz.settings import EXAMPLES, Tally, fuzz_config

# Never opened: building the document needs no database.
DOCUMENT: dict[str, Any] = create_app("sqlite:////nonexistent/ats-fuzz.db").openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=fuzz_config())

pytestmark = [pytest.mark.fuzz]


def test_the_fuzzed_document_is_the_served_one(fuzz_server: str) -> None:
    assert httpx.get(f"{fuzz_server}/openapi.json").json() == DOCUMENT


@schema.parametrize()
@pytest.mark.timeout(max(120, EXAMPLES * 3))
def test_every_operation(case: Case, fuzz_server: str, tally: Tally) -> None:
    response = case.call(base_url=fuzz_server)
    tally.add(case.operation.label, response.status_code)
    case.validate_response(response, additional_checks=[error_body])
