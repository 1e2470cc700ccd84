"""The ``lteval`` command line: a thin typer shell over the library.

Each command lives in ``lteval/commands/<name>.py`` and exposes
``register(app)``. This module only assembles them, so the scoring and
validation commands start without importing torch or timm.
"""

from __future__ import annotations

import importlib
import sys

import typer

from lteval import __version__

#: Command modules, in the order ``lteval --help`` lists them.
COMMAND_MODULES = (
    "demo", "score", "rank", "validate", "calibrate", "data", "baseline", "ensemble",
    "report", "leaderboard",
)

app = typer.Typer(
    name="lteval",
    help=(
        "Benchmarking and evaluation for long-tailed multi-label chest X-ray "
        "classification (CXR-LT 2026): score prediction files exactly as the "
        "organisers do, validate submissions, train and post-train reference "
        "baselines, and compare runs in one HTML report."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"lteval {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the lteval version and exit."),
) -> None:
    """lteval: exact, fast evaluation and reference baselines for CXR-LT 2026."""


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        modname = f"lteval.commands.{name}"
        try:
            module = importlib.import_module(modname)
        except ModuleNotFoundError as e:  # a command not built yet is simply absent
            if e.name == modname:
                continue
            raise
        module.register(app)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
