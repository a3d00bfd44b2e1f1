"""The three ways to do a task: a subprocess, an HTTP call, a Python callable.

Each returns :class:`Done` or :class:`Failed` and never raises for a failure of the work itself.
Cancellation (shutdown, a lost lease, a task cancelled by a person) propagates after the work is
stopped: a child process group gets SIGTERM, then SIGKILL after the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import os
import shutil
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, assert_never

import httpx

from ats import redact
from ats.dispatch.prompt import UnsafeArgument, Work, render_argv, split_command
from ats.dispatch.settings import ExecutorKind, ExecutorSpec
from ats.errors import InvalidInput

STDERR_TAIL = 2000  # characters of stderr kept for the failure reason
MAX_OUTPUT = 512 * 1024  # characters of stdout kept as the result (the server takes 1 MiB)


@dataclass(frozen=True, slots=True)
class Done:
    outputs: list[Any]


@dataclass(frozen=True, slots=True)
class Failed:
    """``reason`` says what went wrong (exit 3, timed out); ``detail`` is what the work said
    (stderr tail, exception text, HTTP answer), which may quote the task's content."""

    reason: str
    detail: str = ""
    timed_out: bool = False
    final: bool = False  # running it again cannot help: fail now, whatever attempts are left

    @property
    def full(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


Result = Done | Failed


class Executor(Protocol):
    def describe(self) -> str: ...

    async def aclose(self) -> None: ...

    async def run(self, work: Work, env: Mapping[str, str], time_limit: float | None) -> Result: ...


def _timeout_reason(timeout: float | None) -> str:
    return f"timed out after {timeout:g}s"


# -- command ---------------------------------------------------------------------------------


class CommandExecutor:
    def __init__(self, command: str, *, kill_grace: float = 10.0) -> None:
        self.argv = split_command(command)
        self.kill_grace = kill_grace
        program = self.argv[0]
        found = shutil.which(program)
        if found is None:
            raise InvalidInput(f"command not found: {program}")
        self.program = found

    def describe(self) -> str:
        return f"command {' '.join(self.argv)}"

    async def aclose(self) -> None:
        pass

    async def run(self, work: Work, env: Mapping[str, str], time_limit: float | None) -> Result:
        try:
            argv = render_argv(self.argv, work)
        except UnsafeArgument as exc:
            return Failed(exc.reason, exc.value, final=True)
        # A session of its own: the whole process group (the child and what it starts) is
        # signalled on timeout and shutdown, not only the direct child.
        try:
            proc = await asyncio.create_subprocess_exec(
                self.program,
                *argv[1:],
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, **env},
                start_new_session=True,
            )
        except OSError as exc:  # removed or no longer executable since the preflight
            return Failed(f"cannot start {self.program}", exc.strerror or str(exc))
        try:
            async with asyncio.timeout(time_limit):
                out, err = await proc.communicate(work.prompt.encode())
        except TimeoutError:
            await self._stop(proc)
            return Failed(_timeout_reason(time_limit), timed_out=True)
        except BaseException:
            await asyncio.shield(self._stop(proc))
            raise
        stdout = out.decode("utf-8", errors="replace")
        if proc.returncode != 0:
            tail = err.decode("utf-8", errors="replace").strip()[-STDERR_TAIL:]
            code = proc.returncode
            what = f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
            return Failed(what, tail)
        if len(stdout) > MAX_OUTPUT:
            stdout = stdout[:MAX_OUTPUT] + f"\n[... {len(stdout) - MAX_OUTPUT} more characters]"
        return Done([stdout.rstrip("\n")])

    async def _stop(self, proc: asyncio.subprocess.Process) -> None:
        """SIGTERM the process group, SIGKILL it after the grace period, reap the child."""
        if proc.returncode is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(self.kill_grace):
                    await proc.wait()
            except TimeoutError:
                pass
        # The child may be gone while its own children linger in the group.
        _signal_group(proc.pid, signal.SIGKILL)
        await proc.wait()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


# -- http ------------------------------------------------------------------------------------


class HttpExecutor:
    def __init__(self, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            shown = redact.url(url)
            raise InvalidInput(f"the HTTP executor needs an http:// or https:// URL, got {shown}")
        self.url = url
        self.shown = redact.url(url)  # its query string often holds the receiver's token
        self._http = httpx.AsyncClient(timeout=None)

    def describe(self) -> str:
        return f"http {self.shown}"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def run(self, work: Work, env: Mapping[str, str], time_limit: float | None) -> Result:
        body = work.to_json()
        try:
            async with asyncio.timeout(time_limit):
                answer = await self._http.post(self.url, json=body, headers=dict(env))
        except TimeoutError:
            return Failed(_timeout_reason(time_limit), timed_out=True)
        except httpx.HTTPError as exc:
            detail = redact.text(str(exc)) or type(exc).__name__
            return Failed(f"HTTP request to {self.shown} failed", detail)
        if answer.status_code >= 300:
            return Failed(f"HTTP {answer.status_code}", answer.text[-STDERR_TAIL:])
        try:
            result = answer.json()
        except ValueError:
            return Failed(f"HTTP {answer.status_code} answer is not JSON", answer.text[:200])
        return Done(result if isinstance(result, list) else [result])


# -- python ----------------------------------------------------------------------------------


class PythonExecutor:
    """``module:function`` called with the task as a dict; sync functions run in a thread.

    A sync function that outlives its timeout cannot be killed (Python has no way to stop a
    thread): the task is reported as timed out and the thread finishes on its own.
    """

    def __init__(self, target: str) -> None:
        module_name, _, name = target.partition(":")
        if not module_name or not name:
            raise InvalidInput(f"--python needs module:function, got {target!r}")
        if "" not in sys.path and os.getcwd() not in sys.path:
            # Like ``python -m``: a module next to where the dispatcher was started is found.
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # an import can raise anything; report it, never a traceback
            raise InvalidInput(f"cannot import {module_name}: {exc}") from None
        function = getattr(module, name, None)
        if not callable(function):
            raise InvalidInput(f"{module_name} has no callable {name!r}")
        self.target = target
        self.function: Callable[..., Any] = function

    def describe(self) -> str:
        return f"python {self.target}"

    async def aclose(self) -> None:
        pass

    async def run(self, work: Work, env: Mapping[str, str], time_limit: float | None) -> Result:
        argument = {**work.to_json(), "env": dict(env)}
        try:
            async with asyncio.timeout(time_limit):
                if inspect.iscoroutinefunction(self.function):
                    result = await self.function(argument)
                else:
                    result = await asyncio.to_thread(self.function, argument)
                    if inspect.isawaitable(result):
                        result = await result
        except TimeoutError:
            return Failed(_timeout_reason(time_limit), timed_out=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return Failed(type(exc).__name__, str(exc))
        if result is None:
            return Done([])
        return Done(result if isinstance(result, list) else [result])


def build(spec: ExecutorSpec, *, kill_grace: float) -> Executor:
    """The executor for ``spec``; InvalidInput when it cannot work (preflight)."""
    match spec.kind:
        case ExecutorKind.COMMAND:
            return CommandExecutor(spec.target, kill_grace=kill_grace)
        case ExecutorKind.HTTP:
            return HttpExecutor(spec.target)
        case ExecutorKind.PYTHON:
            return PythonExecutor(spec.target)
        case _:
            assert_never(spec.kind)
