"""fr-eval: face-recognition robustness evaluation (ISO/IEC 19795-1 figures).

``fr_eval.evaluate(...)`` runs scenarios, ``fr_eval.audit(...)`` audits generated images (the same
arguments as the ``fr-eval`` command); ``fr_eval.metrics`` holds the metrics as pure functions.
"""
__version__ = "0.1.0"

from . import metrics  # noqa: E402  (public: pure functions on NumPy arrays)
from .api import Audit, Evaluation, audit, evaluate, scores_table  # noqa: E402

__all__ = ["evaluate", "audit", "scores_table", "Evaluation", "Audit", "metrics", "__version__"]
