"""Differentials in the audit ("faces of some groups are preserved worse", PhotoMaker #101): the audit's
identities grouped by the skin tone of their reference photos (the scenarios' reading,
:func:`fr_eval.stages.differentials.skin_of` and :func:`~fr_eval.stages.differentials.skin_groups`: ITA in
Chardon's categories, identities whose group is uncertain set aside and counted) and by any manifest column that
describes the identity (``generated.by_attributes``); per group FTA, verified rate and similarity with intervals
over its identities, overall and per method, and between groups the difference with its stratified-bootstrap
interval and a permutation test of the group labels (Holm-adjusted over the pairs). Every figure is computed at the
audit's one threshold, so a group's figures equal those of an audit of that group's identities alone."""
from __future__ import annotations

import numpy as np

from .. import differentials
from ..variants import ORIGINAL
from .differentials import SKIN, skin_of, skin_groups

#: the figures compared between groups: (name, per image hit, per image trial) built in :func:`_unit_sums`
COMPARED = ("verified_rate_of_all", "fta", "similarity")


def identity_groups(plan, acqs: dict, cfg, bootstrap: dict) -> dict:
    """attribute -> {"values": each identity's group ("" = none), "groups", "source", "set_aside"} for the skin
    tone of the identities' reference photos and each column of generated.by_attributes."""
    out = {}
    skin = skin_of(plan.refs, lambda s: acqs.get((s.rel, ORIGINAL.name)), cfg.differentials, bootstrap)
    values, names, source = skin_groups(plan.identities, skin, cfg.differentials)
    status = [skin.per_subject.get(i, {}).get("status", "no colour photo") for i in plan.identities]
    out[SKIN] = {"values": values, "groups": [g for g in names if g in set(values)], "source": source + " of the "
                 "identity's reference photos", "bins": skin.bins,
                 "set_aside": {k: sorted(i for i, st in zip(plan.identities, status) if st == k)
                               for k in ("uncertain", "too few fit photos", "no colour photo")}}
    rows = plan.refs + plan.gen
    for col in cfg.generated.by_attributes:
        if col not in set(plan.gset.columns):
            continue  # checked in the plan: only noted there
        seen: dict = {}
        for s in rows:
            v = str(dict(s.meta).get(col) or "").strip()
            if v:
                seen.setdefault(s.subject, set()).add(v)
        vals = [next(iter(seen[i])) if len(seen.get(i, ())) == 1 else "" for i in plan.identities]
        out[col] = {"values": vals, "groups": sorted(set(vals) - {""}), "source": f"the manifest's {col} column",
                    "set_aside": {"conflicting values": sorted(i for i in plan.identities if len(seen.get(i, ())) > 1),
                                  "no value": sorted(i for i in plan.identities if not seen.get(i))}}
    return out


def audit_differentials(groups: dict, sc, method: np.ndarray, identities: list, figures, still: np.ndarray,
                        bootstrap: dict, min_units: int) -> dict:
    """Per attribute: per group (over the still images of its identities) the audit's figures, per method (each
    image's, ``method``) and group the same, and between groups the differences of verified rate, FTA and
    similarity with their tests."""
    out = {}
    for attr, g in groups.items():
        value_of = np.array(g["values"], dtype=object)[sc.gid]  # each image's identity's group
        rows, per_method = [], []
        for name in g["groups"]:
            m = (value_of == name) & still
            if not (m & sc.in_audit).any():
                continue
            rows.append({"group": name, **_keep(figures(m))})
            for meth in sorted(set(method[m & sc.in_audit].tolist())):
                per_method.append({"method": meth, "group": name, **_keep(figures(m & (method == meth)))})
        named = [r["group"] for r in rows]
        code = np.array([named.index(v) if v in named else -1 for v in g["values"]])
        sums = _unit_sums(sc, still, len(g["values"]))
        pairs = {k: differentials.group_differences(sums[k][0], sums[k][1], code, named, bootstrap=bootstrap,
                                        min_units=2) for k in COMPARED}
        for k, ps in pairs.items():
            for p in ps:
                p["small_sample"] = min(p["n_units_i"], p["n_units_j"]) < min_units
        out[attr] = {**{k: v for k, v in g.items() if k != "values"}, "rows": rows, "per_method": per_method,
                     "differences": pairs, "identities": dict(zip(identities, g["values"]))}
    return out


def _keep(f: dict) -> dict:
    """The figures a group's row shows: counts, FTA, verified of all, similarity, with their intervals."""
    iv = f.get("intervals") or {}
    sim = f["similarity_failures_excluded"]
    return {"n": f["n"], "n_identities": f["n_identities"], "fta": f["fta"], "verified_rate_of_all":
            f["verified_rate_of_all"], "similarity": sim["mean"],
            "intervals": {"fta": iv.get("fta"), "verified_rate_of_all": iv.get("verified_rate_of_all"),
                          "similarity": sim.get("interval")}}


def _unit_sums(sc, still: np.ndarray, n_identities: int) -> dict:
    """Per identity (the unit): (hits, trials) of each compared figure over its audited still images."""
    m = still & sc.in_audit
    gid = sc.gid[m]
    ok = sc.acquired[m]
    verified = ok & (np.where(ok, sc.own[m], -np.inf) >= sc.threshold)

    def count(x):
        return np.bincount(gid, weights=np.asarray(x, float), minlength=n_identities)
    images = count(np.ones(gid.size))
    return {"verified_rate_of_all": (count(verified), images), "fta": (count(~ok), images),
            "similarity": (count(np.where(ok, sc.own[m], 0.0)), count(ok))}
