"""Test-wide settings: nothing downloads, nothing reaches a hub, plots need no display."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("LTEVAL_NO_PROGRESS", "1")
