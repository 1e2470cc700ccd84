"""Submissions: validate a CSV or platform zip, fix what is unambiguous, build one from predictions.

No torch here: validating starts in well under a second.
"""

from lteval.submission.codes import CODES, FIXABLE_CODES, PROBLEM_KINDS
from lteval.submission.evallist import read_eval_ids
from lteval.submission.fixup import FixResult, write_fixed
from lteval.submission.make import MadeSubmission, make_submission
from lteval.submission.result import (
    Problem, ValidationResult, render_github, render_json, render_text,
)
from lteval.submission.validate import validate_submission

__all__ = [
    "validate_submission", "ValidationResult", "Problem", "FIXABLE_CODES", "CODES", "PROBLEM_KINDS",
    "render_text", "render_json", "render_github",
    "read_eval_ids", "write_fixed", "FixResult", "make_submission", "MadeSubmission",
]
