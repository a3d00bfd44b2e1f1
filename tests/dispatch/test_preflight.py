"""A dispatcher that cannot work says why in one line and exits 2, before it claims anything;
settings come from flags > environment > TOML file > defaults."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from pydantic import BaseModel

from ats.dispatch import settings
from ats.dispatch.settings import ExecutorKind, Flags, load
from ats.errors import InvalidInput
from tests.conftest import running_server

from .bots import preflight

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once closed


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> object:
    db = tmp_path_factory.mktemp("db") / "ats.db"
    with running_server(f"sqlite:///{db}") as url:
        yield url


@pytest.mark.parametrize(
    ("args", "files", "expected"),
    [
        (["--command", "no-such-program-xyz"], {}, "command not found: no-such-program-xyz"),
        (["--python", "no_such_module_xyz:run"], {}, "cannot import no_such_module_xyz"),
        (["--python", "json"], {}, "--python needs module:function"),
        (["--python", "json:no_such"], {}, "json has no callable 'no_such'"),
        (["--http", "ftp://example.com/x"], {}, "needs an http:// or https:// URL"),
        (["--command", "true", "--http", "http://x"], {}, "choose one executor"),
        ([], {}, "no executor"),
        (["--command", "true", "--concurrency", "0"], {}, "concurrency must be at least 1"),
        (["--command", "true", "--log-format", "xml"], {}, "log format must be json or text"),
        (["--config", "bad.toml"], {"bad.toml": "channels = [\n"}, "is not valid TOML"),
        (
            ["--config", "typo.toml"],
            {"typo.toml": 'concurrancy = 2\n[executor]\ncommand = "true"\n'},
            "concurrancy: unknown key",
        ),
        (
            ["--config", "kind.toml"],
            {"kind.toml": '[executor]\nshell = "true"\n'},
            "executor.shell: unknown key",
        ),
        (["--config", "missing.toml"], {}, "missing.toml does not exist"),
    ],
)
async def test_bad_settings_exit_2_with_one_line(
    live_url: str, isolated: Path, args: list[str], files: dict[str, str], expected: str
) -> None:
    for name, text in files.items():
        (isolated / name).write_text(text)
    code, out, err = await preflight("-c", "w", *args, env={"ATS_URL": live_url})
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert expected in err
    assert err.startswith("ats dispatch: ")


async def test_unreachable_server_exits_2() -> None:
    url = _dead_url()
    code, out, err = await preflight("-c", "w", "--command", "true", env={"ATS_URL": url})
    assert out == ""
    assert code == 2
    assert "cannot reach the ATS server" in err and url in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


async def test_no_channel_exits_2(live_url: str) -> None:
    code, _, err = await preflight("--command", "true", env={"ATS_URL": live_url})
    assert code == 2 and "no channel to watch" in err


def test_flags_beat_env_beat_file_beat_defaults(tmp_path: Path) -> None:
    config = tmp_path / "d.toml"
    config.write_text(
        'channels = ["from-file"]\nconcurrency = 3\ntimeout = 2\nmax_attempts = 7\n'
        '[executor]\ncommand = "echo file"\n[limits]\ngpu = 1\n'
    )
    env = {"ATS_DISPATCH_CONCURRENCY": "5", "ATS_DISPATCH_CHANNELS": "e1, e2"}
    s = load(Flags(config=str(config), max_attempts=9), env=env, cwd=tmp_path)
    assert s.channels == ("e1", "e2")  # env over file
    assert s.concurrency == 5  # env over file
    assert s.max_attempts == 9  # flag over file
    assert s.timeout == 2.0  # file (an integer is fine for seconds)
    assert s.executor.kind is ExecutorKind.COMMAND and s.executor.target == "echo file"
    assert dict(s.limits) == {"gpu": 1}
    assert s.lease_ms == 300_000 and s.retry_backoff == 5.0  # defaults
    flagged = load(Flags(channels=("f",), http="http://h/run", config=str(config)), env=env)
    assert flagged.channels == ("f",) and flagged.executor.kind is ExecutorKind.HTTP


def test_the_config_file_is_found_up_the_tree(tmp_path: Path) -> None:
    (tmp_path / ".ats").mkdir()
    (tmp_path / ".ats" / "dispatch.toml").write_text('[executor]\npython = "m:f"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    s = load(Flags(channels=("c",)), env={}, cwd=deep)
    assert s.executor.kind is ExecutorKind.PYTHON
    assert s.config_file == tmp_path / ".ats" / "dispatch.toml"


def test_env_values_are_checked() -> None:
    with pytest.raises(InvalidInput, match="ATS_DISPATCH_TIMEOUT must be a number"):
        load(Flags(channels=("c",), command="true"), env={"ATS_DISPATCH_TIMEOUT": "soon"})
    with pytest.raises(InvalidInput, match="ATS_DISPATCH_LEAVE_LEASES must be true or false"):
        load(Flags(channels=("c",), command="true"), env={"ATS_DISPATCH_LEAVE_LEASES": "maybe"})


def test_the_example_file_is_valid() -> None:
    s = load(Flags(config=str(REPO / "examples" / "dispatch.toml")), env={})
    assert s.channels == ("builds", "docs")
    assert s.executor.kind is ExecutorKind.COMMAND
    assert s.concurrency == 4 and dict(s.limits) == {"gpu": 1}


def test_callback_policy_from_flags_env_and_file(tmp_path: Path) -> None:
    config = tmp_path / "d.toml"
    config.write_text(
        '[executor]\ncommand = "true"\n'
        '[callbacks]\nallow_private = true\nallow_hosts = ["hooks.internal", "10.1.0.0/16"]\n'
    )
    base = Flags(channels=("c",), config=str(config))
    s = load(base, env={})
    assert s.allow_private_callbacks and s.callback_allow_hosts == ("hooks.internal", "10.1.0.0/16")
    env = {"ATS_ALLOW_PRIVATE_CALLBACKS": "no", "ATS_CALLBACK_ALLOW_HOSTS": "a.test, b.test"}
    s = load(base, env=env)
    assert not s.allow_private_callbacks and s.callback_allow_hosts == ("a.test", "b.test")
    flags = Flags(
        channels=("c",), config=str(config), allow_private_callbacks=True,
        callback_allow_hosts=("c.test",),
    )  # fmt: skip
    s = load(flags, env=env)
    assert s.allow_private_callbacks and s.callback_allow_hosts == ("c.test",)
    assert s.callback_policy.hosts == frozenset({"c.test"})
    default = load(Flags(channels=("c",), command="true"), env={})
    assert not default.allow_private_callbacks and default.callback_allow_hosts == ()
    with pytest.raises(InvalidInput, match="not a URL"):
        load(Flags(channels=("c",), command="true", callback_allow_hosts=("http://x/",)), env={})


def test_the_example_file_documents_every_key() -> None:
    """Each key the file format accepts appears in examples/dispatch.toml (set or commented)."""
    text = (REPO / "examples" / "dispatch.toml").read_text()

    def keys(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
        found = []
        for name in model.model_fields:
            nested = getattr(settings, f"_{name.capitalize()}", None)
            if isinstance(nested, type) and issubclass(nested, BaseModel):
                found += keys(nested, f"{name}.")
            found.append((prefix, name))
        return found

    missing = [
        p + k
        for p, k in keys(settings._File)
        if not re.search(rf"^\s*#?\s*(\[{k}\]|{k}\s*=)", text, re.MULTILINE)
    ]
    assert missing == []
