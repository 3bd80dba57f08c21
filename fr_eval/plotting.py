"""Figures without pyplot: fr-eval never switches (or even reads) the user's matplotlib backend.

``subplots`` builds a :class:`matplotlib.figure.Figure` directly, which ``savefig`` renders with
Agg whatever backend the user has; nothing is registered with pyplot, so nothing needs closing.
"""
from __future__ import annotations


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, squeeze: bool = True, **kw):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze, **kw)


def own_axes(ax, figsize):
    """``(figure to save or None, axes)``: the caller's ``ax`` (nothing saved), else a new figure."""
    if ax is not None:
        return None, ax
    return subplots(figsize=figsize)
