"""The gate stage: p_c <- p_c (1 - alpha p_Normal), alpha fitted on calib only; composition with calib."""

import decimal
import json
import shutil

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from lteval.errors import ConfigError, UsageError
from lteval.io.tables import read_labels, read_predictions, write_labels, write_predictions
from lteval.posttrain.calib_stage import SPLITS, calib_stage, sigmoid
from lteval.posttrain.gate import fit_alpha, gate_logits, gate_probs, gate_stage, normal_index
from lteval.posttrain.pipeline import all_combos, list_stages, parse_name, stage_options
from lteval.tasks import get_task
from test_posttrain_fixtures import TASK, make_run_dir

N = get_task(TASK).classes.index("Normal")


def _reference_gate(p, alpha, k):
    """Element by element, in plain Python floats: the paper's formula."""
    out = []
    for row in p.tolist():
        out.append([v if c == k else v * (1.0 - alpha * row[k]) for c, v in enumerate(row)])
    return np.array(out)


def _decimal_gated_logit(zrow, c, alpha, k):
    """log(q / (1 - q)), q = p_c (1 - alpha p_k), in 80-digit decimals; 1 - p written as sigmoid(-z)
    (exact algebra) so that p = 1 - 1e-300 is not rounded to 1 at that precision."""
    if c == k:
        return float(zrow[k])
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        D = decimal.Decimal
        a = D(alpha)
        sig = [1 / (1 + (-D(float(v))).exp()) for v in zrow]
        neg = [1 / (1 + D(float(v)).exp()) for v in zrow]  # 1 - sig
        q = sig[c] * ((1 - a) + a * neg[k])
        one_minus_q = neg[c] + sig[c] * a * sig[k]
        return float((q / one_minus_q).ln())


def _sk_map(y, p):
    return float(np.mean([average_precision_score(y[:, c], p[:, c]) if y[:, c].any() else 0.0
                          for c in range(y.shape[1])]))


def _normal_heavy(seed=0, n=600, C=6, k=0):
    """Labels where Normal excludes every finding, and finding scores that leak onto Normal images:
    gating by a good Normal score removes those false positives."""
    rng = np.random.default_rng(seed)
    normal = rng.random(n) < 0.5
    y = np.zeros((n, C), np.int8)
    y[:, k] = normal
    for c in range(C):
        if c != k:
            y[~normal, c] = rng.random((~normal).sum()) < 0.3
    z = rng.normal(0, 1, (n, C)) + 1.5 * (2 * y - 1)
    z[normal] += 1.2  # findings' scores are inflated on Normal images
    z[:, k] = 3.0 * (2 * normal - 1) + rng.normal(0, 1, n)
    return y, z


def test_formula_against_reference():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 4, (300, 7))
    z[0, 2], z[1, 0], z[2, 5], z[3, 2] = 45.0, -45.0, -700.0, 700.0  # saturated sigmoid on both sides
    p = sigmoid(z)
    for alpha in (0.0, 0.37, 1.0):
        q, zg = gate_logits(z, alpha, 2)
        ref = _reference_gate(p, alpha, 2)
        np.testing.assert_allclose(q, ref, rtol=1e-15, atol=0)
        np.testing.assert_allclose(gate_probs(p, alpha, 2), ref, rtol=1e-15, atol=0)
        assert np.array_equal(q[:, 2], p[:, 2]) and np.array_equal(zg[:, 2], z[:, 2])  # Normal unchanged
        assert np.isfinite(zg).all()
        # the stored logits are the logits of the gated probabilities, wherever float64 does not
        # saturate (1 - alpha p_N computed directly loses ~eps/g relative accuracy when g is small)
        ok = np.abs(zg) < 30
        np.testing.assert_allclose(sigmoid(zg)[ok], ref[ok], rtol=1e-9)
        # all logits, saturated ones included, against 60-digit decimal arithmetic
        for i in range(12):
            for c in range(7):
                assert zg[i, c] == pytest.approx(_decimal_gated_logit(z[i], c, alpha, 2), rel=1e-12, abs=1e-12)
    with pytest.raises(ConfigError):
        gate_probs(p, 1.5, 2)


def test_alpha_zero_is_the_ungated_run_exactly(tmp_path):
    run, _ = make_run_dir(tmp_path)
    out = tmp_path / "g0"
    info = gate_stage(run, run, out, task=TASK, alpha=0)
    assert info["alpha"] == 0.0 and info["fitted_on"] is None
    for s in SPLITS:
        for kind in ("predictions", "logits"):
            assert (out / kind / f"{s}.csv").read_bytes() == (run / kind / f"{s}.csv").read_bytes()
    # elementwise too: the gate is 1 wherever p_Normal is 0
    z = np.random.default_rng(0).normal(0, 3, (50, 4))
    z[:, 0] = -np.inf
    q, zg = gate_logits(z, 0.8, 0)
    assert np.array_equal(zg[:, 1:], z[:, 1:]) and np.array_equal(q[:, 1:], sigmoid(z)[:, 1:])


def test_fit_alpha_maximises_map_on_a_grid_checked_with_sklearn():
    y, z = _normal_heavy()
    p = sigmoid(z)
    alpha, info = fit_alpha(y, p, 0)
    assert 0.0 < alpha <= 1.0
    grid = np.round(np.arange(101) * 0.01, 10)
    sk = np.array([_sk_map(y, _reference_gate(p, a, 0)) for a in grid])
    # lteval's mAP along the coarse grid equals sklearn's, and the chosen alpha is at least as good
    np.testing.assert_allclose(info["coarse"]["mAP"], sk, rtol=0, atol=1e-12)
    best = _sk_map(y, _reference_gate(p, alpha, 0))
    assert best >= sk.max() - 1e-12 and best == pytest.approx(info["mAP_gated"], abs=1e-12)
    assert best > sk[0] + 0.01  # gating helps on these data
    # tie-break: nothing smaller on the refined grid reaches the maximum
    fine = np.round(np.arange(info["fine"]["from"], alpha, 0.0005), 10)
    assert all(_sk_map(y, _reference_gate(p, a, 0)) < best - 1e-12 for a in fine if a < alpha)


def test_fit_alpha_is_zero_when_gating_only_hurts():
    # findings co-occur with "Normal" here (a mislabelled Normal column): gating can only lose AP
    rng = np.random.default_rng(3)
    y = (rng.random((400, 5)) < 0.3).astype(np.int8)
    y[:, 0] = y[:, 1:].any(1)
    z = rng.normal(0, 1, (400, 5)) + 2 * (2 * y - 1)
    alpha, info = fit_alpha(y, sigmoid(z), 0)
    assert alpha == 0.0 and info["mAP_gated"] == info["mAP_ungated"]


def test_alpha_fitted_on_calib_labels_only(tmp_path):
    full, _ = make_run_dir(tmp_path, "full-00000001")
    withheld = tmp_path / "withheld-00000001"
    shutil.copytree(full, withheld)
    flipped = tmp_path / "flipped-00000001"
    shutil.copytree(full, flipped)
    for s in ("dev", "test", "val"):
        (withheld / "labels" / f"{s}.csv").unlink()
        lab = read_labels(full / "labels" / f"{s}.csv", TASK)
        write_labels(flipped / "labels" / f"{s}.csv", lab.ids, 1 - lab.y, TASK, force=True)
    gates = {}
    for name, run in (("full", full), ("withheld", withheld), ("flipped", flipped)):
        gate_stage(run, run, tmp_path / f"g-{name}", task=TASK)
        gates[name] = json.loads((tmp_path / f"g-{name}" / "gate.json").read_text())
    assert gates["full"]["fitted_on"] == "calib" and gates["full"]["n_fit"] == 300
    for other in ("withheld", "flipped"):
        assert gates[other] == gates["full"]
        for s in SPLITS:
            a = read_predictions(tmp_path / "g-full" / "predictions" / f"{s}.csv", TASK).p
            b = read_predictions(tmp_path / f"g-{other}" / "predictions" / f"{s}.csv", TASK).p
            assert np.array_equal(a, b)
    # ... and changing the calib labels does change what is fitted (the test can fail)
    y, z = _normal_heavy(n=300, C=get_task(TASK).n_classes, k=N)
    ids = read_labels(full / "labels" / "calib.csv", TASK).ids
    write_labels(flipped / "labels" / "calib.csv", ids, y, TASK, force=True)
    write_predictions(flipped / "logits" / "calib.csv", ids, z, TASK, force=True)
    gate_stage(flipped, flipped, tmp_path / "g-changed", task=TASK)
    assert json.loads((tmp_path / "g-changed" / "gate.json").read_text())["alpha"] != gates["full"]["alpha"]


def test_stage_outputs_are_scored_and_json(tmp_path):
    run, arrays = make_run_dir(tmp_path)
    out = tmp_path / "g"
    info = gate_stage(run, run, out, task=TASK, alpha=0.6)
    g = json.loads((out / "gate.json").read_text())
    assert g["alpha"] == 0.6 and g["normal_class"] == "Normal" and g["format"] == "lteval-gate"
    z = arrays["dev"][2]
    q = read_predictions(out / "predictions" / "dev.csv", TASK).p
    want = _reference_gate(sigmoid(z), 0.6, N)
    # predictions/ are written to 8 decimals (they pass validate --strict); logits/ keep every digit
    np.testing.assert_allclose(q, want, rtol=0, atol=5e-9 + 1e-15)
    zq = read_predictions(out / "logits" / "dev.csv", TASK, kind="logits").p
    np.testing.assert_allclose(sigmoid(zq), want, rtol=1e-12, atol=1e-300)
    sc = json.loads((out / "scores" / "dev.json").read_text())
    y = arrays["dev"][1]
    assert sc["overall"]["mAP"] == pytest.approx(_sk_map(y, q), abs=1e-12)
    assert info["splits"] == list(SPLITS)


def test_task_without_normal_is_a_config_error(tmp_path):
    run, _ = make_run_dir(tmp_path, task="cxrlt2026-task2")
    with pytest.raises(ConfigError, match="Normal"):
        gate_stage(run, run, tmp_path / "g", task="cxrlt2026-task2")
    assert not (tmp_path / "g" / "gate.json").exists()
    with pytest.raises(ConfigError, match="Scoliosis"):
        normal_index(get_task("cxrlt2026-task2").classes)
    # another no-finding class by name works
    run1, _ = make_run_dir(tmp_path, "other-00000001")
    gate_stage(run1, run1, tmp_path / "g1", task=TASK, normal="Kyphosis", alpha=0.5)
    q = read_predictions(tmp_path / "g1" / "predictions" / "dev.csv", TASK).p
    # the stage gates sigmoid(logits) (every digit); predictions/ hold them to 8 decimals
    p = sigmoid(read_predictions(run1 / "logits" / "dev.csv", TASK, kind="logits").p)
    k = get_task(TASK).classes.index("Kyphosis")
    np.testing.assert_allclose(q, _reference_gate(p, 0.5, k), rtol=0, atol=5e-9 + 1e-15)


def test_pipeline_registration():
    assert [s["name"] for s in list_stages()] == ["crt", "tau", "lws", "tta", "gate", "calib"]
    assert parse_name("m+crt+tta+gate+calib") == ("m", ("crt", "tta", "gate", "calib"))
    with pytest.raises(UsageError):
        parse_name("m+calib+gate")  # gating calibrated probabilities would void the fitted thresholds
    assert stage_options("gate") == {"alpha": "auto", "normal": "Normal"}
    assert stage_options("gate", {"alpha": "0.25"})["alpha"] == 0.25
    for bad in ("1.5", "-0.1", "x", "nan"):
        with pytest.raises(ConfigError):
            stage_options("gate", {"alpha": bad})
    assert "gate+calib" in all_combos() and "crt+lws+tta+gate+calib" in all_combos()


def test_gate_then_calib_composes(tmp_path):
    """+gate+calib: calibration (temperature) is fitted on the gated logits of calib; being monotone
    per class it keeps the gated mAP; its thresholds apply to the calibrated gated probabilities."""
    run, _ = make_run_dir(tmp_path, scale=4.0)
    g = tmp_path / "post" / "gate"
    gate_stage(run, run, g, task=TASK, alpha=0.7)
    c = tmp_path / "post" / "gate+calib"
    calib_stage(g, run, c, task=TASK, method="temperature", thresholds="f1")
    for s in ("dev", "test"):
        a = json.loads((g / "scores" / f"{s}.json").read_text())["overall"]["mAP"]
        b = json.loads((c / "scores" / f"{s}.json").read_text())["overall"]["mAP"]
        assert b == pytest.approx(a, abs=1e-12)
    cal = json.loads((c / "calibration.json").read_text())
    assert cal["fit"]["fitted_on"] == "calib"


def test_ldam_scaled_logits(tmp_path, monkeypatch):
    """A real tiny LDAM run (cosine head, s = 30): the gate reads its evaluation logits (s*cos) exactly
    as the run's predictions were made from them, so alpha = 0 reproduces predictions/ bit for bit and
    a fitted gate + calib chain runs through the pipeline."""
    from lteval.posttrain.pipeline import run_stages
    from lteval.train.baselines import run_baseline

    monkeypatch.setenv("LTEVAL_HOME", str(tmp_path / "home"))
    tiny = dict(synth_n_train=300, synth_n_dev=60, synth_n_test=60, synth_size=32, image_size=32, epochs=1,
                images_per_epoch=64, batch_size=32, eval_batch_size=128, split_fractions=[0.6, 0.2, 0.2])
    run = run_baseline("resnet50_ldam", preset="smoke", out=tmp_path / "runs", overrides=tiny, progress=False)
    z = read_predictions(run / "logits" / "dev.csv", TASK, kind="logits").p
    assert np.abs(z).max() > 1.0  # scaled logits, not probabilities
    d0 = run_stages(run, "gate", options={"gate": {"alpha": 0}}, progress=False)
    for s in SPLITS:
        assert np.array_equal(read_predictions(d0 / "predictions" / f"{s}.csv", TASK).p,
                              read_predictions(run / "predictions" / f"{s}.csv", TASK).p)
    d = run_stages(run, "gate+calib", options={"gate": {"alpha": 0.5}}, force=True, progress=False)
    p = sigmoid(read_predictions(run / "logits" / "dev.csv", TASK, kind="logits").p)
    q = read_predictions(run / "post" / "gate" / "predictions" / "dev.csv", TASK).p
    np.testing.assert_allclose(q, _reference_gate(p, 0.5, N), rtol=0, atol=5e-9 + 1e-15)
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["chain"] == "gate+calib" and cfg["options"]["gate"]["alpha"] == 0.5
    assert (d / "calibration.json").is_file() and (d / "scores" / "dev.json").is_file()
    assert json.loads((run / "post" / "gate" / "config.json").read_text())["info"]["alpha"] == 0.5


def test_pipeline_refuses_a_task_without_normal_before_training(tmp_path, monkeypatch):
    from lteval.posttrain.pipeline import run_pipeline

    monkeypatch.setenv("LTEVAL_HOME", str(tmp_path / "home"))
    with pytest.raises(ConfigError, match="Normal"):
        run_pipeline("resnet50_bce+gate", out=tmp_path / "runs", overrides={"task": "cxrlt2026-task2"},
                     progress=False)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "home").exists()  # nothing trained
