"""The report bundles of fr-eval's runs, one module per kind of page:

* :mod:`.scenario` — a scenario run (Table 3 of the paper and all around it),
* :mod:`.audit` — the identity audit of generated images,
* :mod:`.score_files` — figures from imported score files,
* :mod:`.compare` — two reports side by side (``fr-eval compare A B``);

and what they share: :mod:`.tables` (cells and notes), :mod:`.numbers` (digits, intervals, flags),
:mod:`.paired` (the paired comparison table), :mod:`.plots` (every plot, each drawing on an ``ax``),
:mod:`.html` (Jinja2 pages from ``templates/``) and :mod:`.io` (files written whole, CSV cells made safe).
"""
from .plots import plot_det
from .scenario import write_report

__all__ = ["plot_det", "write_report"]
