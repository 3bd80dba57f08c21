"""After acquisition, as a setting (``dataset.near_duplicates=<similarity>``): the same face under two
subjects that is not the same file (resized, re-encoded), found as cross-subject pairs of embeddings
whose similarity no impostor should reach, and handled by ``dataset.duplicates`` as content
duplicates are (:mod:`fr_eval.datasets.integrity`)."""
from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np

from ..datasets.integrity import drop_samples, near_duplicate_pairs
from ..errors import FrEvalError
from ..evaluation import SideData
from ..settings import Config
from ..systems.base import metric_of
from .acquire import Acquired
from .plan import Plan, without_samples


def check_near_duplicates(plan: Plan, acquired: Acquired, cfg: Config) -> Plan:
    """The plan as it stands, or (``drop``) without the later image of each near-duplicate pair; raises
    under ``error``; every pair is listed in the dataset's problems."""
    threshold = cfg.dataset.near_duplicates
    if threshold is None:
        return plan
    policy = cfg.dataset.duplicates
    ds = plan.dataset
    samples = list({s.rel: s for s in ds.references + ds.probes}.values())
    samples.sort(key=lambda s: (s.subject, s.rel))
    acqs = [acquired.acquisitions[(s.rel, "original")] for s in samples]
    metric = metric_of(acquired.system)
    a, b = (SideData.from_acquisitions(acqs, metric, side) for side in ("reference", "probe"))
    ok = np.flatnonzero(a.ok)
    subjects = {s: i for i, s in enumerate(sorted({x.subject for x in samples}))}
    subj = np.array([subjects[s.subject] for s in samples])[ok]
    pairs, scores = near_duplicate_pairs(a.emb[ok], subj, b.emb[ok], subj, float(threshold),
                                         cfg.memory_budget)
    keep = pairs[:, 0] < pairs[:, 1]  # each pair once (the comparison is symmetric)
    pairs, scores = ok[pairs[keep]], scores[keep]
    found = [(samples[i], samples[j], float(sc)) for (i, j), sc in zip(pairs, scores)]
    texts = [f"{x.rel} ~ {y.rel} (similarity {sc:.4f})" for x, y, sc in found]
    ds.settings["near_duplicates"] = {"threshold": float(threshold), "policy": policy, "pairs": len(found),
                                      "metric": metric}
    if not found:
        return plan
    if policy == "error":
        shown = "; ".join(texts[:4]) + (f"; and {len(texts) - 4} more" if len(texts) > 4 else "")
        raise FrEvalError(f"dataset {ds.name}: {len(found)} cross-subject pair(s) of images score at or above "
                          f"dataset.near_duplicates={threshold:g}, which no impostor should reach (the same face "
                          f"under two subjects?): {shown}; fix the folders, or give dataset.duplicates=drop "
                          f"(drops the second image of each pair) or dataset.duplicates=keep")
    ds = copy.copy(ds)
    ds.problems = list(ds.problems) + [
        {"kind": "near-duplicate across subjects", "where": f"{x.subject}, {y.subject}",
         "detail": t + (f": dropped {y.rel}" if policy == "drop" else ": both kept (dataset.duplicates=keep)")}
        for (x, y, _), t in zip(found, texts)]
    if policy == "keep":
        return replace(plan, dataset=ds)
    ds.references, ds.probes = list(ds.references), list(ds.probes)
    ds.ignored, ds.excluded = list(ds.ignored), list(ds.excluded)
    drop_samples(ds, {y.rel for _, y, _ in found}, "a near-duplicate of another subject's image "
                                                    "(dataset.near_duplicates, dataset.duplicates=drop)")
    return without_samples(plan, ds, cfg)
