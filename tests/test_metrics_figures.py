"""The table of figures (lteval.metrics.figures) is the one source of every figure's name,
label and direction: what score, bootstrap, rank, strata, leaderboard and report show is
in the table, and a figure added to the table reaches them without another edit."""

import numpy as np
import pytest
from typer.testing import CliRunner

from lteval.errors import InputError, LtevalError
from lteval.metrics import bootstrap_distribution, rank_systems, score_arrays
from lteval.metrics import figures as F
from lteval.metrics.groups import Groups
from lteval.metrics.strata import figure_keys, score_strata

CLASSES = [f"c{j}" for j in range(6)]


@pytest.fixture()
def data():
    rng = np.random.default_rng(11)
    y = (rng.random((300, 6)) < [0.4, 0.3, 0.2, 0.08, 0.03, 0.0]).astype(int)
    p = np.round(np.clip(0.35 * y + 0.65 * rng.random((300, 6)), 0, 1), 2)  # ties
    groups = Groups({"head": ("c0", "c1"), "medium": ("c2", "c3"), "tail": ("c4", "c5")},
                    {c: 0.1 for c in CLASSES}, 0.1, 0.01, "test")
    return y, p, groups


def _score(y, p, groups, **kw):
    with pytest.warns(UserWarning):  # c5 has no positives
        return score_arrays(y, p, CLASSES, groups=groups, **kw).to_dict()


def test_table_is_well_formed():
    keys = [f.key for f in F.FIGURES]
    assert len(set(keys)) == len(keys) and len({s.key for s in F.STATISTICS}) == len(F.STATISTICS)
    for f in F.FIGURES:
        assert f.label and f.summary and f.scope in ("macro", "pooled")
        if f.scope == "macro":
            assert F.statistic(f.per_class).resampled is not None
            assert f.average in ("ap", "auc", "f1") and f.point is None and not f.calibration
        else:
            assert f.point is not None and f.resampled is not None and f.calibration
    assert F.overall_keys() == ("mAP", "mAUROC", "mF1", "ece", "mce", "brier")
    assert F.group_keys() == ("mAP", "mAUROC", "mF1")
    assert [F.lower_is_better(k) for k in ("mAP", "tail_mAP", "head.mF1", "ece", "mce", "brier")] \
        == [False, False, False, True, True, True]
    assert F.figure_of("per_class.c1.ap") is None and F.figure_of("tail_ece") is None
    with pytest.raises(KeyError):
        F.figure("nope")


def test_every_figure_shown_is_in_the_table(data):
    y, p, groups = data
    d = _score(y, p, groups, n_boot=20)
    assert tuple(d["overall"]) == F.overall_keys()
    assert list(d["per_class"]["c0"]) == [s.key for s in F.STATISTICS] + ["n_pos"]
    for g in ("head", "medium", "tail"):
        assert list(d["groups"][g]) == ["classes", *F.group_keys()]
    table_keys = list(F.overall_keys()) + [F.group_key(g, k) for g in groups.members
                                           for k in F.group_keys()]
    assert [k for k in d["ci"] if k not in ("level", "n_boot")] == table_keys
    dist = bootstrap_distribution(y, p, n_boot=5, groups=groups.indices(CLASSES))
    assert list(dist) == table_keys
    st = score_strata(y, p, CLASSES, np.array(["a", "b"] * 150), ["a", "b"], groups=groups)
    assert figure_keys(st) == table_keys

    from lteval.leaderboard.entry import METRICS
    from lteval.leaderboard.table import COLUMNS
    from lteval.metrics.rank import metric_choices, resolve_metric
    from lteval.report.model import table_metrics

    assert set(METRICS) <= set(F.overall_keys()) | {F.group_name(g, k) for g in groups.members
                                                    for k in F.group_keys()}
    assert METRICS[:len(F.overall_keys())] == F.overall_keys()
    for key, label in COLUMNS:
        assert F.figure_of(key) is not None and label.endswith(F.figure_of(key).label)
    assert [k for k, _, _ in table_metrics()] == list(F.headline_keys())
    for key, label, higher in table_metrics():
        assert label == F.figure(key).label and higher == F.figure(key).higher_is_better
    for m in metric_choices(["tail"], ["c0"]):
        spec = resolve_metric(m, groups={"tail": np.array([4, 5])}, classes=["c0"])
        fig = F.figure_of(spec.key) or F.figure(spec.key.rsplit(".", 1)[1])
        assert spec.higher_is_better == fig.higher_is_better and spec.calibration == fig.calibration


def test_point_and_resampled_functions_agree(data):
    """Every figure from the full-data functions equals the weighted one at weight 1."""
    y, p, groups = data
    for policy in ("zero", "exclude"):
        d = _score(y, p, groups, empty_class=policy, threshold=0.4)
        ones = bootstrap_distribution(y, p, weights=np.ones((1, len(y))), empty_class=policy,
                                      threshold=0.4, groups=groups.indices(CLASSES))
        for k in F.overall_keys():
            np.testing.assert_allclose(ones[k][0], d["overall"][k], rtol=1e-12, atol=1e-15)
        for g in groups.members:
            for k in F.group_keys():
                v = d["groups"][g][k]
                if v is None:
                    assert np.isnan(ones[F.group_key(g, k)][0])
                else:
                    np.testing.assert_allclose(ones[F.group_key(g, k)][0], v, rtol=1e-12)


@pytest.fixture()
def added_figures(monkeypatch):
    """Two figures added to the table and nowhere else: a pooled one (RMSE = sqrt(Brier),
    lower is better, headline) and a macro one (mean AP over classes with positives)."""
    rmse = F.Figure("rmse", "RMSE", False, "pooled", "root mean squared error",
                    point=lambda s: float(np.sqrt(F.figure("brier").point(s))),
                    resampled=lambda r: np.sqrt(r.brier()), headline=True)
    mapd = F.Figure("mAPd", "mAP (defined)", True, "macro", "mean AP over classes with positives",
                    per_class="ap", average="auc")
    monkeypatch.setattr(F, "FIGURES", F.FIGURES + (rmse, mapd))
    return rmse, mapd


def test_an_added_figure_reaches_score_bootstrap_rank_and_report(data, added_figures):
    y, p, groups = data
    gidx = groups.indices(CLASSES)
    dist = bootstrap_distribution(y, p, n_boot=30, seed=2, groups=gidx)
    assert "rmse" in dist and "mAPd" in dist and "tail.mAPd" in dist and "tail.rmse" not in dist
    np.testing.assert_allclose(dist["rmse"], np.sqrt(dist["brier"]), rtol=1e-12)
    excl = bootstrap_distribution(y, p, n_boot=30, seed=2, groups=gidx, empty_class="exclude")
    np.testing.assert_allclose(dist["mAPd"], excl["mAP"], rtol=1e-12)
    no_cal = bootstrap_distribution(y, p, n_boot=3, calibration=False)
    assert "rmse" not in no_cal and "mAPd" in no_cal

    d = _score(y, p, groups, n_boot=30, seed=2)
    assert d["overall"]["rmse"] == pytest.approx(np.sqrt(d["overall"]["brier"]), rel=1e-12)
    assert d["groups"]["head"]["mAPd"] == pytest.approx(d["groups"]["head"]["mAP"])
    assert "rmse" in d["ci"] and "medium.mAPd" in d["ci"]

    r = rank_systems(y, {"good": p, "noise": np.random.default_rng(0).random(p.shape)},
                     metric="rmse", n_boot=20, classes=CLASSES)
    assert r.higher_is_better is False
    assert r.values[0] < r.values[1] and r.ranking == ["good", "noise"]  # ascending
    assert rank_systems(y, [p, p[::-1]], metric="tail_mAPd", n_boot=5,
                        groups=gidx).higher_is_better is True
    assert F.lower_is_better("rmse") and not F.lower_is_better("tail_mAPd")

    from lteval.report.model import table_metrics
    assert ("rmse", "RMSE", False) in table_metrics()


def test_score_arrays_class_count_error_is_an_lteval_error():
    y = np.array([[0, 1], [1, 0]])
    with pytest.raises(InputError, match="classes has 3 names for 2 columns"):
        score_arrays(y, y * 0.5, ["a", "b", "c"])


def test_cli_turns_the_class_count_error_into_one_line(tmp_path, monkeypatch):
    """A class-count mismatch reaching score_arrays from the CLI: exit 1, one message."""
    import lteval.scoring
    from lteval.cli import app
    from lteval.io.tables import write_labels, write_predictions
    from lteval.tasks import CXRLT2026_TASK1_CLASSES as TASK_CLASSES

    rng = np.random.default_rng(0)
    ids = np.array([f"{i}.png" for i in range(40)])
    y = (rng.random((40, len(TASK_CLASSES))) < 0.3).astype(int)
    write_labels(tmp_path / "l.csv", ids, y)
    write_predictions(tmp_path / "p.csv", ids, rng.random(y.shape))
    real_align = lteval.scoring.align

    def short_align(labels, preds):
        i, yy, pp = real_align(labels, preds)
        return i, yy[:, :-1], pp[:, :-1]

    monkeypatch.setattr(lteval.scoring, "align", short_align)
    r = CliRunner().invoke(app, ["score", str(tmp_path / "p.csv"), "-l", str(tmp_path / "l.csv")])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "classes has 30 names for 29 columns" in lines[0]
    assert "Traceback" not in r.output
    assert issubclass(InputError, LtevalError) and issubclass(InputError, ValueError)


@pytest.mark.parametrize("module, param", [("report", "rank_metric"), ("rank", "metric")])
def test_metric_option_help_lists_the_tables_figures(module, param):
    """Command modules stay light (no numpy at import), so their help spells the figure names:
    it must list exactly the table's figures, in its order."""
    import importlib
    import inspect
    import re

    mod = importlib.import_module(f"lteval.commands.{module}")
    fn = next(f for _, f in inspect.getmembers(mod, inspect.isfunction)
              if param in inspect.signature(f).parameters)
    text = inspect.signature(fn).parameters[param].default.help
    listed = re.escape(", ".join(F.overall_keys()))
    assert re.search(r"(by|'\)): " + listed + r"(, a group figure| \()", text), text
