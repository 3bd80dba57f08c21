"""The audit's "Several people" section (rendered from :func:`fr_eval.stages.audit_multi.multi_figures`): per
method the matching figures, per row and per named identity the CSVs."""
from __future__ import annotations

import math
from pathlib import Path

from . import numbers
from .html import Section, table_file
from .io import write_csv

ROW_COLUMNS = ["path", "method", "identities", "n_named", "n_faces", "status", "reason", "n_swaps", "n_blended",
               "n_missing", "n_extra", "swaps_assessed"]
FACE_COLUMNS = ["path", "method", "identity", "position", "face", "similarity", "verified", "swapped", "blended",
                "missing", "box_x1", "box_y1", "box_x2", "box_y2"]
RATES = (("Named identities verified (%)", "verified", "faces_named"), ("Rows with a swap (%)", "swap", "n_swap_assessed"),
         ("Rows with a blended face (%)", "blending", "n_rows"), ("Rows with a missing identity (%)", "missing", "n_rows"),
         ("Rows with an extra face (%)", "extra", "n_rows"))


def write_multi(out: Path, multi: dict, score: str, threshold: float, ordered: bool, min_units: int,
                provenance: dict | None = None) -> list[Section]:
    """generated_multi_methods.csv/.md, generated_multi.csv (a row per image), generated_multi_faces.csv (a row
    per named identity of each image) and their section."""
    write_csv(out / "generated_multi.csv", ROW_COLUMNS, [{**r, "identities": "|".join(r["names"])}
                                                         for r in multi["rows"]])
    write_csv(out / "generated_multi_faces.csv", FACE_COLUMNS, [f for r in multi["rows"] for f in _faces(r)])
    body = []
    for m in multi["methods"]:
        small = numbers.too_few(m["n_units"], min_units, "identity sets")
        line = [m["method"], str(m["n_rows"]), str(m["n_units"]) + (f" {small}" if small else ""),
                str(m["n_failed"]), f"{m['faces_found']} / {m['faces_named']}"]
        for _, key, count in RATES:
            n = m[count]
            line.append(numbers.pct(m[key], n) if small else numbers.with_interval(m[key], m["intervals"][key], n))
        body.append(line + [numbers.provenance_text((provenance or {}).get(f"{m['method']} (several people)"))])
    swap = ("the names are in the order of the faces from the left (generated.multi_order=left_to_right): a face "
            "matched to another name than its position's is a swap, assessed where the faces found equal those named"
            if ordered else "the names have no order (generated.multi_order=none): a face more like another named "
            "identity than the one it is matched to is a swap")
    table = table_file(out, "generated_multi_methods", [
        "Method", "Rows", "Identity sets", "Rows failed", "Faces found / named",
        *(name for name, _, _ in RATES), "Provenance"], body, "Several people in one image: matching per method", [
        f"Rows whose identity names several enrolled identities (a|b). Every face the judge finds ({score}) is "
        "matched to the named identities by the Hungarian assignment of largest total similarity "
        f"(scipy.optimize.linear_sum_assignment); a named identity is verified when its matched face scores at least "
        f"the threshold {threshold:.4f}; a named identity with no face (fewer faces than names) is missing, and not "
        f"verified. Swap: {swap}. Blending: a face verified as two or more of the named identities. Extra: faces "
        "beyond those named. Rows failed: no readable image or no face (every named identity missing). These rows "
        "are not in the single-identity tables. Intervals: 95%, resampling the rows' sets of identities (rows of the "
        f"same people are not independent); fewer than report.min_subjects={min_units} sets: figures without "
        "intervals, 'n too small'. Per image: generated_multi.csv; per named identity: generated_multi_faces.csv."])
    return [Section("multi", "Several people", [table])]


def _faces(r: dict) -> list[dict]:
    rows = []
    for j, name in enumerate(r["names"]):
        i = r["face_of"][j]
        box = r["faces"][i]["box"] if i >= 0 else ["", "", "", ""]
        sim = r["similarity"][j]
        rows.append({"path": r["path"], "method": r["method"], "identity": name, "position": j,
                     "face": i if i >= 0 else "", "similarity": "" if not math.isfinite(sim) else sim,
                     "verified": r["verified"][j], "swapped": i in r["swapped_faces"],
                     "blended": i in r["blended_faces"], "missing": i < 0,
                     **dict(zip(("box_x1", "box_y1", "box_x2", "box_y2"), box))})
    return rows
