"""Request bodies (pydantic at the edge only). Every limit here names its field on failure."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)
from pydantic.config import JsonDict

from ats.models import DEFAULT_LEASE_MS, DEFAULT_PRIORITY, Status
from ats.store import NewTask

MAX_TITLE = 500
MAX_DESCRIPTION = 100_000
MAX_BULK = 1000
MAX_LEASE_MS = 7 * 24 * 3600 * 1000


def _whole(value: Any) -> Any:
    """JSON has one number type, and JSON Schema counts ``60000.0`` as an integer: take it as
    ``60000``. Other floats (and integers past 64 bits) stay floats, which StrictInt refuses."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


# An integer as JSON Schema means it: no strings, no booleans, no fractions. Outermost, after
# any bounds: inside them, pydantic would document the bounds as "ge"/"le", not "minimum".
WHOLE = BeforeValidator(_whole)
Integer = Annotated[StrictInt, WHOLE]

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s\x00-\x1f]+$")]
Priority = Annotated[StrictInt, Field(ge=1, le=10), WHOLE]
LeaseMs = Annotated[StrictInt, Field(ge=1, le=MAX_LEASE_MS), WHOLE]
TaskRef = Annotated[StrictInt, Field(ge=1, le=2**63 - 1), WHOLE]
Slug = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


# What _title enforces, told to the OpenAPI document (a blank title is refused).
_TITLE_SCHEMA = {"minLength": 1, "pattern": r"\S"}


def _title(value: str) -> str:
    if not value.strip():
        raise ValueError("title must not be empty")
    return value


class CreateTask(Body):
    title: Annotated[StrictStr, Field(max_length=MAX_TITLE, json_schema_extra=_TITLE_SCHEMA)]
    description: Annotated[StrictStr, Field(max_length=MAX_DESCRIPTION)] | None = None
    type: Name | None = None
    channel: Name | None = None
    priority: Priority | None = None
    payload: dict[str, Any] | None = None
    depends_on: list[TaskRef] | None = Field(default=None, max_length=1000)
    max_attempts: Annotated[StrictInt, Field(ge=1, le=1000), WHOLE] | None = None

    _check_title = field_validator("title")(_title)

    def to_new(self) -> NewTask:
        payload = self.payload or {}
        deps = list(self.depends_on or [])
        if not deps:
            deps = legacy_depends_on(payload)
        return NewTask(
            title=self.title,
            description=self.description,
            type=self.type or "task",
            channel=self.channel or "default",
            priority=self.priority if self.priority is not None else DEFAULT_PRIORITY,
            payload=payload,
            depends_on=tuple(dict.fromkeys(deps)),
            max_attempts=self.max_attempts,
        )


def legacy_depends_on(payload: dict[str, Any]) -> list[int]:
    """``payload.depends_on``: ids as ints or strings (``"#12"`` too), a list or a scalar."""
    raw = payload.get("depends_on")
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    ids: list[int] = []
    for item in items:
        text = str(item).strip().lstrip("#")
        digits = text.isascii() and text.isdigit()  # not "²", which isdigit() takes
        if isinstance(item, bool) or not digits or not 0 < int(text) < 2**63:
            from ats.errors import InvalidInput

            raise InvalidInput(
                f"payload.depends_on: {item!r} is not a task id", field="payload.depends_on"
            )
        ids.append(int(text))
    return ids


class BulkCreate(Body):
    tasks: list[CreateTask] = Field(min_length=1, max_length=MAX_BULK)


def _never_null(*names: str) -> Any:
    """Document ``names`` as "absent or a value": the route refuses an explicit null."""

    def fix(schema: dict[str, Any]) -> None:
        for name in names:
            prop = schema["properties"][name]
            kept = [b for b in prop.pop("anyOf") if b != {"type": "null"}]
            prop.update(kept[0])

    return fix


class UpdateTask(Body):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra=_never_null("title", "priority", "status", "type", "channel", "payload"),
    )
    title: (
        Annotated[StrictStr, Field(max_length=MAX_TITLE, json_schema_extra=_TITLE_SCHEMA)] | None
    ) = None
    description: Annotated[StrictStr, Field(max_length=MAX_DESCRIPTION)] | None = None
    priority: Priority | None = None
    status: Status | None = None
    type: Name | None = None
    channel: Name | None = None
    payload: dict[str, Any] | None = None
    depends_on: list[TaskRef] | None = Field(default=None, max_length=1000)

    @field_validator("title")
    @classmethod
    def _check_title(cls, value: str | None) -> str | None:
        return None if value is None else _title(value)


class ClaimBody(Body):
    lease_duration: LeaseMs = DEFAULT_LEASE_MS
    lease_token: Integer | None = None


class CompleteBody(Body):
    outputs: Any = None
    lease_token: Integer | None = None


class CompleteItem(CompleteBody):
    id: TaskRef


class CompleteMany(Body):
    tasks: list[CompleteItem] = Field(min_length=1, max_length=100)


class ReasonBody(Body):
    reason: Annotated[StrictStr, Field(max_length=MAX_DESCRIPTION)] | None = None
    lease_token: Integer | None = None


class ReleaseBody(ReasonBody):
    delay_ms: Annotated[StrictInt, Field(ge=0, le=MAX_LEASE_MS), WHOLE] = 0
    # The holder did not really try the task (a graceful shutdown): give back the attempt
    # the claim counted, so restarts never push a task towards max_attempts.
    refund_attempt: StrictBool = False


class ClaimNextBody(Body):
    channel: Name | None = None
    type: Name | None = None
    lease_duration: LeaseMs = DEFAULT_LEASE_MS
    limit: Annotated[StrictInt, Field(ge=1, le=100), WHOLE] = 1


# What to_parts enforces, told to the OpenAPI document: a text part (the default type) carries
# a string; a message has parts, or content (a string unless its type says otherwise).
_TEXT_OR_TYPED: JsonDict = {
    "anyOf": [
        {"properties": {"content": {"type": "string"}}},
        {"required": ["type"], "properties": {"type": {"not": {"const": "text"}}}},
    ]
}
_PARTS_OR_CONTENT: JsonDict = {
    "anyOf": [
        {"required": ["parts"], "properties": {"parts": {"type": "array"}}},
        {"required": ["content"], "properties": {"content": {"type": "string"}}},
        {
            "required": ["content", "type"],
            "properties": {
                "content": {"not": {"type": "null"}},
                "type": {"not": {"const": "text"}},
            },
        },
    ]
}


class Part(Body):
    model_config = ConfigDict(extra="allow", json_schema_extra=_TEXT_OR_TYPED)
    type: Annotated[StrictStr, Field(min_length=1, max_length=50)] = "text"
    content: Any


class MessageBody(Body):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_PARTS_OR_CONTENT)
    parts: list[Part] | None = Field(default=None, min_length=1, max_length=100)
    content: Any = None
    type: Annotated[StrictStr, Field(min_length=1, max_length=50)] = "text"

    def to_parts(self) -> list[dict[str, Any]]:
        from ats.errors import InvalidInput

        if self.parts:
            parts = [p.model_dump() for p in self.parts]
        elif self.content is not None:
            parts = [{"type": self.type, "content": self.content}]
        else:
            raise InvalidInput("parts: a message needs parts (or content)", field="parts")
        for part in parts:
            if part["type"] == "text" and not isinstance(part["content"], str):
                raise InvalidInput("parts.content: a text part needs string content", field="parts")
        return parts


class CreateOrg(Body):
    slug: Slug
    name: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None


class UpdateOrg(Body):
    slug: Slug | None = None
    name: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None


class CreateProject(CreateOrg):
    description: Annotated[StrictStr, Field(max_length=MAX_DESCRIPTION)] | None = None


class UpdateProject(UpdateOrg):
    description: Annotated[StrictStr, Field(max_length=MAX_DESCRIPTION)] | None = None
