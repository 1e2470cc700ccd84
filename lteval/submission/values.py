"""One probability as text: is it a number in [0, 1], and how many decimals does it give.

The validator's fast path accepts only the plain forms matched by
:data:`STRICT_NUMBER` / :data:`LOOSE_NUMBER`; everything else comes here, where
``check_value`` decides exactly, with a message a person can act on.
"""

from __future__ import annotations

import math
import re

#: Most decimals a value may be given to before the ``precision`` warning.
MAX_DECIMALS = 8

#: Regex fragments (no groups) matching only valid probabilities; used to build row regexes.
#: ``STRICT`` also guarantees at most 8 decimals; ``LOOSE`` allows any number of decimals and
#: e-notation with a negative exponent (value < 1 for any one-digit mantissa).
#: Digits are ASCII only (``[0-9]``): ``float()`` would accept other scripts' digits, CSV
#: readers on the platform would not.
#: Possessive repeats (``*+``, ``?+``) never give characters back: a number cannot end early
#: and still be followed by the delimiter, so the language is unchanged and matching is faster.
STRICT_NUMBER = r"(?:0(?:\.[0-9]{0,8}+)?+|1(?:\.0{0,8}+)?+|\.[0-9]{1,8}+)"
LOOSE_NUMBER = (r"(?:0(?:\.[0-9]*+)?+(?:[eE]-0*+[1-9][0-9]*+)?+|1(?:\.0*+)?+"
                r"|[1-9](?:\.[0-9]*+)?+[eE]-0*+[1-9][0-9]*+|\.[0-9]++)")

_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+")
_MISSING_MARKERS = {"na", "n/a", "nan", "null", "none", "nil", "-", "?", "#n/a", "missing"}
_BOOLEANS = {"true", "false", "yes", "no"}
_EXPECTED = "a probability in [0, 1] expected"


def decimals(text: str) -> int:
    """Decimal places a numeric string gives (``'1.5e-05'`` → 6, ``'0.50'`` → 2, ``'1'`` → 0)."""
    mantissa, _, exp = text.strip().lower().partition("e")
    frac = mantissa.partition(".")[2]
    try:
        shift = int(exp) if exp else 0
    except ValueError:
        shift = 0
    return max(len(frac) - shift, 0)


def check_value(raw: str) -> list[tuple[str, str, str]]:
    """Problems with one probability field, as ``(severity, code, message)`` tuples.

    Errors: ``empty-value``, ``not-a-number``, ``non-finite``, ``out-of-range``.
    Warnings: ``value-whitespace``, ``precision`` (more than 8 decimals).
    An empty list means the field is a valid probability.
    """
    out: list[tuple[str, str, str]] = []
    text = raw.strip()
    if text != raw and text:
        out.append(("warning", "value-whitespace", f"value {raw!r} has surrounding whitespace"))
    if not text:
        return [("error", "empty-value", f"empty value ({_EXPECTED})")]
    if _NUMBER.fullmatch(text) is None:
        low = text.lower()
        bare = low.lstrip("+-")
        if bare == "nan":
            msg = f"{text!r} is NaN ({_EXPECTED}; NaN cannot be ranked)"
            return [("error", "non-finite", msg)]
        if bare in ("inf", "infinity"):
            return [("error", "non-finite", f"{text!r} is infinite ({_EXPECTED})")]
        if low in _MISSING_MARKERS:
            return [("error", "empty-value", f"{text!r} marks a missing value ({_EXPECTED}; "
                                             "every image needs a score for every class)")]
        if _DECIMAL_COMMA.fullmatch(text):
            return [("error", "not-a-number",
                     f"{text!r} uses a decimal comma ({_EXPECTED}; write {text.replace(',', '.')!r})")]
        if text.endswith("%"):
            return [("error", "not-a-number", f"{text!r} is a percentage ({_EXPECTED}, not percent)")]
        if low in _BOOLEANS:
            return [("error", "not-a-number", f"{text!r} is a yes/no answer ({_EXPECTED}, "
                                              "a score, not a decision)")]
        shown = text if len(text) <= 40 else text[:37] + "..."
        return [("error", "not-a-number", f"{shown!r} is not a number ({_EXPECTED})")]
    value = float(text)
    if not math.isfinite(value):
        return [("error", "non-finite", f"{text!r} overflows to infinity ({_EXPECTED})")]
    if value < 0.0:
        out.append(("error", "out-of-range",
                    f"{text} is negative ({_EXPECTED}; raw logits? apply a sigmoid)"))
        return out
    if value > 1.0:
        hint = "percentages? divide by 100" if value <= 100 else "raw logits? apply a sigmoid"
        out.append(("error", "out-of-range", f"{text} is above 1 ({_EXPECTED}; {hint})"))
        return out
    n = decimals(text)
    if n > MAX_DECIMALS:
        out.append(("warning", "precision",
                    f"{text} is given to {n} decimals (more than {MAX_DECIMALS})"))
    return out


def parse_probability(raw: str) -> float:
    """The float value of a valid probability field; ``ValueError`` naming the problem otherwise."""
    for severity, _code, message in check_value(raw):
        if severity == "error":
            raise ValueError(message)
    return float(raw.strip())
