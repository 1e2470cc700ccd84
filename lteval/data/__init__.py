"""Data: the built-in synthetic CXR-LT set, the CXR-LT 2026 reader, a decode cache, splits, a torch Dataset.

Submodules (imported on demand; only ``dataset`` imports torch):

* ``synth``   — ``generate`` / ``ensure_synthetic``: a procedural data set in the official layout
* ``render``  — the drawing of a thorax and of each of the 30 findings
* ``source``  — ``open_source(root)``: one reader for real and synthetic roots
* ``splits``  — ``make_splits``: patient-grouped or iteratively stratified train/val/calib
* ``imageio`` — ``load_image``: 8/16-bit decoding with per-image percentile windowing
* ``cache``   — ``build_cache`` / ``open_cache``: memory-mapped decoded images, resumable
* ``dataset`` — ``CXRDataset``, ``AugmentConfig``, ``make_loader``
"""


class DataWarning(UserWarning):
    """Something about the data deserves the user's attention but does not stop the run."""


__all__ = ["DataWarning"]
