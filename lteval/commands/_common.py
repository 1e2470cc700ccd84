"""Shared pieces of the CLI commands: consoles, error mapping, common options."""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import typer
from rich.console import Console

from lteval.errors import LtevalError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable)


def guarded(fn: F) -> F:
    """Run a command body; turn any :class:`LtevalError` into one message and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LtevalError as e:
            err_console.print(f"[bold red]error:[/] {e}", markup=True, highlight=False,
                              soft_wrap=True)
            raise typer.Exit(e.exit_code) from None

    return wrapper  # type: ignore[return-value]


TASK_HELP = ("Task: 'cxrlt2026-task1' (30 findings), 'cxrlt2026-task2' (6 unseen findings), "
             "or the path of a class-list file (one class name a line).")
