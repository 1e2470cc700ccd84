"""Published reference rows: numbers quoted from papers and public write-ups.

These rows are shipped with lteval so that any new result can be put next to the
figures the field already knows. They are *quoted*, never recomputed: lteval has
no predictions for them, so they carry no confidence interval, and every row
names where the number comes from. Source: the project's reference notes
(``shared/cxr-lt-2026.md``, "Published numbers (anchors)").
"""

from __future__ import annotations

from lteval.leaderboard.entry import Entry, Result

_OVERVIEW = "CXR-LT 2026 challenge overview, arXiv 2602.22092"
_SEED = "arXiv 2603.02294 (ConvNeXt-Large + LDAM-DRW team)"
_NOTEBOOK = "public notebook of the arXiv 2603.02294 team"

#: Every published row, in the order the leaderboard lists them within a split.
PUBLISHED: tuple[Entry, ...] = (
    Entry(
        name="CXR-LT 2026 Task 1 winner",
        task="cxrlt2026-task1",
        kind="published",
        source=_OVERVIEW,
        url="https://arxiv.org/abs/2602.22092",
        results=(Result("test", {"mAP": 0.5854}, note="official hidden test set"),),
    ),
    Entry(
        name="CXR-LT 2026 Task 2 winner",
        task="cxrlt2026-task2",
        kind="published",
        source=_OVERVIEW,
        url="https://arxiv.org/abs/2602.22092",
        results=(Result("test", {"mAP": 0.4315}, note="official hidden test set"),),
    ),
    Entry(
        name="ConvNeXt-Large + LDAM-DRW (seed paper)",
        task="cxrlt2026-task1",
        kind="published",
        source=_SEED,
        url="https://arxiv.org/abs/2603.02294",
        results=(
            Result("dev", {"mAP": 0.5220, "mF1": 0.3765},
                   note="the team's own dev split, also used for model selection"),
            Result("test", {"mAP": 0.3950},
                   note="official test set; 5th of 68 teams (1,528 submissions)"),
        ),
    ),
    Entry(
        name="ResNet-50, pos-weighted BCE, 224 px",
        task="cxrlt2026-task1",
        kind="published",
        source=_NOTEBOOK,
        url="https://arxiv.org/abs/2603.02294",
        results=(Result("dev", {"mAP": 0.2544, "mAUROC": 0.8147, "mF1": 0.2891},
                        note="the team's own dev split"),),
    ),
)


def published_entries(task: str | None = None) -> list[Entry]:
    """The published rows, optionally only those of ``task``."""
    return [e for e in PUBLISHED if task is None or e.task == task]
