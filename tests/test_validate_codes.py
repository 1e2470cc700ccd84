"""Problem codes: one table (lteval.submission.codes) lists every code the validator emits,
with its severity; the docs table and the fix-up's set are derived from it."""

from __future__ import annotations

import ast
import io
import random
import re
import zipfile
from pathlib import Path

import pytest

from lteval.submission import validate_submission
from lteval.submission.codes import (CODES, FIXABLE_CODES, KINDS_BY_CODE, PROBLEM_KINDS,
                                     markdown_table)
from lteval.submission.result import Collector
from lteval.tasks import CXRLT2026_TASK1_CLASSES as C1, CXRLT2026_TASK2_CLASSES as C

ROOT = Path(__file__).resolve().parents[1]
SUBMISSION = ROOT / "lteval" / "submission"
SEVERITIES = ("error", "warning")
CODE_RE = re.compile(r"[a-z]+(?:-[a-z]+)*")


def emitted_in_source() -> set[tuple[str, str]]:
    """(severity, code) of every problem the submission package can emit, read from its source:
    ``add("error", "code", ...)``-style calls and ``("warning", "code", msg)`` tuples, the
    ``(code, msg)`` tuples :func:`textstream.sniff` returns (reported as errors) and
    ``code="..."`` keywords of lteval errors."""
    found: set[tuple[str, str]] = set()
    for path in sorted(SUBMISSION.glob("*.py")):
        if path.name == "codes.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            seq = node.args if isinstance(node, ast.Call) else (
                node.elts if isinstance(node, ast.Tuple) else [])
            consts = [a.value if isinstance(a, ast.Constant) else None for a in seq[:2]]
            if (len(consts) == 2 and consts[0] in SEVERITIES and isinstance(consts[1], str)
                    and CODE_RE.fullmatch(consts[1])):
                found.add((consts[0], consts[1]))
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "code" and isinstance(kw.value, ast.Constant):
                        found.add(("error", kw.value.value))
            if isinstance(node, ast.FunctionDef) and node.name == "sniff":
                for ret in ast.walk(node):
                    if (isinstance(ret, ast.Return) and isinstance(ret.value, ast.Tuple)
                            and isinstance(ret.value.elts[0], ast.Constant)):
                        found.add(("error", ret.value.elts[0].value))
    return found


def test_every_code_in_the_source_is_listed_with_its_severity():
    found = emitted_in_source()
    assert len(found) > 30  # the scan sees the validator's checks
    unlisted = sorted(c for _, c in found if c not in KINDS_BY_CODE)
    assert not unlisted, f"add these codes to lteval/submission/codes.py: {unlisted}"
    wrong = sorted((s, c) for s, c in found if KINDS_BY_CODE[c].severity != s)
    assert not wrong, f"emitted with another severity than the table says: {wrong}"


def test_every_listed_code_is_emitted_somewhere():
    found = {c for _, c in emitted_in_source()}
    assert sorted(set(CODES) - found) == []


def test_codes_are_unique_and_well_formed():
    all_codes = [c for k in PROBLEM_KINDS for c in k.codes]
    assert len(all_codes) == len(set(all_codes)) == len(CODES)
    assert all(CODE_RE.fullmatch(c) for c in all_codes)
    assert all(k.severity in SEVERITIES and k.what.strip() for k in PROBLEM_KINDS)


def test_fixable_set_is_derived_from_the_table():
    assert FIXABLE_CODES == {c for k in PROBLEM_KINDS if k.fixable for c in k.codes}
    assert FIXABLE_CODES == {"column-order", "alias-id-column", "header-whitespace",
                             "id-whitespace", "value-whitespace", "blank-line", "delimiter",
                             "line-endings"}
    import lteval.submission as sub

    assert sub.FIXABLE_CODES is FIXABLE_CODES


def test_docs_table_is_the_table():
    text = (ROOT / "docs" / "validate.md").read_text(encoding="utf-8")
    section = text[text.index("## What is checked"):]
    start = section.index("| code | severity |")
    shown = section[start:section.index("\n\n", start)]
    assert shown == markdown_table(), (
        "docs/validate.md's table differs from lteval/submission/codes.py: paste "
        "lteval.submission.codes.markdown_table() into the docs")


# -- codes met at run time ------------------------------------------------------------------

def _files(tmp: Path, rng: random.Random) -> list[tuple[Path, list[str] | None]]:
    ids = [f"img{k}.png" for k in range(6)]
    head = "ImageID," + ",".join(C)

    def row(i, vals=None):
        return ",".join([i, *(vals or [f"{rng.random():.4f}" for _ in C])])

    texts = {
        "empty": "",
        "blank_header": "\n" + head + "\n" + row(ids[0]),
        "data_row_header": row(ids[0]) + "\n" + row(ids[1]),
        "semicolons": head.replace(",", ";") + "\n" + row(ids[0]).replace(",", ";"),
        "alias_ws_dup": "dicom_id, " + C[0] + "," + ",".join(C[1:]) + "," + C[1] + "\n"
                        + row(ids[0]) + ",0.5",
        "no_id_unknown": "image_id,PatientID,," + ",".join(C[1:]) + "\n" + row(ids[0]) + ",1",
        "task1_header": "ImageID," + ",".join(C1) + "\n" + ",".join([ids[0], *"0" * len(C1)]),
        "order": "ImageID," + ",".join(reversed(C)) + "\n" + row(ids[0]),
        "rows": "\n".join([head, row(ids[0]), row(ids[0]), row(" " + ids[1]), row(""),
                           row("x/" + ids[2]), ids[3] + ",1", "",
                           row(ids[5], ["", "abc", "nan", "-1", " 0.5", "0.1234567891"]),
                           ",".join([ids[4], "1.5", "2", "-3", "4", "5", "6"]),
                           ",".join([ids[4], *["0.1234567891"] * len(C)]),
                           '"' + ids[4]]),
        "header_only": head,
        "binary": "\x00\x01\x02" * 50,
        "html": "<html><body>login</body></html>",
    }
    out = [(tmp / f"{k}.csv", ids) for k in texts]
    for (p, _), t in zip(out, texts.values()):
        p.write_text(t, encoding="utf-8")
    (tmp / "latin1.csv").write_bytes((head + "\n" + row(ids[0]) + "\né," + ",".join("0" * len(C)))
                                     .encode("latin-1"))
    (tmp / "cr.csv").write_bytes((head + "\r" + row(ids[0]) + "\r").encode())
    out += [(tmp / "latin1.csv", None), (tmp / "cr.csv", ["none.png"])]
    for name, members in (("nocode.zip", {"a/sub.csv": head + "\n" + row(ids[0])}),
                          ("two.zip", {"a.csv": head, "b.csv": head, "code/x.py": ""}),
                          ("none.zip", {"code/x.py": "", "readme.txt": ""}),
                          ("unsafe.zip", {"../evil.csv": head, "code/x.py": ""})):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for n, t in members.items():
                z.writestr(n, t)
        (tmp / name).write_bytes(buf.getvalue())
        out.append((tmp / name, ids))
    (tmp / "broken.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    out.append((tmp / "broken.zip", None))
    return out


def test_codes_met_while_validating_are_listed(tmp_path, monkeypatch):
    seen: set[tuple[str, str]] = set()
    add, count = Collector.add, Collector.count

    def spy_add(self, severity, code, *a, **k):
        seen.add((severity, code))
        return add(self, severity, code, *a, **k)

    def spy_count(self, severity, code, *a, **k):
        seen.add((severity, code))
        return count(self, severity, code, *a, **k)

    monkeypatch.setattr(Collector, "add", spy_add)
    monkeypatch.setattr(Collector, "count", spy_count)
    rng = random.Random(0)
    for path, ids in _files(tmp_path, rng):
        for max_examples in (1, 5):
            validate_submission(path, task="cxrlt2026-task2", ids=ids, max_examples=max_examples)
    assert len(seen) >= 37, sorted(seen)  # all but read-error, zip-bomb, zip-encrypted
    assert sorted(c for _, c in seen if c not in KINDS_BY_CODE) == []
    assert sorted((s, c) for s, c in seen if KINDS_BY_CODE[c].severity != s) == []


@pytest.mark.parametrize("code", ["no-rows", "missing-id", "zip-no-code"])
def test_a_listed_code_is_reported_as_such(tmp_path, code):
    """The table's names are the ones users see in results (spot check)."""
    files = dict((p.name, (p, ids)) for p, ids in _files(tmp_path, random.Random(1)))
    name = {"no-rows": "header_only.csv", "missing-id": "rows.csv", "zip-no-code": "nocode.zip"}
    p, ids = files[name[code]]
    assert code in validate_submission(p, task="cxrlt2026-task2", ids=ids).codes
