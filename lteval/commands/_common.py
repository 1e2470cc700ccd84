"""Shared pieces of the CLI commands: consoles, error mapping, common options."""

from __future__ import annotations

import functools
import importlib.util
from typing import Callable, TypeVar

import typer
from rich.console import Console

from lteval.errors import LtevalError, MissingExtraError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable)


#: What ``pip install 'lteval[train]'`` adds (pyproject.toml); training commands need all of them.
TRAIN_MODULES = ("torch", "torchvision", "timm")


def train_extra_error(command: str, missing) -> MissingExtraError:
    """The one message of a training command run without ``lteval[train]``."""
    return MissingExtraError(f"'lteval {command}' needs the training extra ({', '.join(missing)} not "
                             f"installed): pip install 'lteval[train]'")


def require_train(command: str) -> None:
    """Raise :class:`MissingExtraError` naming ``command`` unless torch, torchvision and timm are
    installed. Checked before a command does anything, so it leaves nothing behind."""
    missing = [m for m in TRAIN_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise train_extra_error(command, missing)


def guarded(fn: F) -> F:
    """Run a command body; turn any :class:`LtevalError` into one message and its exit code
    (a missing training dependency met on the way becomes the same message as ``require_train``)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ModuleNotFoundError as e:
            if (e.name or "").split(".")[0] not in TRAIN_MODULES:
                raise
            err = train_extra_error(_command_name(fn), [e.name])
            _print_error(err)
            raise typer.Exit(err.exit_code) from None
        except LtevalError as e:
            _print_error(e)
            raise typer.Exit(e.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _command_name(fn) -> str:
    """'baseline show' for ``show_command`` in ``lteval.commands.baseline``; 'demo' for ``demo_command``."""
    group = fn.__module__.rsplit(".", 1)[-1]
    cmd = fn.__name__.removesuffix("_command").removesuffix("_cmd")
    return group if cmd == group else f"{group} {cmd}"


def _print_error(e: LtevalError) -> None:
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(str(e))}", markup=True, highlight=False,
                      soft_wrap=True)


def json_to_stdout(json_out) -> bool:
    """Whether a ``--json`` value asks for JSON on standard output (``-``) instead of tables."""
    return json_out is not None and str(json_out) == "-"


def check_json_out(json_out, force: bool) -> None:
    """Refuse an existing ``--json`` file unless ``force``, before any work is done."""
    from lteval.io.atomic import check_writable

    if json_out is not None and not json_to_stdout(json_out):
        check_writable(json_out, force)


def echo_json(obj) -> None:
    """Print ``obj`` as the JSON of ``--json -`` (indented, strict: no NaN)."""
    import json

    typer.echo(json.dumps(obj, indent=2, allow_nan=False))


def write_json_out(path, obj, force: bool) -> None:
    """Write ``obj`` to the ``--json`` file ``path`` atomically and say so on stderr."""
    from lteval.io.atomic import write_json_atomic

    write_json_atomic(path, obj, force=force)
    err_console.print(f"wrote {path}", highlight=False)


TASK_HELP = ("Task: 'cxrlt2026-task1' (30 findings), 'cxrlt2026-task2' (6 unseen findings), "
             "or the path of a class-list file (one class name a line).")
