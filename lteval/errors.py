"""One family of user-facing errors.

Every failure a user can cause (bad file, bad flag, bad value) is raised as a
subclass of :class:`LtevalError`. The CLI catches exactly this family, prints
the message (no traceback) and exits with ``exit_code``.
"""

from __future__ import annotations


class LtevalError(Exception):
    """Base class of every user-facing error; ``exit_code`` is what the CLI returns."""

    exit_code = 1

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: str | None = None, code: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.code = code
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            col = str(self.column) if isinstance(self.column, str) else self.column  # np.str_ too
            where.append(f"column {col!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class InputError(LtevalError, ValueError):
    """A user-supplied file or array is malformed (exit code 1)."""


class UsageError(LtevalError):
    """The command was called wrongly: bad flag, unknown task, missing file (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration (baseline TOML, ``--set key=value``) is invalid (exit code 2)."""


class MissingExtraError(UsageError):
    """The command needs an optional part of lteval that is not installed, e.g. ``lteval[train]`` (exit code 2)."""


class OutputExistsError(UsageError):
    """Refusing to overwrite an existing output without ``--force`` (exit code 2)."""


def closest(name: str, candidates: list[str] | tuple[str, ...], n: int = 1) -> list[str]:
    """Up to ``n`` candidates closest to ``name`` (case-insensitive), for "did you mean" hints."""
    import difflib

    lowered = {c.lower(): c for c in candidates}
    hits = difflib.get_close_matches(name.lower().strip(), list(lowered), n=n, cutoff=0.6)
    return [lowered[h] for h in hits]


def did_you_mean(name: str, candidates) -> str:
    """`` (did you mean 'X'?)`` or an empty string."""
    hits = closest(name, list(candidates))
    return f" (did you mean {str(hits[0])!r}?)" if hits else ""
