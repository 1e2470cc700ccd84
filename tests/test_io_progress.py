"""LTEVAL_NO_PROGRESS has one reading everywhere (lteval.io.progress)."""

from __future__ import annotations

import doctest
import io
import re
import sys
from pathlib import Path

import pytest

from lteval.io import progress as progress_mod
from lteval.io.progress import progress_disabled_by_env, progress_enabled

ROOT = Path(__file__).resolve().parents[1]

#: Modules allowed to read the variable themselves besides lteval/io/progress.py: none.
PENDING: set[str] = set()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "True", "yes", "Yes", "on", "ON", " 1 ",
                                   "true\n"])
def test_off_values_turn_bars_off(monkeypatch, value):
    monkeypatch.setenv("LTEVAL_NO_PROGRESS", value)
    assert progress_disabled_by_env()
    assert not progress_enabled(True, _Tty())


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off", "2", "t", "y", "nope"])
def test_other_values_leave_bars_on(monkeypatch, value):
    monkeypatch.setenv("LTEVAL_NO_PROGRESS", value)
    assert not progress_disabled_by_env()
    assert progress_enabled(True, _Tty())


def test_unset_caller_and_terminal(monkeypatch):
    monkeypatch.delenv("LTEVAL_NO_PROGRESS", raising=False)
    assert progress_enabled(True, _Tty())
    assert not progress_enabled(False, _Tty())           # the caller said no
    assert not progress_enabled(True, io.StringIO())     # not a terminal (piped, CI log)
    assert not progress_enabled(True, object())          # no isatty at all
    monkeypatch.setattr(sys, "stderr", _Tty())           # default stream: sys.stderr at call time
    assert progress_enabled(True)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not progress_enabled(True)


def test_explicit_environ_mapping():
    assert progress_disabled_by_env({"LTEVAL_NO_PROGRESS": "On"})
    assert not progress_disabled_by_env({})


def test_docstring_examples_run():
    assert doctest.testmod(progress_mod).failed == 0


def test_cache_bar_follows_the_helper(monkeypatch, tmp_path):
    """data/cache.py asks the helper (LTEVAL_NO_PROGRESS=true silenced only some bars before)."""
    from lteval.data import cache

    asked = []
    monkeypatch.setattr(cache, "progress_enabled", lambda p: asked.append(p) or False)

    class Src:
        image_dir = tmp_path

        def all_ids(self):
            return []

        def check_images(self, ids):
            pass

    monkeypatch.setenv("LTEVAL_CACHE_DIR", str(tmp_path / "c"))
    cache.build_cache(Src(), 16, workers=1, progress=True, cache_dir=tmp_path / "c")
    assert asked == [True]


def test_no_other_module_parses_the_variable():
    readers = {str(p.relative_to(ROOT)) for p in (ROOT / "lteval").rglob("*.py")
               if re.search(r"environ(?:\.get)?\W+LTEVAL_NO_PROGRESS|getenv\W+LTEVAL_NO_PROGRESS",
                            p.read_text(encoding="utf-8"))}
    assert readers - PENDING == set(), "parse LTEVAL_NO_PROGRESS only in lteval/io/progress.py"
    assert "LTEVAL_NO_PROGRESS" in (ROOT / "lteval/io/progress.py").read_text()
