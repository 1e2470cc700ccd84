"""Typer options and choices shared by several commands, each defined once.

Each ``*_option`` function returns a fresh ``typer.Option`` for a command's signature, so a
flag's name, short form, default and type are written in one place. The help text defaults
to the wording most commands use; a command that says more passes its own ``help``.
"""

from __future__ import annotations

from enum import Enum

import typer

from lteval.commands._common import TASK_HELP


class EmptyClass(str, Enum):
    """``--empty-class``: what a class without positives in the labels does to mAP / mF1."""

    zero = "zero"
    exclude = "exclude"


def task_option(help: str = TASK_HELP):
    """``--task/-t`` (default ``cxrlt2026-task1``): a built-in task name or a class-list path."""
    return typer.Option("cxrlt2026-task1", "--task", "-t", help=help)


def labels_option(help: str):
    """``--labels/-l`` (required): the labels CSV the predictions are scored against."""
    return typer.Option(..., "--labels", "-l", help=help, show_default=False)


def train_labels_option(help: str = "Training labels CSV for head/medium/tail groups."):
    """``--train-labels`` (optional path): training labels that define the groups."""
    return typer.Option(None, "--train-labels", help=help)


def counts_option(help: str = "Training counts file instead of --train-labels."):
    """``--counts`` (optional path): training counts instead of the training labels."""
    return typer.Option(None, "--counts", help=help)


def threshold_option(help: str = "Probability threshold for F1."):
    """``--threshold`` (default 0.5): predict positive when p >= threshold."""
    return typer.Option(0.5, "--threshold", help=help)


def empty_class_option(help: str = "Policy for classes without positives."):
    """``--empty-class`` (default ``zero``), an :class:`EmptyClass`."""
    return typer.Option(EmptyClass.zero, "--empty-class", help=help)


def bootstrap_option(default: int, minimum: int, help: str):
    """``--bootstrap/-b``: number of bootstrap resamples (at least ``minimum``)."""
    return typer.Option(default, "--bootstrap", "-b", min=minimum, help=help)


def seed_option(help: str = "Seed of the resamples."):
    """``--seed`` (default 0): the seed of every resample a command draws."""
    return typer.Option(0, "--seed", help=help)


METADATA_HELP = ("Metadata CSV: ImageID + any columns (PatientID, view, centre, sex, age, ...), "
                 "joined by ID. Default: the labels CSV's extra columns.")
CLUSTER_BY_HELP = ("Metadata column (e.g. PatientID) whose clusters the bootstrap resamples "
                   "instead of images.")
BINS_HELP = ("How --strata-by cuts a numeric column: a number of equal-count bins, or cut "
             "points such as 40,60,80.")


def metadata_option(help: str = METADATA_HELP):
    """``--metadata`` (optional path): per-image metadata joined by ID."""
    return typer.Option(None, "--metadata", help=help)


def cluster_by_option(help: str = CLUSTER_BY_HELP):
    """``--cluster-by`` (optional metadata column): resample clusters instead of images."""
    return typer.Option(None, "--cluster-by", help=help)


def strata_by_option(help: str):
    """``--strata-by`` (repeatable metadata column): figures per value of the column."""
    return typer.Option(None, "--strata-by", help=help)


def bins_option(help: str = BINS_HELP):
    """``--bins`` (default ``"4"``): how ``--strata-by`` cuts a numeric column."""
    return typer.Option("4", "--bins", help=help)


def json_out_option(help: str):
    """``--json`` (optional path, ``-`` = standard output): the command's result as JSON."""
    return typer.Option(None, "--json", help=help)


def force_option(help: str = "Overwrite an existing --json file."):
    """``--force``: allow an existing output file to be overwritten."""
    return typer.Option(False, "--force", help=help)
