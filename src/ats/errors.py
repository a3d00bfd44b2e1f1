"""The one error hierarchy of ATS.

Raised by the store and the service, turned into ``{"error": ...}`` responses by one server
handler, turned back into the same classes by the client, and into exit codes by the CLI::

    AtsError                  500  anything unexpected
    ├── InvalidInput          400  bad input; the message names the field
    ├── Unauthorized          401  missing or unknown credentials
    ├── Forbidden             403  credentials do not allow this
    ├── NotFound              404  no such task / message / project / route
    ├── MethodNotAllowed      405  route exists, method does not
    ├── Conflict              409  refused status transition, duplicate slug, stale lease token
    ├── Gone                  410  events after the asked id are no longer kept (``oldest`` says
    │                              which is the first still kept: resume after ``oldest - 1``)
    ├── PayloadTooLarge       413  body over the size limit
    └── Unavailable           503  the server (client side: cannot reach it) or database is down
"""

from __future__ import annotations

from typing import Any, ClassVar


class AtsError(Exception):
    """Base of every error ATS raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, **self.details}


class InvalidInput(AtsError):
    status = 400
    code = "invalid"


class Unauthorized(AtsError):
    status = 401
    code = "unauthorized"


class Forbidden(AtsError):
    status = 403
    code = "forbidden"


class NotFound(AtsError):
    status = 404
    code = "not_found"


class MethodNotAllowed(AtsError):
    status = 405
    code = "method_not_allowed"


class Conflict(AtsError):
    status = 409
    code = "conflict"


class Gone(AtsError):
    status = 410
    code = "gone"


class PayloadTooLarge(AtsError):
    status = 413
    code = "too_large"


class Unavailable(AtsError):
    status = 503
    code = "unavailable"


_BY_CODE: dict[str, type[AtsError]] = {
    cls.code: cls
    for cls in (
        AtsError,
        InvalidInput,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        Gone,
        PayloadTooLarge,
        Unavailable,
    )
}
_BY_STATUS: dict[int, type[AtsError]] = {cls.status: cls for cls in _BY_CODE.values()}


def error_from_response(status: int, body: Any) -> AtsError:
    """Rebuild the exception the server raised from its JSON error body."""
    message = f"HTTP {status}"
    cls: type[AtsError] | None = None
    details: dict[str, Any] = {}
    if isinstance(body, dict):
        message = str(body.get("error", message))
        code = body.get("code")
        if isinstance(code, str):
            cls = _BY_CODE.get(code)
        details = {k: v for k, v in body.items() if k not in ("error", "code")}
    if cls is None:
        cls = _BY_STATUS.get(status, AtsError)
    return cls(message, **details)
