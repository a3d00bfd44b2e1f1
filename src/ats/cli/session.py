"""What a command needs: global options, resolved settings, one way to call the server, output.

``Session.call`` is the CLI's single ``asyncio.run`` entry: it opens an ``AsyncClient``, runs one
coroutine with it, and hands back both the typed result and the JSON bodies the server sent, so
``-f json`` can print them untouched.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, TypeVar

import typer

from ats.cli.options import GlobalOptions, OutputFormat, global_options
from ats.client import AsyncClient, capture_json
from ats.config import Overrides, Settings, load_settings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Reply(Generic[T]):
    value: T
    bodies: list[Any]  # every JSON body received, in order

    @property
    def raw(self) -> Any:
        """The last JSON body the server sent."""
        return self.bodies[-1] if self.bodies else None


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """The one place the CLI enters asyncio."""
    return asyncio.run(coro)


def trace(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Session:
    def __init__(self, options: GlobalOptions) -> None:
        self.options = options

    @cached_property
    def settings(self) -> Settings:
        o = self.options
        return load_settings(
            Overrides(
                url=o.url,
                organization=o.org,
                project=o.project,
                actor_type=o.actor_type,
                actor_id=o.actor_id,
                actor_name=o.actor_name,
            )
        )

    @property
    def json(self) -> bool:
        return self.options.format is OutputFormat.JSON

    def client(self) -> AsyncClient:
        """A client on the resolved settings (tracing requests with -v); the caller closes it."""
        tracer = trace if self.options.verbose else None
        return AsyncClient.from_settings(self.settings, trace=tracer)

    def call(self, operation: Callable[[AsyncClient], Awaitable[T]]) -> Reply[T]:
        """Run ``operation`` against the server; AtsError propagates to main()."""
        _ = self.settings  # resolved (bad config reported) before entering asyncio

        async def go() -> Reply[T]:
            async with self.client() as client:
                with capture_json() as bodies:
                    value = await operation(client)
            return Reply(value, bodies)

        return run_async(go())

    def show(self, document: Any, table: Callable[[], None]) -> None:
        """Print ``document`` as the one JSON document on stdout, or draw the table."""
        if self.json:
            print_json(document)
        else:
            table()


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def session(ctx: typer.Context) -> Session:
    return Session(global_options(ctx.find_root().obj))
