"""Messages show plain values ('img150.png', 1.5), never np.str_(...) / np.float64(...)."""

import numpy as np
import pytest
from typer.testing import CliRunner

from lteval.calibration._arrays import check_kind_scores
from lteval.cli import app
from lteval.errors import InputError, did_you_mean
from lteval.metrics._validation import check_labels
from lteval.io.tables import LabelTable, PredictionTable, align, write_labels, write_predictions
from lteval.tasks import get_task

TASK = get_task("cxrlt2026-task2")


def _msg(fn, *a):
    with pytest.raises(InputError) as e:
        fn(*a)
    text = str(e.value)
    assert "np." not in text and "np.str_" not in text and "float64(" not in text, text
    return text


def test_align_lists_plain_ids():
    ids = np.array(["img1.png", "img150.png"])
    lab = LabelTable(ids, np.zeros((2, 6), np.int8), TASK, "l.csv")
    pred = PredictionTable(np.array(["img1.png", "img2.png"]), np.zeros((2, 6)), TASK, "p.csv")
    text = _msg(align, lab, pred)
    assert "(e.g. 'img150.png')" in text and "(e.g. 'img2.png')" in text


def test_array_checks_show_plain_numbers():
    s = np.full((3, 2), 0.5)
    s[1, 1] = 1.5
    assert "got 1.5 at row 1, class 1" in _msg(check_kind_scores, s, "probs")
    s[1, 1] = np.inf
    assert "must be finite, got inf at row 1" in _msg(check_kind_scores, s, "probs")
    y = np.zeros((3, 2))
    y[2, 0] = 2
    assert "got 2.0 at row 2, class 0" in _msg(check_labels, y, "y")


def test_error_location_and_hints_are_plain():
    e = InputError("bad", file="f.csv", line=3, column=np.str_("Mass"))
    assert str(e) == "f.csv, line 3, column 'Mass': bad"
    assert did_you_mean("Mas", list(np.array(["Mass", "Hernia"]))) == " (did you mean 'Mass'?)"


def test_cli_messages_are_plain(tmp_path):
    runner = CliRunner()
    ids = np.array([f"img{i}.png" for i in range(200)])
    y = np.zeros((200, 6), int)
    y[:5] = 1
    write_labels(tmp_path / "l.csv", ids, y, TASK)
    p = np.full((200, 6), 0.25)
    write_predictions(tmp_path / "p.csv", ids[:150], p[:150], TASK)
    r = runner.invoke(app, ["score", str(tmp_path / "p.csv"), "-l", str(tmp_path / "l.csv"),
                            "-t", TASK.name])
    assert r.exit_code == 1 and "'img150.png'" in r.output and "np." not in r.output, r.output
    p[7, 2] = 1.5
    write_predictions(tmp_path / "q.csv", ids, p, TASK)
    r = runner.invoke(app, ["score", str(tmp_path / "q.csv"), "-l", str(tmp_path / "l.csv"),
                            "-t", TASK.name])
    assert r.exit_code == 1 and "value 1.5 is outside" in r.output and "np." not in r.output
    y[3, 1] = 2
    write_labels(tmp_path / "bad.csv", ids, y, TASK)
    r = runner.invoke(app, ["score", str(tmp_path / "p.csv"), "-l", str(tmp_path / "bad.csv"),
                            "-t", TASK.name])
    assert r.exit_code == 1 and "label 2.0 is not 0 or 1" in r.output and "np." not in r.output
