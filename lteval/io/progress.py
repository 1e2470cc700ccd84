"""Whether to draw a progress bar: the one reading of ``LTEVAL_NO_PROGRESS``.

Every rich progress bar in lteval (data synthesis and caching, training, calibration
cross-fitting, report scoring) asks :func:`progress_enabled` first, so the variable means
the same everywhere. Standard library only: importing this never pulls in rich or torch.
"""

from __future__ import annotations

import os
import sys

#: The environment variable that turns every progress bar off.
ENV_VAR = "LTEVAL_NO_PROGRESS"

#: Values of :data:`ENV_VAR` that turn the bars off (compared after ``strip().lower()``).
#: Anything else (unset, empty, ``0``, ``false``, ``no``, ``off``) leaves them on.
OFF_VALUES = frozenset({"1", "true", "yes", "on"})


def progress_disabled_by_env(environ=None) -> bool:
    """True when ``LTEVAL_NO_PROGRESS`` is set to 1, true, yes or on (any case, spaces ignored).

    ``environ``: the mapping to read (default :data:`os.environ`).

    >>> progress_disabled_by_env({"LTEVAL_NO_PROGRESS": " True "})
    True
    >>> progress_disabled_by_env({"LTEVAL_NO_PROGRESS": "0"})
    False
    """
    env = os.environ if environ is None else environ
    return env.get(ENV_VAR, "").strip().lower() in OFF_VALUES


def progress_enabled(progress: bool = True, stream=None) -> bool:
    """Whether a progress bar should be drawn: the caller asked for one (``progress``), the
    environment does not turn bars off (:func:`progress_disabled_by_env`) and ``stream``
    (default :data:`sys.stderr`, where the bars are drawn) is a terminal.

    >>> progress_enabled(False)
    False
    """
    if not progress or progress_disabled_by_env():
        return False
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
