"""Procedural chest X-ray drawing: one synthetic image from labels, a patient and a random stream.

:func:`render` builds the thorax of :mod:`lteval.data.anatomy` (an *attenuation* map: air dark,
soft tissue grey, bone and metal bright), lets each present finding of the registry
:data:`lteval.data.findings.FINDINGS` first ``modify`` the anatomy (an enlarged heart, a raised
hemidiaphragm, ...) and then ``draw`` its overlay (a nodule, a line, a meniscus, ...), and
:func:`expose` turns it into an 8-bit film (contrast, gamma, blur, noise, quantisation). Each
finding receives a severity in ``(0, 1]`` that scales its size and contrast, so subtle and obvious
cases both occur. ``FINDING_DOCS`` describes every rendering in words (``docs/data.md`` prints it).
"""

from __future__ import annotations

import numpy as np

from lteval.data.anatomy import Anatomy, Canvas, draw_thorax, finish_ribs, make_anatomy, sample_patient
from lteval.data.findings import CLASSES, FINDING_DOCS, FINDINGS


# --------------------------------------------------------------------------- exposure
def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0.05:
        return img
    from scipy.ndimage import gaussian_filter
    return gaussian_filter(img, sigma, mode="nearest", truncate=2.5)


def expose(cv: Canvas, anat: Anatomy, rng: np.random.Generator) -> np.ndarray:
    """Attenuation → 8-bit film: contrast, gamma, blur, noise, quantisation; uint8 ``(size, size)``."""
    A = cv.A + anat.marking_gain * cv.M * cv.keep
    img = anat.contrast * (A - 0.05) * 1.15 + 0.08 + anat.brightness
    img = np.clip(img, 0, 1) ** anat.gamma
    img = _blur(img, anat.blur_px64 * cv.size / 64)
    img = img + rng.normal(0, anat.noise, img.shape).astype(np.float32)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def render(labels, patient: dict, rng: np.random.Generator, size: int = 64, center: dict | None = None,
           severity: dict | None = None, unlisted: bool = False) -> np.ndarray:
    """Draw one image. ``labels``: 30 booleans in class order. Returns uint8 ``(size, size)``.

    ``severity`` optionally fixes a finding's severity (name → value in (0, 1]); otherwise each
    present finding draws one from Beta(1.6, 1.8) (mean 0.47: many subtle, some obvious).
    ``unlisted``: the image is abnormal but carries none of the 30 findings (as some real
    images do); it then shows, with probability 0.6, a finding outside the task (scoliosis).
    """
    names = [c for c, on in zip(CLASSES, labels) if on and c != "Normal"]
    # The film (anatomy, exposure, texture, noise) uses ``rng``; every finding has its own
    # stream, so adding or removing a finding changes nothing else in the picture.
    key = int(rng.integers(0, 2**63))
    frng = {n: np.random.default_rng([key, CLASSES.index(n)]) for n in names}
    anat = make_anatomy(patient, rng, center)
    urng = np.random.default_rng([key, 999])
    if unlisted and urng.random() < 0.6:
        anat.extra["scoliosis"] = float(urng.choice([-1, 1]) * urng.uniform(0.015, 0.04))
    sev = {}
    for n in names:
        sv = frng[n].beta(1.6, 1.8)
        sev[n] = float(severity[n]) if severity and n in severity else float(np.clip(sv, 0.05, 1.0))
    found = {n: FINDINGS.entry(n) for n in names}
    for n in names:
        if found[n].modify is not None:
            found[n].modify(anat, frng[n], sev[n])
    cv = Canvas(size, anat)
    draw_thorax(cv, anat, rng)
    if "fracture" in names:
        found["fracture"].obj(cv, anat, frng["fracture"], sev["fracture"])
    finish_ribs(cv, anat)
    for n in names:
        if found[n].obj is not None and n != "fracture":
            found[n].obj(cv, anat, frng[n], sev[n])
    return expose(cv, anat, rng)


#: Keys of a patient dict, in order (patients travel between processes as rows of floats).
PATIENT_KEYS: tuple[str, ...] = tuple(sample_patient(np.random.default_rng(0)))

__all__ = ["render", "expose", "PATIENT_KEYS", "FINDING_DOCS", "CLASSES"]
