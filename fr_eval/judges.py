"""Several face systems judging the same generated images: do they agree? (pure functions)

* **Rankings**: Kendall's tau (``scipy.stats.kendalltau``, tau-b, with its p-value) between the method
  rankings of each pair of judges, over the methods both ranked.
* **Per method**: each judge's verified rate (of all images) and their spread (max - min).
* **Per image**: how often the judges agree on verified / not verified (a failure to acquire is not
  verified), over the images every judge audited.
* **Conditioning**: a generator conditioned on one recogniser family's embedding, judged by a system
  of the same family, grades its own teacher. Each such (method, judge) is flagged, and methods are
  ranked twice: by the mean verified rate over every judge, and over the judges outside the
  method's family.
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

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
    over the methods both ranked."""
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
