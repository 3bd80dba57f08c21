"""Several people in one generated image (UniPortrait, StoryMaker, WithAnyone's MultiID-Bench): a manifest row
whose ``identity`` names several enrolled identities (``a|b``, in the order of the faces from left to right when
``generated.multi_order=left_to_right``). Every face the judge finds is embedded; the faces are matched to the
named identities by the Hungarian assignment on similarity (``scipy.optimize.linear_sum_assignment``, the
assignment of largest total similarity); per row the faces found against those named, per named identity its
matched face's similarity and whether it is verified, and the failures multi-identity papers name:

* **identity swap**: a face matched (by the assignment) to another named identity than the one it was meant to
  show (left-to-right order), or, with ``multi_order=none``, a face that resembles another named identity more
  than the one it is matched to;
* **blending**: a face verified as two or more of the named identities (one person's identity leaking into
  the other's face);
* **missing**: a named identity left without a face (fewer faces than names);
* **extra**: faces beyond those named.

Per method the rates over its rows with intervals resampling the row's set of identities (rows of the same
people are not independent). Pure functions here (:func:`match_faces`, :func:`multi_figures`), the images
acquired by :func:`multi_scores` with the run's face system (every face, not only the kept one: not through the
store, which keeps one face per image; such rows are few)."""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .. import metrics
from ..evaluation import SideData
from ..identity import identity_scores
from ..images import ImageLoadError, load_image
from ..systems.base import error_text

#: the separator of several identities in one manifest row's identity cell
SEPARATOR = "|"


def names_of(subject: str) -> list[str]:
    """The identities one manifest row names (one for an ordinary row)."""
    return [n.strip() for n in str(subject).split(SEPARATOR)]


def is_multi(subject: str) -> bool:
    return SEPARATOR in str(subject)


def match_faces(S: np.ndarray, threshold: float, ordered: bool = True) -> dict:
    """Faces of one image matched to its named identities. ``S``: (faces, named) similarities, faces left to
    right, identities in the row's order. Returns the assignment (face -> named index, -1 for an extra face),
    per named identity its face (-1: missing), similarity and verdict, and the counts of swaps, blended faces,
    missing identities and extra faces."""
    S = np.asarray(S, float)
    m, k = S.shape
    face_of = np.full(k, -1)
    match = np.full(m, -1)
    if m and k:
        rows, cols = linear_sum_assignment(np.where(np.isfinite(S), S, -1e9), maximize=True)
        face_of[cols], match[rows] = rows, cols
    sim = np.array([S[face_of[j], j] if face_of[j] >= 0 else np.nan for j in range(k)])
    verified = np.isfinite(sim) & (np.nan_to_num(sim, nan=-np.inf) >= threshold)
    if ordered:  # the i-th face from the left was meant to show the i-th name; only when the counts agree
        swapped = [i for i in range(m) if m == k and match[i] >= 0 and match[i] != i]
    else:  # matched to one identity, yet more like another named one
        swapped = [i for i in range(m) if match[i] >= 0 and np.nanmax(np.delete(S[i], match[i]), initial=-np.inf)
                   > S[i, match[i]]]
    blended = [i for i in range(m) if int((S[i] >= threshold).sum()) >= 2]
    return {"match": match.tolist(), "face_of": face_of.tolist(), "similarity": sim.tolist(),
            "verified": verified.tolist(), "swapped_faces": swapped, "blended_faces": blended,
            "n_swaps": len(swapped), "n_blended": len(blended), "n_missing": int((face_of < 0).sum()),
            "n_extra": int((match < 0).sum()), "swaps_assessed": bool(m == k or not ordered)}


def multi_scores(rows: list, system, ref_emb: np.ndarray, ref_id: np.ndarray, identities: list, template: str,
                 metric: str, threshold: float, ordered: bool) -> list[dict]:
    """Each multi-person row acquired (every face) and matched: one dict per row. An unreadable image or one
    with no face is a counted failure of its row; a crash of a model is an error of the machine (status
    ``error``), reported apart and never stored."""
    idx = {n: i for i, n in enumerate(identities)}
    out = []
    for s in rows:
        names = names_of(s.subject)
        base = {"path": s.rel, "method": dict(s.meta).get("method", ""), "names": names, "n_named": len(names),
                "n_faces": 0, "status": "acquired", "reason": "", "faces": []}
        try:
            faces = system.acquire_all_faces(load_image(s.path))
        except ImageLoadError as exc:
            faces = str(exc)
        except Exception as exc:  # the machine's error, not the image's
            faces = RuntimeError(error_text(exc))
        if not isinstance(faces, list):  # no face matched: every named identity missing
            out.append({**base, "status": "error" if isinstance(faces, Exception) else "failed",
                        "reason": str(faces), **match_faces(np.zeros((0, len(names))), threshold, ordered)})
            continue
        ok = [a for a in faces if a.ok]
        # the score vectors the single-face rows get (SideData: unit rows for cosine, the system's scale else)
        emb = SideData.from_acquisitions(ok, metric, "template", ref_emb.shape[1]).emb if ok else \
            np.zeros((0, ref_emb.shape[1]))
        S = identity_scores(emb, ref_emb, ref_id, len(identities), template, metric)[:, [idx[n] for n in names]]
        out.append({**base, "n_faces": len(ok), "faces": [
            {"box": [round(float(v), 1) for v in a.detection.bbox], "similarities": S[i].tolist()}
            for i, a in enumerate(ok)], **match_faces(S, threshold, ordered)})
    return out


def multi_figures(rows: list[dict], bootstrap: dict) -> dict:
    """Per method (and over all rows): rows, faces found against named, the share of named identities
    verified (a missing one is not), and the shares of rows with a swap, a blended face, a missing identity
    and an extra face, each with a 95% interval resampling the rows' sets of identities."""
    kw = metrics.interval_kwargs(bootstrap)
    methods = sorted({r["method"] for r in rows})
    return {"rows": rows, "methods": [_method(m, [r for r in rows if r["method"] == m], kw) for m in methods]
            + ([_method("(all)", rows, kw)] if len(methods) > 1 else [])}


def _method(method: str, rows: list[dict], kw: dict) -> dict:
    errors = sum(r["status"] == "error" for r in rows)
    rows = [r for r in rows if r["status"] != "error"]  # the machine's errors: retried next run, in no rate
    unit = np.array([SEPARATOR.join(sorted(r["names"])) for r in rows], dtype=object)
    units, inv = np.unique(unit, return_inverse=True)

    def per_unit(x):
        return np.bincount(inv, weights=np.asarray(x, float), minlength=units.size)

    def rate(hit, trials):
        hit, trials = np.asarray(hit, float), np.asarray(trials, float)
        value = float(hit.sum() / trials.sum()) if trials.sum() else float("nan")
        return value, metrics.rate_interval(per_unit(hit), per_unit(trials), **kw).as_dict()

    named = np.array([r["n_named"] for r in rows], float)
    ver = np.array([sum(r["verified"]) for r in rows], float)
    assessed = np.array([r["swaps_assessed"] and r["status"] == "acquired" for r in rows], float)
    out = {"method": method, "n_rows": len(rows), "n_units": int(units.size),
           "n_failed": sum(r["status"] == "failed" for r in rows), "n_errors": errors,
           "faces_found": int(sum(r["n_faces"] for r in rows)), "faces_named": int(named.sum())}
    figures = {"verified": rate(ver, named),
               "swap": rate([bool(r["n_swaps"]) for r in rows], assessed),
               "blending": rate([bool(r["n_blended"]) for r in rows], np.ones(len(rows))),
               "missing": rate([bool(r["n_missing"]) for r in rows], np.ones(len(rows))),
               "extra": rate([bool(r["n_extra"]) for r in rows], np.ones(len(rows)))}
    out.update({k: v for k, (v, _) in figures.items()})
    out["intervals"] = {k: iv for k, (_, iv) in figures.items()}
    out["n_swap_assessed"] = int(assessed.sum())
    return out
