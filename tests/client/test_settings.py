"""Settings priority: flags > env > nearest .ats/config > ~/.ats/config > defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ats.config import Overrides, load_settings
from ats.errors import InvalidInput
from ats.models import Actor, ActorType


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def home() -> Path:
    return Path(os.environ["HOME"])


def test_defaults_point_at_a_local_server_as_claude_code() -> None:
    s = load_settings()
    assert s.url == "http://127.0.0.1:8765"
    assert s.actor == Actor(ActorType.AGENT, "claude-code", "Claude Code")
    assert (s.organization, s.project, s.channel) == ("default", "main", None)
    assert s.scope is None  # unscoped routes: list spans every project


def test_each_layer_overrides_the_one_below(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        home() / ".ats/config",
        {"url": "http://home:1", "organization": "h-org", "project": "h-proj", "channel": "h",
         "actor": {"type": "human", "id": "h-id", "name": "H"}},
    )  # fmt: skip
    assert load_settings().url == "http://home:1"
    assert load_settings().actor == Actor(ActorType.HUMAN, "h-id", "H")

    write(isolated / ".ats/config", {"url": "http://proj:2", "project": "p-proj"})
    s = load_settings()
    assert (s.url, s.organization, s.project, s.channel) == (
        "http://proj:2",
        "h-org",
        "p-proj",
        "h",
    )

    monkeypatch.setenv("ATS_URL", "http://env:3")
    monkeypatch.setenv("ATS_ACTOR_ID", "env-id")
    s = load_settings()
    assert s.url == "http://env:3"
    assert (s.actor.type, s.actor.id, s.actor.name) == (ActorType.HUMAN, "env-id", "H")

    s = load_settings(Overrides(url="http://flag:4", actor_type="system"))
    assert s.url == "http://flag:4"
    assert s.actor.type is ActorType.SYSTEM
    assert s.scope == ("h-org", "p-proj")


def test_project_file_is_found_in_a_parent_directory(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(isolated / ".ats/config", {"organization": "acme", "project": "web"})
    deep = isolated / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    s = load_settings()
    assert s.scope == ("acme", "web")
    assert s.project_file == path.resolve()


def test_home_config_is_not_taken_for_a_project_file(monkeypatch: pytest.MonkeyPatch) -> None:
    write(home() / ".ats/config", {"project": "mine"})
    monkeypatch.chdir(home())
    s = load_settings()
    assert s.project == "mine"
    assert s.project_file is None  # so `project switch` creates ./.ats/config instead


def test_home_override_is_respected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other-home"
    write(other / ".ats/config", {"url": "http://other:9"})
    monkeypatch.setenv("HOME", str(other))
    assert load_settings().url == "http://other:9"


def test_custom_actor_id_without_a_name_is_named_after_itself() -> None:
    assert load_settings(Overrides(actor_id="bot-7")).actor.name == "bot-7"


def test_trailing_slash_of_url_is_dropped() -> None:
    assert load_settings(Overrides(url="http://x:1/")).url == "http://x:1"


def test_malformed_config_names_the_file(isolated: Path) -> None:
    path = isolated / ".ats/config"
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.raises(InvalidInput, match="config: not valid JSON"):
        load_settings()


def test_unknown_actor_type_is_refused() -> None:
    with pytest.raises(InvalidInput, match="actor type 'robot'"):
        load_settings(Overrides(actor_type="robot"))
