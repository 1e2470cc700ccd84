"""The synthetic findings registry: a distinct, severity-scaled appearance for each CXR-LT finding.

:data:`FINDINGS` is a :class:`lteval.registry.Registry` with one entry per Task-1 class: its
``obj`` is ``draw(canvas, anatomy, rng, severity)`` (an overlay: a nodule, a line, a meniscus, ...;
``None`` for Normal), its ``modify(anatomy, rng, severity)`` (or ``None``) changes the anatomy
before the thorax is drawn (an enlarged heart, a raised hemidiaphragm, ...), and its ``summary``
describes the rendering in words (``FINDING_DOCS``; ``docs/data.md`` prints it). Severity is in
``(0, 1]`` and scales size and contrast, so subtle and obvious cases both occur.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from lteval.data.anatomy import Anatomy, Canvas, _side_x, dome_y, lung_point
from lteval.registry import Registry
from lteval.tasks import CXRLT2026_TASK1_CLASSES

__all__ = ["FINDINGS", "FINDING_DOCS", "FINDING_GAIN", "CLASSES"]

CLASSES = CXRLT2026_TASK1_CLASSES
#: Global multiplier on every finding's contrast; tuned with benchmarks/synth_difficulty.py.
FINDING_GAIN = 1.0


# --------------------------------------------------------------------------- findings
Modify = Callable[[Anatomy, np.random.Generator, float], None]
Draw = Callable[[Canvas, Anatomy, np.random.Generator, float], None]

#: Every finding (``obj``: draw or None; ``modify``: anatomy change or None; ``summary``: the words).
FINDINGS = Registry("finding")


def _finding(name: str, doc: str, *, modify: Modify | None = None):
    """Decorator: register ``draw`` (or None) as the finding ``name`` described by ``doc``."""
    assert name in CLASSES, name

    def deco(fn: Draw | None):
        FINDINGS.register(name, fn, summary=doc, paper="-", modify=modify)
        return fn
    return deco


G = lambda: FINDING_GAIN  # noqa: E731


_finding("Normal", "No finding: the thorax alone (normal anatomical variation only).")(None)


def _mod_cardiomegaly(a, rng, s):
    a.ctr = a.ctr + 0.04 + 0.12 * s
    a.heart_h *= 1.0 + 0.18 * s


_finding("cardiomegaly", "Enlarged heart: cardiothoracic ratio raised by 0.04-0.16 above the patient's own "
         "(normal 0.36-0.52, so mild cases overlap normal hearts), taller heart shadow.",
         modify=_mod_cardiomegaly)(None)


def _mod_aortic_elongation(a, rng, s):
    a.knob_r *= 1.2 + 0.5 * s
    a.extra["aorta_elong"] = s


@_finding("aortic elongation", "Unfolded aorta: enlarged, higher aortic knob and a bulging descending "
          "aorta beside the spine on the patient's left.", modify=_mod_aortic_elongation)
def _draw_aortic_elongation(cv, a, rng, s):
    kx, ky = a.extra["knob"]
    cv.A += G() * (0.05 + 0.06 * s) * cv.disk(kx + 0.01, ky - 0.01, a.knob_r * 0.9)
    cv.A += G() * (0.04 + 0.06 * s) * cv.line([(kx + 0.005, ky), (a.cx + 0.06 + 0.03 * s, ky + 0.12),
                                               (a.cx + 0.05 + 0.02 * s, ky + 0.3)], 0.025 + 0.01 * s)


@_finding("pleural effusion", "Basal pleural fluid: the costophrenic angle fills with soft-tissue density "
          "whose upper edge is a meniscus rising towards the chest wall; one or both sides.")
def _draw_effusion(cv, a, rng, s):
    sides = ["r", "l"] if rng.random() < 0.35 else [("r" if rng.random() < 0.5 else "l")]
    for side in sides:
        lung = cv.lungs[side]
        dtop = a.diaphragm_r if side == "r" else a.diaphragm_l
        sgn = -1 if side == "r" else 1
        x_med, x_lat = a.cx + sgn * 0.05, _side_x(a, side) + sgn * 0.43 * a.half_width
        pos = np.clip((cv.X - x_med) / (x_lat - x_med), 0, 1)
        level = dtop + a.dome * 0.5 - (0.01 + 0.07 * s) * rng.uniform(0.6, 1.0)
        meniscus = level - (0.02 + 0.16 * s) * pos ** 2
        fluid = cv.ramp(meniscus - cv.Y, 0.012) * lung
        cv.A += G() * (a.lung_air + 0.05) * fluid
        cv.keep *= 1 - fluid


@_finding("Nodule", "Small, well-defined round opacity (radius 2.5-4.5 % of the image) anywhere in a lung; "
          "1-2 of them.")
def _draw_nodule(cv, a, rng, s):
    for _ in range(1 if rng.random() < 0.75 else 2):
        x, y, _side = lung_point(rng, a)
        r = 0.025 + 0.02 * s * rng.uniform(0.6, 1)
        cv.A += G() * (0.2 + 0.15 * s) * cv.disk(x, y, r, width=0.008)


def _mod_atelectasis(a, rng, s):
    side = "r" if rng.random() < 0.5 else "l"
    a.extra["atel_side"] = side
    if side == "r":
        a.diaphragm_r -= 0.01 + 0.02 * s
    else:
        a.diaphragm_l -= 0.01 + 0.02 * s


@_finding("atelectasis", "Plate-like (discoid) atelectasis: 1-3 short, slightly tilted dense bands in the "
          "lower lung zone, with slight ipsilateral volume loss.", modify=_mod_atelectasis)
def _draw_atelectasis(cv, a, rng, s):
    side = a.extra["atel_side"]
    for _ in range(rng.integers(1, 4)):
        x, y, _ = lung_point(rng, a, side, "lower")
        ln = 0.08 + 0.08 * s
        tilt = rng.normal(0, 0.15)
        pts = [(x - ln / 2, y - tilt * ln / 2), (x + ln / 2, y + tilt * ln / 2)]
        cv.A += G() * (0.19 + 0.13 * s) * cv.line(pts, 0.016 + 0.012 * s)


@_finding("pleural thickening", "Pleural thickening: a dense rim along the inside of the chest wall, "
          "at the apex (apical cap) and/or along the lateral wall.")
def _draw_pleural_thickening(cv, a, rng, s):
    for side in (["r", "l"] if rng.random() < 0.4 else [("r" if rng.random() < 0.5 else "l")]):
        lung = cv.lungs[side]
        xc = _side_x(a, side)
        bottom = (a.diaphragm_r if side == "r" else a.diaphragm_l) + a.dome * 1.6
        ry = (bottom - a.lung_top) / 2 + 0.02
        d = cv.ellipse_d(xc, a.lung_top + ry - 0.02, 0.43 * a.half_width, ry)
        th = 0.018 + 0.025 * s
        rim = cv.ramp(np.abs(d + th / 2) - th / 2, 0.01)
        sgn = -1 if side == "r" else 1
        where = cv.ramp(cv.Y - (a.lung_top + 0.12), 0.03) if rng.random() < 0.6 else \
            cv.ramp(-((cv.X - xc) * sgn - 0.25 * a.half_width), 0.02)
        cv.A += G() * (0.24 + 0.16 * s) * rim * where * np.sqrt(lung)


@_finding("aortic atheromatosis", "Calcified aortic wall: a thin, very bright arc on the rim of the aortic knob.")
def _draw_atheromatosis(cv, a, rng, s):
    kx, ky = a.extra["knob"]
    r = a.knob_r * 1.05
    ang = np.arctan2(cv.Y - ky, cv.X - kx)
    start = rng.uniform(-2.6, -1.2)
    arc = (ang > start) & (ang < start + 1.6 + 1.4 * s)
    cv.A += G() * (0.45 + 0.35 * s) * cv.ring(kx, ky, r, r, 0.012) * arc


@_finding("Support Devices", "Support devices, one to three of: ECG electrodes (small bright rings), "
          "endotracheal tube (bright tube in the trachea), nasogastric tube (line down the midline "
          "to below the left hemidiaphragm), pacemaker (bright box below a clavicle with a lead to the heart).")
def _draw_support(cv, a, rng, s):
    kinds = rng.permutation(["ecg", "ett", "ngt", "pm"])[: rng.integers(1, 4)]
    v = G() * (0.45 + 0.3 * s)
    for k in kinds:
        if k == "ecg":
            for _ in range(rng.integers(2, 5)):
                x = a.cx + rng.choice([-1, 1]) * rng.uniform(0.1, a.half_width)
                y = rng.uniform(0.2, 0.75)
                cv.A += v * cv.ring(x, y, 0.02, 0.02, 0.007)
        elif k == "ett":
            tip = rng.uniform(0.22, 0.29)
            cv.A += v * cv.line([(a.cx + 0.004, -0.02), (a.cx, tip)], 0.012)
        elif k == "ngt":
            cv.A += v * 0.8 * cv.line([(a.cx - 0.01, -0.02), (a.cx + 0.01, 0.4), (a.cx + 0.04, a.diaphragm_l + 0.03),
                                       (a.cx + 0.12, a.diaphragm_l + 0.1)], 0.008)
        else:
            side = rng.choice([-1, 1])
            bx, by = a.cx + side * rng.uniform(0.18, 0.26), a.clavicle_y + 0.06
            box = cv.ramp(np.maximum(np.abs(cv.X - bx) - 0.035, np.abs(cv.Y - by) - 0.025))
            hx, hy, hrx, hh = a.extra["heart"]
            cv.A += v * 1.2 * box
            cv.A += v * cv.line([(bx, by), (a.cx + side * 0.05, by + 0.05), (a.cx - 0.02, hy - 0.05),
                                 (hx + 0.3 * hrx, hy + 0.5 * hh)], 0.007)


@_finding("alveolar pattern", "Air-space consolidation: fluffy, patchy, confluent opacities in one region "
          "of a lung (or perihilar, both sides).")
def _draw_alveolar(cv, a, rng, s):
    patches = [lung_point(rng, a)] if rng.random() < 0.7 else \
        [(a.cx - 0.12, 0.45, "r"), (a.cx + 0.12, 0.45, "l")]
    for x, y, side in patches:
        sig = 0.05 + 0.05 * s
        blob = cv.gauss(x, y, sig, sig * 1.2)
        fluffy = np.clip(cv.smooth_noise(rng, 12) * 1.3 + 0.5, 0, 1)
        cv.A += G() * (0.22 + 0.14 * s) * np.clip(blob * (0.5 + fluffy) - 0.15, 0, 1) * cv.lungs[side]


def _mod_fracture(a, rng, s):
    a.extra["fracture"] = [(int(rng.integers(2, 7)), rng.uniform(0.45, 0.9) * a.half_width,
                            rng.choice([-1, 1])) for _ in range(1 if rng.random() < 0.7 else 2)]


@_finding("fracture", "Rib fracture: one or two ribs interrupted laterally by a gap, the lateral fragment "
          "displaced, a small extrapleural haematoma against the chest wall at the break; most with a "
          "bright healing callus there.", modify=_mod_fracture)
def _draw_fracture(cv, a, rng, s):
    t = a.extra["rib_t"].copy()
    gap = np.ones_like(t)
    dxs = cv.X - a.cx
    for n, d0, side in a.extra["fracture"]:
        rib = np.floor(t) == n
        beyond = (dxs * side) > d0
        t = np.where(rib & beyond, t + (0.25 + 0.25 * s), t)
        g = 0.02 + 0.02 * s
        gap *= 1 - (np.abs(dxs * side - d0) < g) * (np.floor(a.extra["rib_t"]) == n)
        yb = a.lung_top - 0.03 + a.rib_curve * d0 * d0 + a.rib_slope * d0 + (n + 0.2) * a.rib_spacing
        xb = a.cx + side * d0
        if rng.random() < 0.8:  # healing callus at the break
            cv.A += G() * (0.18 + 0.14 * s) * cv.disk(xb, yb, 0.014 + 0.012 * s)
        # extrapleural haematoma: a soft lens against the lateral chest wall at the break's level
        xw = a.cx + side * (a.half_width - 0.03)
        cv.A += G() * (0.14 + 0.12 * s) * cv.ellipse(xw, yb, 0.025 + 0.015 * s, 0.05 + 0.03 * s, width=0.02)
    a.extra["rib_t"] = t
    a.extra["rib_gap"] = gap


@_finding("Hernia", "Hiatal hernia: a round retrocardiac opacity above the diaphragm with a dark air "
          "bubble and a flat air-fluid level.")
def _draw_hernia(cv, a, rng, s):
    hx, hy, hrx, hh = a.extra["heart"]
    x, y = a.cx + 0.02, hy + 0.35 * hh
    r = 0.03 + 0.035 * s
    d = cv.disk(x, y, r)
    cv.A += G() * 0.12 * d
    level = y + rng.uniform(-0.2, 0.3) * r
    cv.A -= G() * (0.2 + 0.15 * s) * cv.disk(x, y, r * 0.85) * (cv.Y < level)
    cv.A += G() * 0.1 * cv.ring(x, y, r, r, 0.006)


def _mod_emphysema(a, rng, s):
    a.diaphragm_r += 0.02 * s
    a.diaphragm_l += 0.02 * s
    a.lung_air += 0.06 + 0.08 * s


@_finding("Emphysema", "Emphysema: hyperlucent lungs with sparse vessel markings in the upper zones, and "
          "thin-walled bullae.", modify=_mod_emphysema)
def _draw_emphysema(cv, a, rng, s):
    upper = cv.ramp(cv.Y - (a.lung_top + 0.25), 0.08)
    cv.keep *= 1 - (0.6 + 0.4 * s) * upper
    for _ in range(rng.integers(1, 4)):
        x, y, side = lung_point(rng, a, zone="upper")
        r = 0.025 + 0.03 * s
        cv.A -= G() * 0.08 * cv.disk(x, y, r) * cv.lungs[side]
        cv.A += G() * 0.1 * cv.ring(x, y, r, r, 0.006) * cv.lungs[side]


@_finding("azygos lobe", "Azygos fissure: a thin curved line from the right apex down to the mediastinum, "
          "ending in a small tear-drop (the azygos vein).")
def _draw_azygos(cv, a, rng, s):
    x0 = a.cx - rng.uniform(0.09, 0.15)
    pts = [(x0, a.lung_top + 0.005), (x0 + 0.03, a.lung_top + 0.07), (a.cx - 0.045, a.lung_top + 0.14)]
    cv.A += G() * (0.16 + 0.12 * s) * cv.line(pts, 0.008)
    cv.A += G() * (0.18 + 0.1 * s) * cv.ellipse(a.cx - 0.04, a.lung_top + 0.15, 0.016, 0.022)


@_finding("Hydropneumothorax", "Hydropneumothorax: a lateral air space without lung markings above a "
          "straight horizontal air-fluid level (not a meniscus).")
def _draw_hydropneumo(cv, a, rng, s):
    side = "r" if rng.random() < 0.5 else "l"
    _pneumo(cv, a, rng, 0.6 + 0.4 * s, side)
    dtop = a.diaphragm_r if side == "r" else a.diaphragm_l
    level = dtop - 0.05 - 0.12 * s
    fluid = cv.ramp(level - cv.Y, 0.006) * cv.lungs[side]
    cv.A += G() * (a.lung_air + 0.1) * fluid
    cv.keep *= 1 - fluid


def _mod_kyphosis(a, rng, s):
    a.rib_spacing *= 0.96 - 0.08 * s
    a.rib_curve *= 0.85 - 0.3 * s
    a.rib_slope *= 0.8 - 0.5 * s
    a.clavicle_y -= 0.01 + 0.03 * s
    a.lung_top -= 0.01 * s
    a.spine_amp *= 1.2


_finding("Kyphosis", "Kyphosis (seen on a frontal film): a tilted thoracic cage — flatter, crowded ribs, "
         "clavicles projected high, a denser spine.", modify=_mod_kyphosis)(None)


@_finding("Mass", "Mass: a large (radius 5-10 % of the image), lobulated, dense opacity in a lung.")
def _draw_mass(cv, a, rng, s):
    x, y, side = lung_point(rng, a, zone="mid")
    r = 0.05 + 0.05 * s
    x += (0.3 * r) * (-1 if side == "r" else 1)
    ang = np.arctan2(cv.Y - y, cv.X - x)
    rr = r * (1 + 0.12 * np.sin(3 * ang + rng.uniform(0, 6.3)) + 0.06 * np.sin(5 * ang + rng.uniform(0, 6.3)))
    d = np.sqrt((cv.X - x) ** 2 + (cv.Y - y) ** 2) - rr
    cv.A += G() * (0.18 + 0.14 * s) * cv.ramp(d, 0.015)


def _pneumo(cv, a, rng, s, side):
    xc = _side_x(a, side)
    bottom = (a.diaphragm_r if side == "r" else a.diaphragm_l) + a.dome * 1.6
    ry = (bottom - a.lung_top) / 2 + 0.02
    rx = 0.43 * a.half_width
    k = 0.16 + 0.3 * s  # fraction of collapse
    sgn = -1 if side == "r" else 1
    cx2 = xc - sgn * rx * k * 0.5
    cy2 = a.lung_top + ry - 0.02 + ry * k * 0.35
    d2 = cv.ellipse_d(cx2, cy2, rx * (1 - k * 0.5), ry * (1 - k * 0.35))
    inner = cv.ramp(d2, 0.006)
    ptx = cv.lungs[side] * (1 - inner)
    cv.keep *= 1 - ptx
    cv.A -= G() * (0.05 + 0.05 * s) * ptx
    cv.A += G() * 0.07 * cv.ramp(np.abs(d2) - 0.003, 0.005) * cv.lungs[side]
    return ptx


@_finding("Pneumothorax", "Pneumothorax: an apical and lateral rim of dark air without lung markings, "
          "bounded by a thin visible pleural line (the collapsed lung's edge).")
def _draw_pneumothorax(cv, a, rng, s):
    _pneumo(cv, a, rng, s, "r" if rng.random() < 0.5 else "l")


@_finding("Subcutaneous Emphysema", "Subcutaneous emphysema: dark streaks and bubbles of gas in the soft "
          "tissue of the lateral chest wall and neck.")
def _draw_subcut(cv, a, rng, s):
    sides = [-1, 1] if rng.random() < 0.5 else [rng.choice([-1, 1])]
    stripes = np.sin(2 * np.pi * (cv.Y * rng.uniform(14, 22) + 0.8 * cv.smooth_noise(rng, 8)
                                  + 3 * cv.X)) > 0.2
    for sd in sides:
        dx = (cv.X - a.cx) * sd
        wall = cv.ramp(-(dx - (a.half_width - 0.02)), 0.015) * cv.ramp(dx - (a.half_width + 0.1), 0.015)
        vert = cv.ramp(cv.Y - rng.uniform(0.6, 0.85), 0.05)
        cv.A -= G() * (0.14 + 0.14 * s) * wall * vert * stripes * cv.body


@_finding("pneumoperitoneo", "Pneumoperitoneum: a dark crescent of free air under a hemidiaphragm "
          "(usually the right), outlining the dome.")
def _draw_pneumoperitoneo(cv, a, rng, s):
    for side in (["r"] if rng.random() < 0.7 else ["r", "l"]):
        dy = dome_y(cv, a, side)
        th = 0.012 + 0.02 * s
        xc = _side_x(a, side)
        band = cv.ramp(-(cv.Y - dy - 0.004), 0.005) * cv.ramp(cv.Y - dy - th, 0.006)
        band *= cv.ramp(np.abs(cv.X - xc) - 0.4 * a.half_width, 0.02)
        cv.A -= G() * (0.22 + 0.12 * s) * band


def _mod_vhe(a, rng, s):
    a.hilum_amp *= 1.4 + 1.2 * s
    a.hilum_sigma *= 1.15 + 0.4 * s


_finding("vascular hilar enlargement", "Enlarged hila: both hilar shadows larger and denser.", modify=_mod_vhe)(None)


@_finding("vertebral degenerative changes", "Spondylosis: bright osteophyte spurs on the lateral margins "
          "of several vertebrae and sclerotic end plates.")
def _draw_vdc(cv, a, rng, s):
    vs = a.rib_spacing * 0.55
    k = np.floor(cv.Y / vs)
    fy = np.mod(cv.Y / vs, 1.0)
    chosen = rng.random(64) < 0.3 + 0.4 * s
    sel = chosen[np.clip(k.astype(int), 0, 63)] & (cv.Y > 0.25) & (cv.Y < 0.85)
    dx = np.abs(cv.X - a.cx)
    spur = cv.ramp(np.abs(dx - 0.036) - (0.008 + 0.006 * s)) * ((fy > 0.72) & (fy < 0.95))
    plate = cv.ramp(dx - 0.03) * ((fy > 0.75) & (fy < 0.85))
    cv.A += G() * (0.25 + 0.2 * s) * (spur + 0.5 * plate) * sel


def _mod_hyperinflated(a, rng, s):
    a.diaphragm_r += 0.02 + 0.06 * s
    a.diaphragm_l += 0.02 + 0.06 * s
    a.dome *= 0.6 - 0.3 * s
    a.ctr *= 0.92 - 0.06 * s
    a.lung_air += 0.03


_finding("hyperinflated lung", "Hyperinflation: low, flattened hemidiaphragms, long lung fields and a "
         "narrow heart.", modify=_mod_hyperinflated)(None)


@_finding("interstitial pattern", "Interstitial (reticular) pattern: a fine network of lines over both "
          "lower lung zones.")
def _draw_interstitial(cv, a, rng, s):
    n = cv.smooth_noise(rng, max(8, cv.size // 5))
    net = cv.ramp(np.abs(n) - 0.08 - 0.06 * s, 0.05)
    zone = cv.ramp(-(cv.Y - (a.lung_top + 0.2 + 0.15 * (1 - s))), 0.06)
    lungs = np.maximum(cv.lungs["r"], cv.lungs["l"])
    cv.A += G() * (0.1 + 0.1 * s) * net * zone * lungs


@_finding("central venous catheter", "Central venous catheter: a thin bright line entering at the neck "
          "or below a clavicle and running into the superior vena cava, tip at the right heart border.")
def _draw_cvc(cv, a, rng, s):
    hx, hy, hrx, hh = a.extra["heart"]
    tip = (a.cx - 0.03 + rng.normal(0, 0.01), hy - hh - rng.uniform(0.0, 0.04))
    if rng.random() < 0.5:   # subclavian
        side = rng.choice([-1, 1])
        pts = [(a.cx + side * rng.uniform(0.2, 0.3), a.clavicle_y + 0.02), (a.cx + side * 0.08, a.clavicle_y + 0.05),
               (a.cx - 0.035, a.clavicle_y + 0.1), tip]
    else:                    # jugular
        x0 = a.cx + rng.choice([-1, 1]) * rng.uniform(0.04, 0.07)
        pts = [(x0, -0.02), (x0 * 0.5 + (a.cx - 0.03) * 0.5, a.clavicle_y + 0.05), tip]
    cv.A += G() * (0.3 + 0.25 * s) * cv.line(pts, 0.007)


def _mod_hypoexpansion(a, rng, s):
    a.diaphragm_r -= 0.05 + 0.06 * s
    a.diaphragm_l -= 0.05 + 0.06 * s
    a.ctr *= 1.04 + 0.04 * s
    a.marking_gain *= 1.3


_finding("hypoexpansion", "Low lung volumes: both hemidiaphragms high, short lung fields, crowded "
         "markings, broad heart.", modify=_mod_hypoexpansion)(None)


@_finding("bronchiectasis", "Bronchiectasis: tram-track parallel lines and ring shadows (thick-walled "
          "bronchi) clustered in a lower zone.")
def _draw_bronchiectasis(cv, a, rng, s):
    x0, y0, side = lung_point(rng, a, zone="lower")
    for _ in range(rng.integers(3, 7)):
        x, y = x0 + rng.normal(0, 0.03), y0 + rng.normal(0, 0.03)
        if rng.random() < 0.5:
            r = 0.014 + 0.01 * s
            cv.A += G() * (0.22 + 0.14 * s) * cv.ring(x, y, r, r, 0.009)
        else:
            ang = rng.uniform(0, np.pi)
            ux, uy = math.cos(ang) * 0.04, math.sin(ang) * 0.04
            nx, ny = -uy / 0.04 * 0.012, ux / 0.04 * 0.012
            for sg in (-1, 1):
                cv.A += G() * (0.2 + 0.12 * s) * cv.line([(x - ux + sg * nx, y - uy + sg * ny),
                                                          (x + ux + sg * nx, y + uy + sg * ny)], 0.008)


def _mod_hemidiaphragm(a, rng, s):
    if rng.random() < 0.65:
        a.diaphragm_r -= 0.03 + 0.08 * s
    else:
        a.diaphragm_l -= 0.03 + 0.08 * s


_finding("hemidiaphragm elevation", "One hemidiaphragm (more often the right) raised well above the other.",
         modify=_mod_hemidiaphragm)(None)


@_finding("sternotomy", "Median sternotomy: a vertical column of 4-6 bright wire loops on the midline over "
          "the mediastinum.")
def _draw_sternotomy(cv, a, rng, s):
    n = int(rng.integers(4, 7))
    y0, y1 = 0.24 + rng.normal(0, 0.02), 0.55 + rng.normal(0, 0.03)
    for y in np.linspace(y0, y1, n):
        x = a.cx + rng.normal(0, 0.004)
        cv.A += G() * (0.4 + 0.3 * s) * cv.ring(x, y, 0.016, 0.011, 0.007)


@_finding("calcified densities", "Calcified granulomas: 1-4 tiny, very bright dots in the lungs or hila.")
def _draw_calcified(cv, a, rng, s):
    for _ in range(rng.integers(1, 5)):
        if rng.random() < 0.3:
            x, y = a.cx + rng.choice([-0.09, 0.09]) + rng.normal(0, 0.01), 0.43 + rng.normal(0, 0.02)
        else:
            x, y, _side = lung_point(rng, a)
        cv.A += G() * (0.5 + 0.4 * s) * cv.disk(x, y, 0.01 + 0.006 * s, width=0.006)


#: How each finding is drawn, in words (finding -> description), in registration order.
FINDING_DOCS: dict[str, str] = {e.name: e.summary for e in FINDINGS.entries()}
assert set(FINDING_DOCS) == set(CLASSES), set(CLASSES) - set(FINDING_DOCS)
