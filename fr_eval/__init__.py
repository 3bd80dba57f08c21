"""fr-eval: face-recognition robustness evaluation (ISO/IEC 19795-1 figures)."""
__version__ = "0.1.0"
