"""What a validation found: problems, grouped repeats, and the three output formats."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

@dataclass
class Problem:
    """One problem: a stable ``code``, a message, 1-based ``line`` and ``column`` name if known.

    ``file`` is set for problems inside a zip member (the member's name). ``count`` is
    the number of problems a grouped summary stands for (1 for an ordinary problem).
    """

    code: str
    message: str
    line: int | None = None
    column: str | None = None
    severity: str = "error"
    file: str | None = None
    count: int = 1

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "line": self.line,
                "column": self.column}

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)


@dataclass
class ValidationResult:
    """Outcome of validating one submission; ``valid`` is true when there are no errors."""

    file: str
    task: str
    n_rows: int = 0
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    member: str | None = None
    strict: bool = False
    bom: bool = False
    n_ids_expected: int | None = None

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def codes(self) -> set[str]:
        return {p.code for p in self.errors} | {p.code for p in self.warnings}

    def to_dict(self) -> dict:
        d = {"valid": self.valid, "task": self.task, "n_rows": self.n_rows,
             "errors": [p.to_dict() for p in self.errors],
             "warnings": [p.to_dict() for p in self.warnings],
             "file": self.file}
        if self.member is not None:
            d["member"] = self.member
        return d


class Collector:
    """Gathers problems; keeps the first ``max_examples`` of each code, counts the rest."""

    def __init__(self, max_examples: int = 5, file: str | None = None) -> None:
        self.max_examples = max(1, int(max_examples))
        self.file = file
        self._groups: dict[tuple[str, str], list] = {}  # (severity, code) -> [examples, n_more, first, last, unit]

    def add(self, severity: str, code: str, message: str, line: int | None = None,
            column: str | None = None, unit: str = "rows") -> None:
        g = self._groups.get((severity, code))
        if g is None:
            g = self._groups[(severity, code)] = [[], 0, None, None, unit]
        if len(g[0]) < self.max_examples:
            g[0].append(Problem(code, message, line, column, severity, self.file))
            return
        g[1] += 1
        if line is not None:
            if g[2] is None:
                g[2] = line
            g[3] = line

    def wants_example(self, severity: str, code: str) -> bool:
        """Whether the next problem of this code would be shown in full (else only counted)."""
        g = self._groups.get((severity, code))
        return g is None or len(g[0]) < self.max_examples

    def count(self, severity: str, code: str, line: int | None, unit: str = "rows",
              n: int = 1, last: int | None = None) -> None:
        """Count ``n`` more problems of a code whose examples are already full.

        ``line`` is the first of them, ``last`` the last (default: ``line``).
        """
        g = self._groups[(severity, code)]
        g[1] += n
        if line is not None:
            last = line if last is None else last
            g[2] = line if g[2] is None else min(g[2], line)
            g[3] = last if g[3] is None else max(g[3], last)
        g[4] = unit

    def has_errors(self) -> bool:
        return any(sev == "error" for sev, _ in self._groups)

    def problems(self, severity: str) -> list[Problem]:
        """Problems of one severity: groups ordered by the line of their first example (those
        without a line last, in the order found), examples first, then the summary."""
        out: list[Problem] = []
        groups = [(k, g) for k, g in self._groups.items() if k[0] == severity]
        big = float("inf")
        groups.sort(key=lambda kg: kg[1][0][0].line if kg[1][0] and kg[1][0][0].line is not None
                    else big)
        for (sev, code), (examples, n_more, first, last, unit) in groups:
            out.extend(examples)
            if n_more:
                span = f" (lines {first}-{last})" if first is not None and first != last else ""
                noun = unit[:-1] if n_more == 1 and unit.endswith("s") else unit
                out.append(Problem(code, f"... and {n_more:,} more {noun} like this{span}",
                                   first, None, severity, self.file, count=n_more))
        return out


# -- output formats -------------------------------------------------------------------------

def render_text(result: ValidationResult) -> str:
    """Human-readable report: a verdict line, then one line per problem."""
    n_err = sum(p.count for p in result.errors)
    n_warn = sum(p.count for p in result.warnings)
    name = result.file + (f" ({result.member})" if result.member else "")
    verdict = "valid" if result.valid else "INVALID"
    counts = f"{result.n_rows:,} row{'s' if result.n_rows != 1 else ''}"
    if result.n_ids_expected is not None:
        counts += f" for {result.n_ids_expected:,} evaluation IDs"
    lines = [f"{name}: {verdict} - {counts}, {n_err:,} error{'s' if n_err != 1 else ''}, "
             f"{n_warn:,} warning{'s' if n_warn != 1 else ''} (task {result.task}"
             f"{', strict' if result.strict else ''})"]
    for label, probs in (("error", result.errors), ("warning", result.warnings)):
        for p in probs:
            where = p.where()
            lines.append(f"  {label:<7} {where + ': ' if where else ''}{p.message} [{p.code}]")
    return "\n".join(lines)


def render_json(results: list[ValidationResult]) -> str:
    """The JSON report: one object for one file, a list of objects for several."""
    if len(results) == 1:
        return json.dumps(results[0].to_dict(), indent=2, ensure_ascii=False)
    return json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False)


def _gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(s: str) -> str:
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")


def render_github(result: ValidationResult) -> str:
    """GitHub Actions workflow commands: ``::error file=...,line=...::message`` per problem."""
    lines = []
    for kind, probs in (("error", result.errors), ("warning", result.warnings)):
        for p in probs:
            props = [f"file={_gh_prop(result.file)}"]
            # a line number inside a zip member means nothing to GitHub: keep it in the message
            if p.line is not None and not result.member:
                props.append(f"line={p.line}")
            props.append(f"title={_gh_prop('lteval ' + p.code)}")
            where = []
            if result.member and p.file:
                where.append(p.file)
                if p.line is not None:
                    where.append(f"line {p.line}")
            if p.column is not None:
                where.append(f"column {p.column!r}")
            msg = (", ".join(where) + ": " if where else "") + p.message
            lines.append(f"::{kind} {','.join(props)}::{_gh_data(msg)}")
    n_err = sum(p.count for p in result.errors)
    lines.append(f"{result.file}: {'valid' if result.valid else 'INVALID'} "
                 f"({result.n_rows:,} rows, {n_err:,} errors, "
                 f"{sum(p.count for p in result.warnings):,} warnings)")
    return "\n".join(lines)
