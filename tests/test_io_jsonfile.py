"""lteval.io.jsonfile.read_json: one reader, a specific lteval error naming the file per fault."""

from __future__ import annotations

import doctest
import json
import os

import pytest

from lteval.errors import InputError, LtevalError, UsageError
from lteval.io import jsonfile
from lteval.io.jsonfile import parse_json, read_json


def _write(tmp_path, content, name="x.json"):
    p = tmp_path / name
    (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
    return p


def test_reads_objects_arrays_and_a_bom(tmp_path):
    obj = {"a": [1, 2.5, None, True], "b": {"c": "é"}}
    assert read_json(_write(tmp_path, json.dumps(obj)), expect=dict) == obj
    assert read_json(_write(tmp_path, b"\xef\xbb\xbf[1, 2]"), expect=list) == [1, 2]
    assert read_json(_write(tmp_path, "3")) == 3


def test_missing_file(tmp_path):
    p = tmp_path / "nope.json"
    with pytest.raises(UsageError) as e:
        read_json(p, "rank file")
    assert e.value.file == str(p) and e.value.exit_code == 2
    assert str(e.value) == f"{p}: rank file does not exist"


def test_directory(tmp_path):
    with pytest.raises(UsageError) as e:
        read_json(tmp_path, "calibration file")
    assert e.value.file == str(tmp_path) and "is a directory" in e.value.message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable(tmp_path):
    p = _write(tmp_path, "{}")
    p.chmod(0)
    try:
        with pytest.raises(UsageError, match="cannot read JSON file"):
            read_json(p)
    finally:
        p.chmod(0o600)


@pytest.mark.parametrize("text, line, col", [
    ('{"a": 1,\n "b": }', 2, 7),
    ("", 1, 1),
    ("{'a': 1}", 1, 2),
    ('[1, 2]\n[3]', 2, 1),
])
def test_not_json_gives_line_and_column(tmp_path, text, line, col):
    p = _write(tmp_path, text)
    with pytest.raises(InputError) as e:
        read_json(p, "score file")
    assert e.value.file == str(p) and e.value.line == line and e.value.exit_code == 1
    assert e.value.message.startswith("score file is not valid JSON: ")
    assert e.value.message.endswith(f"(column {col})")


def test_not_utf8(tmp_path):
    p = _write(tmp_path, b'{"a": "\xe9"}')
    with pytest.raises(InputError) as e:
        read_json(p)
    assert e.value.file == str(p) and "not UTF-8" in e.value.message and "byte 8" in e.value.message


@pytest.mark.parametrize("expect, content, got", [
    (dict, "[1]", "an array"), (list, "{}", "an object"), (dict, '"s"', "a string"),
    (dict, "null", "null"), ((dict, list), "1.5", "a number"),
])
def test_wrong_top_level_type(tmp_path, expect, content, got):
    p = _write(tmp_path, content)
    with pytest.raises(InputError) as e:
        read_json(p, "rank file", expect=expect)
    assert e.value.file == str(p) and e.value.message.endswith(f"got {got}")
    assert "expected an object" in e.value.message or "expected an array" in e.value.message


def test_nan_constants(tmp_path):
    p = _write(tmp_path, '{"a": NaN}')
    assert read_json(p)["a"] != read_json(p)["a"]  # NaN accepted by default, as json.loads does
    for text in ('{"a": NaN}', "[Infinity]", "[-Infinity]"):
        with pytest.raises(InputError) as e:
            read_json(_write(tmp_path, text), allow_nan=False)
        assert "is not a JSON value" in e.value.message


def test_deep_nesting_is_an_input_error(tmp_path):
    p = _write(tmp_path, "[" * 100_000 + "]" * 100_000)
    with pytest.raises(LtevalError):
        read_json(p)


def test_parse_json_names_the_source():
    with pytest.raises(InputError) as e:
        parse_json("{", "config", file="a.toml")
    assert str(e.value).startswith("a.toml, line 1: config is not valid JSON")


def test_docstring_examples_run():
    assert doctest.testmod(jsonfile).failed == 0
