"""fr-eval: face-recognition robustness evaluation (ISO/IEC 19795-1 figures).

``fr_eval.evaluate(...)`` runs scenarios, ``fr_eval.audit(...)`` audits generated images (the same
arguments as the ``fr-eval`` command); ``fr_eval.metrics`` holds the metrics as pure functions.
"""
__version__ = "0.1.0"

from . import metrics  # noqa: E402  (public: pure functions on NumPy arrays)

#: the Python API (fr_eval.api), loaded on first use (PEP 562): every process that imports a module of
#: the package, each spawned worker among them, would otherwise load Hydra, the report and matplotlib
_API = ("Audit", "Evaluation", "audit", "evaluate", "scores_table")


def __getattr__(name: str):
    if name in _API:
        from . import api  # the package's lazy public API (see _API)
        return getattr(api, name)
    raise AttributeError(f"module 'fr_eval' has no attribute {name!r}")


__all__ = ["evaluate", "audit", "scores_table", "Evaluation", "Audit", "metrics", "__version__"]
