"""Several face systems judging the same generated images: do they agree? (pure functions)

* **Rankings**: Kendall's tau (``scipy.stats.kendalltau``, tau-b, with its p-value) between the method
  rankings of each pair of judges, over the methods both ranked.
* **Per method**: each judge's verified rate (of all images) and their spread (max - min).
* **Per image**: how often the judges agree on verified / not verified (a failure to acquire is not
  verified), over the images every judge audited, and the same corrected for chance: Fleiss' kappa
  over every judge and Cohen's kappa for each pair, each with a 95% interval from a bootstrap over
  identities (an identity's images resampled together), and a one-line verdict.
* **Conditioning**: a generator conditioned on one recogniser family's embedding, judged by a system
  of the same family, grades its own teacher. Each such (method, judge) is flagged, and methods are
  ranked twice: by the mean verified rate over every judge, and over the judges outside the
  method's family.
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

from . import metrics
from .metrics import holm, interval_kwargs

#: the embedding each published method is conditioned on (its paper's identity encoder): insightface
#: ArcFace for Arc2Face, InstantID, PuLID, InfiniteYou, IP-Adapter-FaceID, StoryMaker and the
#: inswapper face swap; CurricularFace for UniPortrait; CLIP image features only for PhotoMaker,
#: FastComposer and the plain IP-Adapters. Method names as ../shared/data/generated spells them.
PUBLISHED = {
    **{m: "arcface" for m in ("arc2face", "arc2face_controlnet", "arc2face_expadapter", "instantid", "instantid_kolors",
                              "pulid_flux", "pulid_sdxl", "infiniteyou", "ipadapter_faceid_sd15", "storymaker",
                              "inswapper_faceswap_baseline")},
    "uniportrait": "curricularface",
    **{m: "clip" for m in ("photomaker", "fastcomposer", "ipadapter_flux", "ipadapter_plus_face_sd15",
                           "ipadapter_plus_face_sdxl")},
}

#: the recogniser family of each face system (the shared ArcFace system's MobileFaceNet is trained with
#: insightface's ArcFace loss)
SYSTEM_FAMILY = {"arcface": "arcface", "onnx": "onnx", "sface": "sface", "dlib": "dlib"}


def ranking_agreement(rankings: dict) -> list[dict]:
    """Kendall's tau between each pair of judges' rankings (``rankings``: judge -> methods, best first),
    over the methods both ranked, with its p-value Holm-adjusted over the pairs (``p_holm``)."""
    out = []
    for a, b in itertools.combinations(rankings, 2):
        common = [m for m in rankings[a] if m in rankings[b]]
        if len(common) < 2:
            out.append({"a": a, "b": b, "n_methods": len(common), "tau": float("nan"), "p_value": float("nan")})
            continue
        ra = [rankings[a].index(m) for m in common]
        rb = [rankings[b].index(m) for m in common]
        res = stats.kendalltau(ra, rb)
        out.append({"a": a, "b": b, "n_methods": len(common), "tau": float(res.statistic),
                    "p_value": float(res.pvalue)})
    for k, p in zip(out, holm([k["p_value"] for k in out])):  # the judges' pairs are one family
        k["p_holm"] = float(p)
    return out


def image_agreement(verified: dict) -> dict:
    """``verified``: judge -> {image: bool} over the images each audited; the share of the images every
    judge audited on which all of them agree, and on which each pair agrees."""
    judges = list(verified)
    common = sorted(set.intersection(*(set(v) for v in verified.values()))) if judges else []
    if not common:
        return {"n_images": 0, "all_agree": float("nan"), "pairs": []}
    m = np.array([[verified[j][i] for i in common] for j in judges], bool)
    pairs = [{"a": judges[x], "b": judges[y], "agree": float(np.mean(m[x] == m[y]))}
             for x, y in itertools.combinations(range(len(judges)), 2)]
    return {"n_images": len(common), "all_agree": float(np.mean(m.all(0) | (~m).all(0))), "pairs": pairs}


#: Landis and Koch's (1977) words for kappa
KAPPA_WORDS = ((0.0, "poor"), (0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial"),
               (1.01, "almost perfect"))


def kappa_word(k: float) -> str:
    if not np.isfinite(k):
        return "undefined"
    return next(w for edge, w in KAPPA_WORDS if k <= edge) if k >= 0 else "poor"


def _fleiss(n_items, s1, s2, raters: int):
    """Fleiss' kappa of binary votes from per-cluster sums: items, verified votes, sum of squared category
    counts (arrays: the last axis is reduced)."""
    n, v, q = n_items.sum(-1), s1.sum(-1), s2.sum(-1)
    p_bar = (q / n - raters) / (raters * (raters - 1))
    p1 = v / (n * raters)
    pe = p1 ** 2 + (1 - p1) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return (p_bar - pe) / (1 - pe)


def _cohen(n11, n10, n01, n00):
    a, b, c, d = n11.sum(-1), n10.sum(-1), n01.sum(-1), n00.sum(-1)
    n = a + b + c + d
    po = (a + d) / n
    pe = ((a + b) * (a + c) + (c + d) * (b + d)) / n ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return (po - pe) / (1 - pe)


def kappa_agreement(verified: dict, identity: dict, *, bootstrap: dict | None = None) -> dict:
    """Chance-corrected agreement on verified / not verified per image. ``verified``: judge -> {image:
    bool}; ``identity``: image -> identity (the unit resampled). Over the images every judge audited:
    Fleiss' kappa (all judges) and Cohen's kappa (each pair; ``sklearn.metrics.cohen_kappa_score``
    gives the same value), each with a percentile bootstrap interval over identities. Written from
    per-identity sums (not statsmodels' fleiss_kappa) so that one vectorised bootstrap resamples them."""
    kw = interval_kwargs(bootstrap)
    judges = list(verified)
    common = sorted(set.intersection(*(set(v) for v in verified.values()))) if judges else []
    nan = {"kappa": float("nan"), "low": float("nan"), "high": float("nan"), "words": "undefined"}
    if len(judges) < 2 or not common:
        return {"n_images": len(common), "n_identities": 0, "fleiss": nan, "cohen": []}
    m = np.array([[verified[j][i] for i in common] for j in judges], bool)  # judges x images
    ids, idx = np.unique([identity[i] for i in common], return_inverse=True)

    def per_id(x):
        return np.bincount(idx, weights=np.asarray(x, float), minlength=ids.size)

    votes = m.sum(0)
    raters = len(judges)
    fl = {"n_items": per_id(np.ones(len(common))), "s1": per_id(votes),
          "s2": per_id(votes ** 2 + (raters - votes) ** 2)}

    def with_interval(stat, per):
        k = float(stat(**{key: v for key, v in per.items()}))
        lo, hi = metrics.subject_bootstrap(per, stat, **kw) if ids.size >= 2 else (float("nan"), float("nan"))
        return {"kappa": k, "low": float(lo), "high": float(hi), "words": kappa_word(k)}

    fleiss = with_interval(lambda n_items, s1, s2: _fleiss(n_items, s1, s2, raters), fl)
    cohen = []
    for x, y in itertools.combinations(range(raters), 2):
        a, b = m[x], m[y]
        per = {"n11": per_id(a & b), "n10": per_id(a & ~b), "n01": per_id(~a & b), "n00": per_id(~a & ~b)}
        cohen.append({"a": judges[x], "b": judges[y], **with_interval(_cohen, per)})
    return {"n_images": len(common), "n_identities": int(ids.size), "fleiss": fleiss, "cohen": cohen}


def verdict(kappa: dict, methods: list[dict], n_split: int = 3) -> str:
    """One line: do the judges agree (Fleiss' kappa and its interval, in Landis and Koch's words), and the
    ranked methods on which they split most (the largest spread of verified rates; a method too small to
    rank splits by chance, so it is not named)."""
    f = kappa.get("fleiss") or {}
    if not kappa.get("n_images") or not np.isfinite(f.get("kappa", float("nan"))):
        return "The judges' agreement cannot be measured: no image was audited by every judge (or all agree trivially)."
    k, lo, hi = f["kappa"], f["low"], f["high"]
    word = ("agree" if np.isfinite(lo) and lo > 0.6 else "disagree" if np.isfinite(hi) and hi < 0.4 else
            "agree only in part")
    split = sorted((r for r in methods if np.isfinite(r.get("spread", float("nan"))) and r.get("rank_all") is not None),
                   key=lambda r: -r["spread"])
    most = ", ".join(f"{r['method']} ({100 * r['spread']:.0f} points)" for r in split[:n_split])
    iv = f" [{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) else ""
    return (f"The judges {word}: Fleiss' kappa {k:.2f}{iv} ({f['words']}) on verified / not verified over "
            f"{kappa['n_images']} images of {kappa['n_identities']} identities" + (
                f"; of the ranked methods they split most on {most}" if most else "") + ".")


def method_table(rates: dict, conditioning: dict, families: dict, rankable=None) -> list[dict]:
    """One row per method: each judge's verified rate, the spread, whether a judge shares the method's
    conditioning family, and the mean over every judge and over the judges outside that family, each
    with its rank (1 = best; methods without a judge outside their family get no second rank, nor
    methods outside ``rankable``: too few images, generated.min_per_method). ``rates``: judge ->
    {method: verified rate of all images}; ``families``: judge -> family."""
    judges = list(rates)
    methods = sorted(set().union(*(set(r) for r in rates.values())))
    rows = []
    for m in methods:
        vals = {j: rates[j][m] for j in judges if m in rates[j]}
        fam = conditioning.get(m, "")
        same = [j for j in vals if fam and families[j] == fam]
        outside = [vals[j] for j in vals if j not in same]
        rows.append({"method": m, "conditioning": fam or "unknown", "verified": vals,
                     "spread": float(max(vals.values()) - min(vals.values())) if vals else float("nan"),
                     "judged_by_own_family": same, "mean_all": float(np.mean(list(vals.values()))),
                     "mean_outside_family": float(np.mean(outside)) if outside else float("nan")})
    for key in ("mean_all", "mean_outside_family"):
        ranked = sorted((r for r in rows if np.isfinite(r[key]) and (rankable is None or r["method"] in rankable)),
                        key=lambda r: (-r[key], r["method"]))
        for k, r in enumerate(ranked, start=1):
            r[f"rank_{key[5:]}"] = k
        for r in rows:
            r.setdefault(f"rank_{key[5:]}", None)
    return sorted(rows, key=lambda r: (r["rank_all"] is None, r["rank_all"] or 0, r["method"]))
