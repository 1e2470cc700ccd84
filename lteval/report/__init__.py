"""``lteval report``: one self-contained HTML page comparing runs, dev vs test.

``render_report(sources, out_path, ...)`` is the entry point (also used by ``lteval demo``);
``build_report`` returns the HTML string. Figures come from the metrics core; this package
only loads, arranges and draws them.
"""

from lteval.report.render import DEFAULT_BOOTSTRAP, build_report, render_report
from lteval.report.sources import PredSource, parse_pred_spec

__all__ = ["render_report", "build_report", "PredSource", "parse_pred_spec", "DEFAULT_BOOTSTRAP"]
