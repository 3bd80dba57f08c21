"""Subjects with a reference and no probe (LFW's one-image people): left out and counted
(``dataset.single_image_subjects=drop``), or kept as references only (``impostor``): in impostor comparisons
of verification and in the gallery of identification, never in a genuine attempt or in the FTA."""
import json

import numpy as np
import pytest

from fr_eval.cli import main


rng = np.random.default_rng(7)


DIM = 32


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def embeddings(tmp_path_factory):
    """8 subjects with a reference and 2 probes each; 3 one-image subjects: S0 is a copy of P0's first probe
    (a perfect non-mate for it), S1 an ordinary face, S2 failed to acquire."""
    tmp = tmp_path_factory.mktemp("single")
    centre = _unit(rng.normal(size=(8, DIM)))
    rows = []
    for i in range(8):
        for j, role in enumerate(("reference", "probe", "probe")):
            rows.append((f"P{i}/{j}.jpg", f"P{i}", role, _unit(centre[i] + 0.35 * rng.normal(size=DIM))))
    first_probe = rows[1][3]
    rows += [("S0/0.jpg", "S0", "reference", first_probe.copy()),
             ("S1/0.jpg", "S1", "reference", _unit(rng.normal(size=DIM))),
             ("S2/0.jpg", "S2", "reference", np.full(DIM, np.nan))]
    path = tmp / "e.npz"
    np.savez(path, sample=np.array([r[0] for r in rows]), subject=np.array([r[1] for r in rows]),
             role=np.array([r[2] for r in rows]), variant=np.array(["original"] * len(rows)),
             embedding=np.stack([r[3] for r in rows]).astype(np.float32))
    return tmp, path, rows


def _run(tmp, path, name, *extra):
    out = tmp / name
    assert main([f"embeddings={path}", "scenario=[1]", f"out_dir={out}", "progress=false", "fmr=0.001",
                 "bootstrap.n_resamples=50", *extra]) == 0
    return out, json.loads((out / "metrics.json").read_text())


def test_verification_uses_them_as_impostor_only_references(embeddings):
    tmp, path, rows = embeddings
    _, drop = _run(tmp, path, "drop")
    out, kept = _run(tmp, path, "kept", "dataset.single_image_subjects=impostor")
    assert "reference_only_subjects" not in drop["table1"] and kept["table1"]["reference_only_subjects"] == 3
    assert (drop["table1"]["impostor"], kept["table1"]["impostor"]) == (8 * 16 - 16, 11 * 16 - 16)
    assert (drop["table1"]["genuine"], kept["table1"]["genuine"]) == (16, 16)
    a, b = drop["rows"][0], kept["rows"][0]
    # the failed one-image reference is in no genuine attempt: the FTA, FNMR and FRR do not see it
    assert (a["n_samples"], a["n_failed"]) == (b["n_samples"], b["n_failed"]) == (24, 0)
    assert (a["fta"], a["fnmr"], a["frr"]) == (b["fta"], b["fnmr"], b["frr"])
    # the threshold is fixed on 128 + 32 acquired impostor pairs (S2's 16 failed): with none allowed, just
    # above the highest impostor score, which is S0 (a copy of P0's first probe) against that probe
    thr_d, thr_k = drop["thresholds"]["0.001"], kept["thresholds"]["0.001"]
    assert (thr_d["n_impostor"], thr_k["n_impostor"]) == (112, 112 + 32)
    assert thr_k["threshold"] > 0.999 > thr_d["threshold"]
    probes = np.stack([r[3] for r in rows if r[2] == "probe"])
    refs = np.stack([r[3] for r in rows if r[2] == "reference" and r[1].startswith("P")])
    cross = (probes @ refs.T)[np.arange(16)[:, None] // 2 != np.arange(8)[None, :]]
    assert thr_d["threshold"] == pytest.approx(np.nextafter(cross.max(), np.inf), abs=1e-6)
    assert "3 of the subjects have a reference and no probe" in (out / "table1.md").read_text()


def test_identification_enrols_them_in_the_gallery(embeddings):
    tmp, path, rows = embeddings
    out, m = _run(tmp, path, "ident", "protocol=identification", "identification.nonmated_subjects=3",
                  "identification.max_rank=4")
    ident = m["identification"]
    split = ident["split"]
    assert (split["subjects"], split["enrolled"], split["held_out"], split["enrolled_reference_only"]) == (11, 8, 3, 3)
    assert not {"S0", "S1", "S2"} & set(split["held_out_subjects"])  # no probe: never a non-mated search
    held = set(split["held_out_subjects"])
    # the gallery by hand: every enrolled subject's one reference (S2 failed: no entry), the searches' ranks
    names = [r[1] for r in rows if r[2] == "reference" and r[1] not in held and r[1] != "S2"]
    g = np.stack([r[3] for r in rows if r[2] == "reference" and r[1] in names])
    ranks = []
    for sample, subject, role, x in rows:
        if role == "probe" and subject not in held:
            s = g @ x
            mate = names.index(subject)
            ranks.append(1 + int(np.sum(np.delete(s, mate) >= s[mate])))
    row = ident["rows"][0]
    assert row["mated_searches"] == len(ranks) == 10 and row["nonmated_searches"] == 6
    assert row["cmc"] == [float(np.mean(np.array(ranks) <= k)) for k in range(1, 5)]
    import pyarrow.parquet as pq  # S0 copies P0's first probe: that search's first candidate is S0, not its mate
    assert "P0" not in held
    cl = pq.read_table(out / "identification_candidates.parquet").to_pandas()
    first = cl[(cl["search"] == "P0/1.jpg") & (cl["rank"] == 1)]
    assert first["candidate_subject"].tolist() == ["S0"] and first["score"].tolist()[0] > 0.999
