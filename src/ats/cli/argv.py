"""Global options anywhere on the line: ``ats --actor-id x claim 5`` ≡ ``ats claim 5 --actor-id x``.

Click only accepts a group's options before the subcommand, so before parsing we move every
global option (with its value) to the front. To avoid stealing a command's own values — say
``ats create t --description -v`` — the walk follows the click command tree and steps over the
value of each option the current command declares.
"""

from __future__ import annotations

from typing import Any

# The root callback declares exactly these (cli/app.py); a test keeps the two in step.
GLOBAL_VALUE_OPTIONS = frozenset(
    {"-u", "--url", "-f", "--format", "--org", "--project", "--actor-type", "--actor-id",
     "--actor-name"}
)  # fmt: skip
GLOBAL_FLAGS = frozenset({"-v", "--verbose"})
_SHORT_VALUE = ("-u", "-f")  # may be glued to their value: -fjson


def _takes_value(command: Any, token: str) -> bool:
    # Duck-typed: typer ships its own private copy of click, so no isinstance on click classes.
    name = token.split("=", 1)[0]
    for param in getattr(command, "params", ()):
        names = (*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ()))
        if getattr(param, "param_type_name", "") == "option" and name in names:
            flag = getattr(param, "is_flag", False) or getattr(param, "count", False)
            return not flag and "=" not in token
    return False


def _global(token: str) -> tuple[bool, bool]:
    """(is a global option, its value is the next token)."""
    if token in GLOBAL_FLAGS:
        return True, False
    if token in GLOBAL_VALUE_OPTIONS:
        return True, True
    if token.startswith("--") and token.split("=", 1)[0] in GLOBAL_VALUE_OPTIONS:
        return True, False
    if token[:2] in _SHORT_VALUE and len(token) > 2:
        return True, False
    return False, False


def _subcommand(command: Any, name: str) -> Any:
    resolve = getattr(command, "resolve", None)  # the lazy root (cli/lazy.py)
    if resolve is not None:
        return resolve(name)
    return getattr(command, "commands", {}).get(name)


def hoist_global_options(argv: list[str], root: Any) -> list[str]:
    """argv with every global option moved before the first subcommand, order kept.

    ``root`` is the click command typer builds (``typer.main.get_command``).
    """
    hoisted: list[str] = []
    rest: list[str] = []
    command = root
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            rest.extend(argv[i:])
            break
        is_global, with_value = _global(token)
        if is_global:
            hoisted.extend(argv[i : i + 2] if with_value else [token])
            i += 2 if with_value else 1
            continue
        if token.startswith("-") and len(token) > 1:
            if _takes_value(command, token):
                rest.extend(argv[i : i + 2])
                i += 2
                continue
        elif (sub := _subcommand(command, token)) is not None:
            command = sub
        rest.append(token)
        i += 1
    return hoisted + rest
