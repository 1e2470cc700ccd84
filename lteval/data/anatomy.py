"""The synthetic thorax: anatomy, the drawing canvas and its primitives, ribs and lungs.

Everything is drawn with vectorised numpy on normalised coordinates ``x, y`` in ``[0, 1]``
(``x`` left to right *in the image*, so the patient's right lung is on the image's left,
as on a PA film; ``y`` top to bottom), into an *attenuation* map (air dark, soft tissue grey,
bone and metal bright) held by a :class:`Canvas`. The findings (:mod:`lteval.data.findings`)
draw on it; :func:`lteval.data.render.render` exposes it to an 8-bit film.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Anatomy", "Canvas", "sample_patient", "make_anatomy", "center_look", "dome_y", "lung_point",
           "draw_thorax", "finish_ribs"]


# --------------------------------------------------------------------------- anatomy
@dataclass
class Anatomy:
    """Geometry and exposure of one image (patient-level values plus per-image jitter)."""

    cx: float = 0.5            # midline
    half_width: float = 0.35   # half the thoracic width
    lung_top: float = 0.15     # lung apex
    diaphragm_r: float = 0.72  # dome top, patient's right (image left)
    diaphragm_l: float = 0.74  # patient's left (image right)
    dome: float = 0.05         # dome height
    ctr: float = 0.44          # cardiothoracic ratio
    heart_h: float = 0.12      # heart half-height
    rib_spacing: float = 0.075
    rib_curve: float = 1.6
    rib_slope: float = 0.25
    clavicle_y: float = 0.12
    knob_r: float = 0.028
    hilum_amp: float = 0.10
    hilum_sigma: float = 0.028
    spine_amp: float = 0.07
    lung_air: float = 0.30
    marking_gain: float = 0.07
    soft_tissue: float = 0.42
    # exposure
    contrast: float = 1.0
    brightness: float = 0.0
    gamma: float = 1.0
    noise: float = 0.025
    blur_px64: float = 0.55    # blur sigma in pixels at 64 px (scaled with size)
    scale: float = 1.0         # zoom about the image centre
    shift_x: float = 0.0
    shift_y: float = 0.0
    extra: dict = field(default_factory=dict)


def sample_patient(rng: np.random.Generator) -> dict:
    """Patient-level anatomy (shared by every image of a patient), as a dict of floats."""
    return {
        "cx": 0.5 + rng.normal(0, 0.012),
        "half_width": float(np.clip(rng.normal(0.35, 0.025), 0.29, 0.41)),
        "lung_top": float(np.clip(rng.normal(0.15, 0.015), 0.11, 0.19)),
        "diaphragm_r": float(np.clip(rng.normal(0.71, 0.025), 0.64, 0.78)),
        "dome": float(np.clip(rng.normal(0.05, 0.01), 0.03, 0.075)),
        "ctr": float(np.clip(rng.normal(0.44, 0.03), 0.36, 0.52)),
        "heart_h": float(np.clip(rng.normal(0.12, 0.01), 0.095, 0.145)),
        "rib_spacing": float(np.clip(rng.normal(0.075, 0.005), 0.064, 0.088)),
        "soft_tissue": float(np.clip(rng.normal(0.42, 0.05), 0.3, 0.55)),
        "contrast": float(np.clip(rng.normal(1.0, 0.08), 0.8, 1.2)),
        "brightness": rng.normal(0.0, 0.04),
        "gamma": float(np.clip(rng.normal(1.0, 0.08), 0.8, 1.2)),
    }


def make_anatomy(patient: dict, rng: np.random.Generator, center: dict | None = None) -> Anatomy:
    """Per-image anatomy: patient values plus positioning/exposure jitter (and a centre's look)."""
    a = Anatomy(**{k: v for k, v in patient.items() if k in Anatomy.__dataclass_fields__})
    a.diaphragm_l = a.diaphragm_r + 0.02 + rng.normal(0, 0.008)
    a.diaphragm_r += rng.normal(0, 0.01)   # inspiration varies between films
    a.diaphragm_l += rng.normal(0, 0.004)
    a.contrast *= float(np.exp(rng.normal(0, 0.05)))
    a.brightness += rng.normal(0, 0.025)
    a.noise = float(np.clip(rng.normal(0.025, 0.006), 0.012, 0.04))
    a.scale = float(np.exp(rng.normal(0, 0.03)))
    a.shift_x = rng.normal(0, 0.015)
    a.shift_y = rng.normal(0, 0.015)
    a.rib_curve = float(np.clip(rng.normal(1.6, 0.15), 1.2, 2.0))
    a.knob_r = float(np.clip(rng.normal(0.028, 0.003), 0.02, 0.035))
    if center:
        a.contrast *= center.get("contrast", 1.0)
        a.brightness += center.get("brightness", 0.0)
        a.gamma *= center.get("gamma", 1.0)
        a.noise *= center.get("noise", 1.0)
        a.blur_px64 += center.get("blur", 0.0)
        a.scale *= center.get("scale", 1.0)
    return a


def center_look(shift: float) -> dict:
    """Exposure of a second acquisition centre; ``shift`` 0 is the training look, 1 is strong."""
    s = float(shift)
    return {"contrast": 1.0 - 0.25 * s, "brightness": 0.08 * s, "gamma": 1.0 + 0.3 * s,
            "noise": 1.0 + 1.2 * s, "blur": 0.5 * s, "scale": 1.0 - 0.05 * s}


# --------------------------------------------------------------------------- canvas
class Canvas:
    """Coordinate grids plus the layers findings draw into."""

    def __init__(self, size: int, anat: Anatomy):
        self.size = size
        self.px = 1.0 / size
        c = (np.arange(size, dtype=np.float32) + 0.5) / size
        # zoom/shift: map image coordinates to body coordinates
        x = (c - 0.5) / anat.scale + 0.5 - anat.shift_x
        y = (c - 0.5) / anat.scale + 0.5 - anat.shift_y
        self.X, self.Y = np.meshgrid(x, y)
        self.A = np.zeros((size, size), np.float32)         # attenuation
        self.M = np.zeros((size, size), np.float32)         # lung markings layer
        self.keep = np.ones((size, size), np.float32)       # multiplier on markings
        self.lungs: dict[str, np.ndarray] = {}
        self.body = np.ones((size, size), np.float32)
        self.edge = max(1.2 / size, 0.008)                   # soft-edge width
        self._weights: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    # ---- shapes (all return float32 masks in [0, 1]) ----
    def ramp(self, d, width=None):
        w = self.edge if width is None else width
        return np.clip(0.5 - d / w, 0.0, 1.0)

    def ellipse_d(self, cx, cy, rx, ry):
        r = np.sqrt(((self.X - cx) / rx) ** 2 + ((self.Y - cy) / ry) ** 2)
        return (r - 1.0) * min(rx, ry)

    def ellipse(self, cx, cy, rx, ry, width=None):
        return self.ramp(self.ellipse_d(cx, cy, rx, ry), width)

    def disk(self, cx, cy, r, width=None):
        return self.ellipse(cx, cy, r, r, width)

    def ring(self, cx, cy, rx, ry, thick):
        d = np.abs(self.ellipse_d(cx, cy, rx, ry))
        return self.ramp(d - thick / 2)

    def gauss(self, cx, cy, sx, sy=None):
        sy = sx if sy is None else sy
        return np.exp(-0.5 * (((self.X - cx) / sx) ** 2 + ((self.Y - cy) / sy) ** 2))

    def polyline_d(self, pts):
        pts = np.asarray(pts, np.float32)
        p0 = pts[:-1, :, None, None]
        p1 = pts[1:, :, None, None]
        dx, dy = p1[:, 0] - p0[:, 0], p1[:, 1] - p0[:, 1]
        px, py = self.X[None] - p0[:, 0], self.Y[None] - p0[:, 1]
        t = np.clip((px * dx + py * dy) / np.maximum(dx * dx + dy * dy, 1e-9), 0, 1)
        d = np.sqrt((px - t * dx) ** 2 + (py - t * dy) ** 2)
        return d.min(axis=0)

    def line(self, pts, thick):
        thick = max(thick, 0.6 / self.size)
        return self.ramp(self.polyline_d(pts) - thick / 2, max(self.edge * 0.8, 0.8 / self.size))

    def _interp(self, coords: np.ndarray, cells: int) -> np.ndarray:
        """(len(coords), cells + 1) bilinear weights sampling a coarse grid at ``coords`` in [0, 1]."""
        u = np.clip(coords, 0, 1) * cells
        i0 = np.minimum(u.astype(int), cells - 1)
        f = (u - i0).astype(np.float32)
        w = np.zeros((len(coords), cells + 1), np.float32)
        w[np.arange(len(coords)), i0] = 1 - f
        w[np.arange(len(coords)), i0 + 1] = f
        return w

    def smooth_noise(self, rng, cells=6):
        """Low-frequency noise in about [-1, 1] (bilinear upsampling of a coarse grid)."""
        g = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
        if cells not in self._weights:   # X varies along columns only, Y along rows only
            self._weights[cells] = (self._interp(self.Y[:, 0], cells), self._interp(self.X[0], cells))
        wy, wx = self._weights[cells]
        return (wy @ g @ wx.T) / 1.5


def _side_x(anat: Anatomy, side: str) -> float:
    """Centre x of a lung: 'r' = patient's right = image left."""
    off = 0.52 * anat.half_width
    return anat.cx - off if side == "r" else anat.cx + off


def dome_y(cv: Canvas, anat: Anatomy, side: str) -> np.ndarray:
    """Height of the hemidiaphragm on ``side`` at every column (a parabola)."""
    top = anat.diaphragm_r if side == "r" else anat.diaphragm_l
    xc = _side_x(anat, side)
    rx = 0.55 * anat.half_width
    return top + anat.dome * np.clip(((cv.X - xc) / rx) ** 2, 0, 4)


def lung_point(rng, anat: Anatomy, side: str | None = None, zone: str = "any"):
    """A random (x, y) inside a lung, optionally in the 'upper', 'lower' or 'mid' zone."""
    side = side or ("r" if rng.random() < 0.5 else "l")
    xc = _side_x(anat, side)
    top = anat.lung_top
    bottom = (anat.diaphragm_r if side == "r" else anat.diaphragm_l) + 0.01
    lo, hi = {"upper": (0.05, 0.4), "lower": (0.6, 0.92), "mid": (0.3, 0.7)}.get(zone, (0.1, 0.9))
    y = top + (bottom - top) * rng.uniform(lo, hi)
    # lateral position, medial part avoided (mediastinum)
    w = 0.36 * anat.half_width
    x = xc + rng.uniform(-w, w) * (0.6 if zone == "upper" else 1.0)
    return float(x), float(y), side


# --------------------------------------------------------------------------- base thorax
def draw_thorax(cv: Canvas, anat: Anatomy, rng: np.random.Generator) -> None:
    """Body, lungs with vessel markings, mediastinum, heart, aorta, hila, spine, ribs, clavicles."""
    X, Y, a = cv.X, cv.Y, anat
    hw = a.half_width
    # body (soft tissue) with shoulders and neck
    body = cv.ellipse(a.cx, 0.62, hw + 0.11, 0.62, width=0.03)
    body = np.maximum(body, cv.ellipse(a.cx, 0.02, 0.09, 0.16))
    cv.A += a.soft_tissue * body
    cv.body = body
    # heart (sits towards the image right = patient left) and mediastinum occlude the lungs
    hrx = a.ctr * hw
    hcy = min(a.diaphragm_r, a.diaphragm_l) - a.heart_h * 0.45
    heart = cv.ellipse(a.cx + 0.25 * hrx, hcy, hrx, a.heart_h, width=0.012)
    a.extra["heart"] = (a.cx + 0.25 * hrx, hcy, hrx, a.heart_h)
    medi = cv.ramp(np.abs(X - a.cx) - (0.055 + 0.02 * np.clip((Y - 0.15) / 0.2, 0, 1)), 0.012)
    occl = 1 - np.maximum(heart, medi)
    # lungs
    for side in ("r", "l"):
        xc = _side_x(a, side)
        bottom = (a.diaphragm_r if side == "r" else a.diaphragm_l) + a.dome * 1.6
        ry = (bottom - a.lung_top) / 2 + 0.02
        lung = cv.ellipse(xc, a.lung_top + ry - 0.02, 0.43 * hw, ry, width=0.02)
        lung *= cv.ramp(Y - dome_y(cv, a, side), 0.012) * occl
        cv.lungs[side] = lung
        cv.A -= a.lung_air * lung
        # vessel markings radiating from the hilum, tapering to the periphery
        hx, hy = (a.cx - 0.085 if side == "r" else a.cx + 0.09), 0.43
        theta = np.arctan2(Y - hy, X - hx)
        r = np.sqrt((X - hx) ** 2 + (Y - hy) ** 2)
        wig = cv.smooth_noise(rng, 5) * 1.2
        ves = (0.5 + 0.5 * np.cos(13 * theta + wig + rng.uniform(0, 6.3))) ** 6
        cv.M += ves * np.exp(-r / 0.22) * lung
        cv.M += 0.18 * np.clip(cv.smooth_noise(rng, 9), -1, 1) * lung
    lungs = np.maximum(cv.lungs["r"], cv.lungs["l"])
    cv.A += 0.05 * medi * (Y > 0.1) + 0.08 * heart
    # trachea
    cv.A -= 0.10 * cv.ramp(np.abs(X - a.cx) - 0.013) * cv.ramp(Y - 0.31)
    # aortic knob
    kx, ky = a.cx + 0.06, hcy - a.heart_h - 0.04
    a.extra["knob"] = (kx, ky)
    knob = cv.disk(kx, ky, a.knob_r)
    cv.A += 0.06 * knob + a.lung_air * knob * lungs
    # hila
    for hx in (a.cx - 0.085, a.cx + 0.09):
        cv.A += a.hilum_amp * cv.gauss(hx, 0.43, a.hilum_sigma, a.hilum_sigma * 1.4) * (0.5 + 0.5 * lungs)
    # spine with vertebrae
    vs = a.rib_spacing * 0.55
    vert = 0.75 + 0.25 * (np.mod(Y / vs, 1.0) < 0.8)
    bend = a.extra.get("scoliosis", 0.0) * np.sin(np.pi * np.clip((Y - 0.1) / 0.8, 0, 1))
    cv.A += a.spine_amp * vert * cv.ramp(np.abs(X - a.cx - bend) - 0.028, 0.01)
    # ribs: a periodic family of curved bands on each side
    dx = np.abs(X - a.cx)
    t = (Y - a.lung_top + 0.03 - a.rib_curve * dx * dx - a.rib_slope * dx) / a.rib_spacing
    a.extra["rib_t"] = t
    # (the ribs themselves are added by finish_ribs, after a fracture may have cut them)
    # clavicles
    for s in (-1, 1):
        cv.A += 0.18 * cv.line([(a.cx + s * 0.035, a.clavicle_y + 0.03), (a.cx + s * 0.2, a.clavicle_y - 0.005),
                                (a.cx + s * (hw + 0.03), a.clavicle_y - 0.03)], 0.022)


def finish_ribs(cv: Canvas, anat: Anatomy) -> None:
    """Add the ribs (after a fracture may have cut them)."""
    a = anat
    t = a.extra["rib_t"]
    frac = np.mod(t, 1.0)
    band = np.clip(1 - np.abs(frac - 0.2) / 0.17, 0, 1) ** 0.7
    dx = np.abs(cv.X - a.cx)
    within = cv.ramp(dx - (a.half_width + 0.02), 0.02) * np.clip((dx - 0.02) / 0.04, 0, 1)
    bottom = max(a.diaphragm_r, a.diaphragm_l) + 0.06
    vert = cv.ramp(cv.Y - bottom, 0.03) * cv.ramp(a.lung_top - 0.04 - cv.Y, 0.02)
    gap = a.extra.get("rib_gap")
    ribs = band * within * vert
    if gap is not None:
        ribs *= gap
    cv.A += 0.10 * ribs
